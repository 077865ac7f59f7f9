/**
 * `dora-ts run` end to end, how messages flow under load: drop_oldest queues, input_timeout
 * and InputRecovered, a deep queue behind a slow node, backpressure through a node and through
 * an operator, and a burst sent right before a node exits. The real CLI, nodes and operators,
 * as in run.test.ts; every wait is bounded and nothing asserts a duration.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, startCli } from './fixtures/cli.js'
import { dataflow, received, sourceToSink } from './fixtures/run-dataflows.js'
import { fixture } from '../fixtures/nodes.js'

t.test('queue_size with drop_oldest drops the oldest messages for a slow receiver and reports it', async (t) => {
  const { file } = dataflow(
    t,
    sourceToSink({ source: 'COUNT: 300', sink: 'DELAY_MS: 5', input: 'source: source/numbers, queue_size: 2, queue_policy: drop_oldest' }),
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  const values = received(result.stdout)
  t.ok(values.length < 300, `the slow sink saw ${values.length} of 300 messages`)
  t.equal(values.at(-1), 300, 'the newest message is never the one dropped')
  t.ok(
    values.every((v, i) => i === 0 || v > values[i - 1]!),
    'what arrives stays in order',
  )
  const dropped = /sink\/numbers: (\d+) messages dropped/.exec(result.stderr)
  t.ok(dropped, 'the run reports the drops')
  t.equal(Number(dropped?.[1]) + values.length, 300, 'every message was either delivered or counted as dropped')
})

t.test('input_timeout closes a silent input, and InputRecovered comes before the messages that come again', async (t) => {
  const dir = t.testdir({
    'pauser.mjs': `import { Node } from 'dora-ts'
// Two messages, then silence until the test has seen both receivers time out (it sends SIGUSR1),
// then two more: the pause is as long as the timeout needs, however loaded the machine.
const go = new Promise((resolve) => process.once('SIGUSR1', resolve))
const node = await Node.connect()
console.log('pid=' + process.pid)
await node.sendJson('numbers', 1)
await node.sendJson('numbers', 2)
await go
await node.sendJson('numbers', 3)
await node.sendJson('numbers', 4)
await node.close()
`,
    'watcher.mjs': `import { defineOperator } from 'dora-ts'
export default defineOperator({
  onInput(input, ctx) { ctx.log.info('got ' + input.id) },
  onInputClosed(event, ctx) { ctx.log.info('closed ' + event.id) },
  onEvent(event, ctx) { if (event.type === 'input-recovered') ctx.log.info('recovered ' + event.id) },
})
`,
    'dataflow.yml': '',
  })
  const { file } = { file: join(dir, 'dataflow.yml') }
  writeFileSync(
    file,
    `nodes:
  - id: pauser
    path: ${join(dir, 'pauser.mjs')}
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: pauser/numbers, input_timeout: 500ms }
  - id: watcher
    operator:
      javascript: ${join(dir, 'watcher.mjs')}
      inputs:
        numbers: { source: pauser/numbers, input_timeout: 500ms }
`,
  )
  const run = startCli(['run', file])
  const [, pid] = await run.waitFor(/\[pauser\] pid=(\d+)/)
  await run.waitFor(/\[sink\] closed numbers/)
  await run.waitFor(/\[watcher\] closed numbers/)
  process.kill(Number(pid), 'SIGUSR1')
  const result = await run.exited
  t.equal(result.code, 0, result.stderr)
  const sink = result.stdout.split('\n').filter((l) => l.startsWith('[sink] ') && !l.includes('pid='))
  // Two messages, the timeout closes the input, then it recovers with the next messages.
  t.same(
    sink.map((l) => l.replace(/ seq=.*/, '')),
    [
      '[sink] got numbers 1',
      '[sink] got numbers 2',
      '[sink] closed numbers',
      '[sink] recovered numbers',
      '[sink] got numbers 3',
      '[sink] got numbers 4',
      '[sink] closed numbers',
      '[sink] stop all-inputs-closed',
    ],
  )
  // The operator sees the same, the recovery through onEvent.
  const watcher = result.stdout.split('\n').filter((l) => l.startsWith('[watcher] '))
  t.same(watcher, [
    '[watcher] got numbers',
    '[watcher] got numbers',
    '[watcher] closed numbers',
    '[watcher] recovered numbers',
    '[watcher] got numbers',
    '[watcher] got numbers',
    '[watcher] closed numbers',
  ])
  t.match(result.stderr, /sink: input "numbers" got nothing for 0.5 s \(input_timeout\)/)
  t.match(result.stderr, /sink: input "numbers" recovered/)
})

t.test('a slow node with a deep queue loses nothing, even thousands of messages behind', async (t) => {
  // Regression: the supervisor sent a node its whole inbox per request, and ZeroMQ's ROUTER
  // silently dropped what exceeded the 1000-message high-water mark. (A queue this deep, not
  // backpressure: backpressure keeps the sender from getting thousands ahead.) The sink takes
  // at least 1 ms a message, so the source is done while the sink is a few hundred in: the
  // inbox is well over 1000 deep at the sink's next requests. Before, 5000 messages to a sink
  // as fast as it could go: 2.5x the time, and how deep the inbox got depended on the load.
  const total = 2000
  const { file } = dataflow(t, sourceToSink({ source: `COUNT: ${total}`, sink: 'DELAY_MS: 1', input: 'source: source/numbers, queue_size: 100000' }))
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  const values = received(result.stdout)
  t.equal(values.length, total)
  t.same(values.slice(-3), [total - 2, total - 1, total])
  t.notMatch(result.stderr, /dropped/)
})

/**
 * Messages of the two backpressure runs below. Enough that the bound they assert (the sink is
 * at most IN_FLIGHT behind when the last send returns) is far from what happens without
 * backpressure (the source done within a second, the sink (1 ms a message) a few hundred in):
 * 4000 - 2600 = 1400. 6000 before: a third more time, proving nothing more.
 */
const BACKPRESSURE_TOTAL = 4000
/**
 * How far the source may be ahead with backpressure: the queue (10), one batch the sink's SDK
 * fetched (at most 256) and what ZeroMQ had in flight when the pause reached it (its send and
 * receive buffers: up to about 2000 messages on a loaded machine).
 */
const IN_FLIGHT = 2600

/** "sent N; the sink had received R", as source.mjs prints it with COUNT_FILE. */
function sinkBehind(stdout: string): { sent: number; seen: number } {
  const match = /sent (\d+); the sink had received (\d+)/.exec(stdout)
  if (match === null) throw new Error(`the source printed no summary:\n${stdout}`)
  return { sent: Number(match[1]), seen: Number(match[2]) }
}

t.test('backpressure slows a fast node down to its slow receiver, and nothing is dropped', async (t) => {
  const { file, dir } = dataflow(t, '')
  const total = BACKPRESSURE_TOTAL
  writeFileSync(
    file,
    sourceToSink({
      source: `COUNT: ${total}, COUNT_FILE: ${join(dir, 'count')}`,
      sink: `DELAY_MS: 1, COUNT_FILE: ${join(dir, 'count')}`,
      input: 'source: source/numbers, queue_size: 10, queue_policy: backpressure',
    }),
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: total }, (_, i) => i + 1),
    'every message, in order',
  )
  const { sent, seen } = sinkBehind(result.stdout)
  t.equal(sent, total)
  t.ok(seen >= total - IN_FLIGHT, `the source was held back: the sink had ${seen} of ${total} when the last send returned`)
  t.notMatch(result.stderr, /dropped|paused by backpressure for/)
})

t.test('backpressure reaches back through an operator: a slow sink slows the operator, which slows the source', async (t) => {
  const { file, dir } = dataflow(t, '')
  const total = BACKPRESSURE_TOTAL
  writeFileSync(
    file,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${total}, COUNT_FILE: ${join(dir, 'count')} }
    outputs: [numbers]
  - id: plus
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs:
        numbers: { source: source/numbers, queue_size: 10, queue_policy: backpressure }
      outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    env: { DELAY_MS: 1, COUNT_FILE: ${join(dir, 'count')} }
    inputs:
      numbers: { source: plus/numbers, queue_size: 10, queue_policy: backpressure }
`,
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: total }, (_, i) => i + 2),
    'every message, in order',
  )
  const { seen } = sinkBehind(result.stdout)
  t.ok(seen >= total - IN_FLIGHT, `the source was held back: the sink had ${seen} of ${total} when the last send returned`)
  t.notMatch(result.stderr, /dropped|paused by backpressure for/)
})

t.test('a node that sends a burst and exits at once loses nothing: close() waits for the supervisor', async (t) => {
  // With no linger at all, whatever was still in the node's socket at close would be lost;
  // close() waits for the supervisor's outputs-closed, which comes after everything sent before.
  // 2500 messages are 2.5 times ZeroMQ's 1000-message high-water mark, so the socket still
  // holds some at close (20000, then 5000 before: a quarter of this file's time, proving
  // nothing more).
  const total = 2500
  const { file } = dataflow(t, sourceToSink({ source: `COUNT: ${total}, DORA_TS_NODE_LINGER_MS: 0`, input: 'source: source/numbers, queue_size: 100000' }))
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: total }, (_, i) => i + 1),
    'every message, the last ones too',
  )
})
