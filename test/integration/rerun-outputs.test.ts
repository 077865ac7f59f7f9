/**
 * An operator that crashes after sending, before its event commits, handles that event again
 * after its restart: what the second attempt sends is the first delivery of those messages
 * (nothing is routed before its event commits), so a custom sink gets each once and none
 * marked redelivered. Real worker thread, real child processes.
 */
import t from 'tap'
import { join } from 'node:path'
import { readJsonl } from '../fixtures/jsonl.js'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

const COUNT = 20

interface Received {
  value: number
  messageId: string
  redelivered: boolean
  dup: boolean
}

t.test('the outputs of an event run again after a crash reach the sink once, not marked redelivered', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${COUNT}, DELAY_MS: 5 }
    outputs: [numbers]
  - id: plus
    env: { CRASH_ONCE_ON: 5 }
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs: { numbers: { source: source/numbers, queue_size: 1000 } }
      outputs: [numbers]
      restart_policy: on-failure
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
      numbers: { source: plus/numbers, queue_size: 1000 }
`,
    { dir },
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.equal(flow.run.findUnit('plus')!.restartCount, 1, 'the operator crashed once and came back')
  t.match(dump(flow.logs), /crashing once after sending 6/)
  const received = readJsonl<Received>(record)
  t.same(
    received.map((r) => r.value),
    Array.from({ length: COUNT }, (_, i) => i + 2),
    'every number plus one, once, in order',
  )
  t.same(
    received.filter((r) => r.redelivered || r.dup).map((r) => `${r.value} ${r.messageId}`),
    [],
    'none marked redelivered: no receiver saw the crashed attempt’s output',
  )
})
