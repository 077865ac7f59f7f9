/**
 * The shared LMDB environment per KVS directory: reference counting, and the process 'exit'
 * listener that closes environments left open, held only while one is open (importing the
 * KVS has no side effect).
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { openEnvironmentCount } from '../../../src/store/kvs/environment.js'
import { ROOT } from '../../e2e/fixtures/cli.js'

/** Run an ES module source in a fresh node; its stdout, checked to exit 0. */
function node(t: Test, source: string): string {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 30_000 })
  t.equal(result.status, 0, `the child exited 0: ${result.stderr}`)
  return result.stdout
}

const compiled = (file: string): string => pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'kvs', file)).href

t.test('importing the KVS registers no process exit listener', async (t) => {
  for (const file of ['store.js', 'environment.js', 'service-thread.js']) {
    const out = node(
      t,
      `
      const before = process.listenerCount('exit')
      await import(${JSON.stringify(compiled(file))})
      process.stdout.write(JSON.stringify([before, process.listenerCount('exit')]))
    `,
    )
    const [before, after] = JSON.parse(out) as [number, number]
    t.equal(after, before, `${file}: no listener added by the import`)
  }
})

t.test('the exit listener comes with the first open environment and goes with the last', async (t) => {
  const root = t.testdir({})
  const base = process.listenerCount('exit')
  const environments = openEnvironmentCount()
  const one = KvsStore.open({ dir: join(root, 'one') })
  t.equal(process.listenerCount('exit'), base + 1, 'added on the first open')
  const again = KvsStore.open({ dir: join(root, 'one') })
  const two = KvsStore.open({ dir: join(root, 'two') })
  t.equal(openEnvironmentCount(), environments + 2, 'two directories, two environments; a second store shares the first')
  t.equal(process.listenerCount('exit'), base + 1, 'one listener for every environment')
  one.close()
  two.close()
  t.equal(openEnvironmentCount(), environments + 1, 'the shared one stays open while a store uses it')
  t.equal(process.listenerCount('exit'), base + 1)
  again.close()
  t.equal(openEnvironmentCount(), environments)
  t.equal(process.listenerCount('exit'), base, 'removed with the last')
  again.close()
  t.equal(process.listenerCount('exit'), base, 'closing twice changes nothing')
})

t.test('a process that exits with its store open loses no write', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  node(
    t,
    `
    const { KvsStore } = await import(${JSON.stringify(compiled('store.js'))})
    KvsStore.open({ dir: ${JSON.stringify(dir)} }).namespace('n').write('k', Buffer.from('v'))
    // no close(): the exit listener closes the environment
  `,
  )
  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  t.equal(Buffer.from(store.namespace('n').read('k') ?? []).toString(), 'v')
})
