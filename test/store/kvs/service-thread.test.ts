/**
 * The KVS thread's entry module serves only when it runs as the KVS thread; what it serves is
 * tested through KvsService and KvsRemote in service.test.ts.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from '../../e2e/fixtures/cli.js'

const entry = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'kvs', 'service-thread.js')).href

t.test('imported outside the KVS thread it does nothing: no listener, nothing keeps the process alive', async (t) => {
  for (const where of ['the main thread', 'another worker']) {
    const source =
      where === 'the main thread'
        ? `await import(${JSON.stringify(entry)})`
        : `const { Worker } = await import('node:worker_threads')
           const w = new Worker(${JSON.stringify(`import(${JSON.stringify(entry)})`)}, { eval: true, workerData: { other: true } })
           w.once('error', (e) => { console.error(e); process.exitCode = 1 })`
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 30_000 })
    t.equal(result.status, 0, `${where}: the process ended on its own: ${result.stderr}`)
  }
})
