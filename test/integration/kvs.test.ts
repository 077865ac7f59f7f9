/**
 * The shared KVS as an operator sees it, with the supervisor in-process: the KVS thread's
 * errors reach the operator's worker with their codes and classes. (The CLI and custom-node
 * side is in test/e2e/kvs.test.ts.)
 */
import t from 'tap'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

t.test('an operator gets KVS errors with their codes and classes; an uncaught one names its code', async (t) => {
  const kvsDir = join(t.testdir({}), 'kvs')
  const yaml = `nodes:
  - id: errors
    operator:
      javascript: ${fixture('kvs-errors-op.mjs')}
      inputs:
        tick: dora/timer/secs/10
`
  const flow = await startInProcess(t, yaml, { kvsDir })
  for (const line of [
    'empty key: code=DORA_KVS_BAD_KEY kvsError=true badKey=true',
    'long key: code=DORA_KVS_BAD_KEY kvsError=true badKey=true',
    'big value: code=DORA_KVS_VALUE_TOO_LARGE kvsError=true badKey=false',
    'not bytes: code=DORA_KVS_BAD_VALUE kvsError=true badKey=false',
  ]) {
    await flow.waitForLine(new RegExp(line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  }
  flow.run.stop()
  const done = await flow.done
  t.equal(done.ok, true, dump(flow.logs))

  const failing = await startInProcess(t, yaml.replace('operator:', 'env: { THROW: "1" }\n    operator:'), { kvsDir })
  const failed = await failing.done
  t.equal(failed.ok, false)
  t.match(failed.units[0]?.error, /failed to load .*cannot read from KVS namespace "dataflow" .*a key must not be empty \[DORA_KVS_BAD_KEY\]/)
})
