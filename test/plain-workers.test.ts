/**
 * The test harness itself (test/fixtures/plain-workers.mjs, loaded by .taprc): a thread a test
 * starts runs without tap's preloads. tap's typescript preload loaded ts-node into each such
 * thread on Node 20 (its plugin sets TAP_TYPE_STRIP_ONLY=0 after the test process read 1), at
 * 0.5-0.8 s a thread; processinfo's registered a module loader in each. If a tap upgrade
 * renames either preload, this fails instead of the suite quietly slowing down.
 */
import t from 'tap'
import { Worker } from 'node:worker_threads'

t.test("a thread a test starts gets neither tap's processinfo nor its typescript preload", async (t) => {
  const code = `
    const { parentPort } = require('node:worker_threads')
    parentPort.postMessage({ execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS ?? '' })
  `
  const worker = new Worker(code, { eval: true })
  const seen = await new Promise<{ execArgv: string[]; nodeOptions: string }>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  const tapPreload = /@tapjs[\\/](processinfo|typescript)/
  t.same(
    seen.execArgv.filter((word) => tapPreload.test(word)),
    [],
    'no tap preload in its execArgv',
  )
  t.notMatch(seen.nodeOptions, tapPreload, 'nor in its NODE_OPTIONS')
  // The test process itself does run under tap's preloads: what the harness removes is there.
  t.ok(process.execArgv.some((word) => tapPreload.test(word)) || /@tapjs/.test(process.env['NODE_OPTIONS'] ?? ''), 'this process has them')
})
