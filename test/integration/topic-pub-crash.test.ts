/**
 * A message `dora-ts topic pub` put on an output (DataflowRun.publish) that crashes the
 * operator handling it is handled again after the restart, marked redelivered, as any input
 * while the supervisor runs; and the operator's own ids go on undisturbed by its id. Real
 * worker threads and processes.
 */
import t from 'tap'
import { join } from 'node:path'
import { readJsonl } from '../fixtures/jsonl.js'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import { dump, startInProcess } from './fixtures/in-process.js'

interface Received {
  id: string
  value: unknown
  messageId: string
}

t.test('a published message that crashes its operator is handled again after the restart, once', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const received = (): Received[] => readJsonl<Received>(record)
  const flow = await startInProcess(
    t,
    `nodes:
  - id: src
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000, DELAY_MS: 60000 }
    outputs: [numbers]
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { n: src/numbers }
      outputs: [count]
    env: { CRASH_AT: "1000" }
  - id: sink
    path: ${fixture('record-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs: { count: counter/count }
`,
    { dir },
  )
  // The source's first number, counted.
  await waitFor(() => received().length === 1, { what: 'the first count', detail: () => dump(flow.logs) })
  const crashing = flow.run.publish('src/numbers', Buffer.from('1000'), 'json')
  t.match(crashing, { delivered: ['counter/n'], notDelivered: [] })
  await flow.waitForLine(/redelivered input value=1000/)
  const next = flow.run.publish('src/numbers', Buffer.from('5'), 'json')
  t.match(next, { delivered: ['counter/n'] })
  await waitFor(() => received().length === 3, { what: 'three counts', detail: () => dump(flow.logs) })
  t.same(
    received().map((r) => r.value),
    [1, 2, 3],
    'the crashed message counted once, then the next',
  )
  t.same(
    received().map((r) => r.messageId),
    ['1.0', '2.0', '3.0'],
    "the operator's own ids, one per event (the re-run event keeps its id)",
  )
  t.match(flow.lines('dora-ts').join('\n'), /counter crashed: injected crash at input 1000/)
  flow.run.stop()
  await flow.done
  t.match(flow.lines('counter').join('\n'), /final count=3 sum=1006/, '1 + 1000 + 5')
})
