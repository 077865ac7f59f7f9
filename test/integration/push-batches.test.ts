/**
 * Several inputs per ZeroMQ message (issue 15): when a credit opens a pushed node's window over
 * a backlog, the inputs waiting go out in `inputs` batches. The node here speaks the protocol
 * itself (test/fixtures/nodes/batch-probe.mjs) to see the framing the SDK hides. What batching
 * must not change: every input once, in order, and each one consumed on its own, so a node
 * SIGKILLed in the middle of a batch gets exactly the unconsumed rest after its restart.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

interface Line {
  life: number
  value: number
  redelivered: boolean
  batch: number
}

const COUNT = 150
const CONSUMED = 40

t.test('a burst reaches a pushed node in batches, in order; killed mid-batch, it gets exactly the unconsumed rest again', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const done = join(dir, 'source-done')
  // The sink grants a window of 1 and holds input 1 until every send of the source resolved:
  // 2..150 wait in the supervisor, then go at once when the sink opens its window.
  // The probe speaks the protocol itself, without the SDK's link logs: through the supervisor.
  const flow = await startInProcess(
    t,
    `_unstable_direct_links: false
nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: ${COUNT}, DONE_FILE: ${JSON.stringify(done)} }
    outputs: [numbers]
  - id: sink
    path: ${fixture('batch-probe.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)}, DONE_FILE: ${JSON.stringify(done)}, CONSUME_UP_TO: ${CONSUMED} }
    inputs:
      numbers: { source: source/numbers, queue_size: 1000 }
    restart_policy: on-failure
    restart_delay: 1ms
`,
    { dir },
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.match(flow.lines('dora-ts').join('\n'), /sink was killed by SIGKILL \(not sent by dora-ts: [^)]*\); restarting/)
  const lines = readFileSync(record, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line)
  const first = lines.filter((l) => l.life === 0)
  const second = lines.filter((l) => l.life === 1)
  t.same(
    first.map((l) => l.value),
    Array.from({ length: COUNT }, (_, i) => i + 1),
    'the first process was sent every input once, in order',
  )
  t.equal(first[0]?.batch, 1, 'input 1 came alone (a window of 1)')
  const batched = first.filter((l) => l.batch > 1)
  t.ok(batched.length >= COUNT - 1 - 1, `the backlog came in batches (${batched.length} of ${COUNT - 1} inputs shared a message)`)
  t.ok(
    first.every((l) => l.batch <= 64),
    'no message held more than 64 inputs',
  )
  t.same(
    second.map((l) => l.value),
    Array.from({ length: COUNT - CONSUMED }, (_, i) => CONSUMED + 1 + i),
    `after the SIGKILL, the restarted process got exactly ${CONSUMED + 1}..${COUNT}: what it had been sent and not consumed, in order`,
  )
  t.ok(
    second.every((l) => l.redelivered),
    'each of them marked redelivered',
  )
  t.ok(
    second.some((l) => l.batch > 1),
    'the replay was batched too',
  )
})

t.test('a node that speaks the protocol itself is refused, saying how to opt out, when the dataflow links it directly', async (t) => {
  const dir = t.testdir({})
  const done = join(dir, 'source-done')
  // Both ends run by node: a reliable direct link by default, which the probe does not keep.
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: 3, DONE_FILE: ${JSON.stringify(done)} }
    outputs: [numbers]
  - id: sink
    path: ${fixture('batch-probe.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'record.jsonl'))}, DONE_FILE: ${JSON.stringify(done)}, CONSUME_UP_TO: 3 }
    inputs:
      numbers: source/numbers
`,
    { dir },
  )
  const result = await flow.done
  t.notOk(result.ok, 'the sink failed')
  const refusal = flow.logs.find((l) => l.source === 'dora-ts' && l.level === 'error' && l.text.includes('did not register as keeping reliable direct links'))
  t.ok(refusal, dump(flow.logs))
  t.match(refusal?.text ?? '', /node "sink" .*its input "numbers" from source\/numbers.*`_unstable_direct_links: false`/)
})
