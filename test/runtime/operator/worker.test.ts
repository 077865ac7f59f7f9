/**
 * An operator's worker thread loads no native addon: `import { defineOperator } from 'dora-ts'`
 * resolves to the SDK's operator entry there (the `dora-ts-operator` export condition), and
 * the worker itself reaches the KVS through the supervisor's KVS thread.
 */
import t from 'tap'
import { fixture } from '../../fixtures/nodes.js'
import { dump, startInProcess } from '../../integration/fixtures/in-process.js'

t.test("an operator's worker has loaded neither zeromq nor lmdb (nor any other native addon)", async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: probe
    operator:
      javascript: ${fixture('addon-probe.mjs')}
      inputs:
        tick: dora/timer/secs/10
`,
  )
  await flow.waitForLine(/^openKvs: /)
  const report = flow.lines('probe')
  t.same(report, ['native modules: []', 'Node.connect: DORA_NODE_CONNECT', 'openKvs: DORA_KVS_OPEN'], dump(flow.logs))
  flow.run.stop()
  t.ok((await flow.done).ok, dump(flow.logs))
})
