/**
 * `dora-ts stop NAME NODE` (DataflowRun.stopUnit): one custom node and then one operator get
 * Stop and end for good, whatever their restart_policy, while the rest runs on; their receivers
 * see the inputs close, and the run ends once every node has. Real processes and worker threads.
 */
import t from 'tap'
import { join } from 'node:path'
import { readJsonl } from '../fixtures/jsonl.js'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import { dump, startInProcess } from './fixtures/in-process.js'

interface Line {
  id?: string
  closed?: string
}

t.test('a node and then an operator stopped alone end for good; their receivers see their inputs close', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const lines = (): Line[] => readJsonl<Line>(record)
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000000, DELAY_MS: 20 }
    outputs: [numbers]
    restart_policy: always
  - id: ticker
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { tick: dora/timer/millis/20 }
      outputs: [seen]
  - id: sink
    path: ${fixture('record-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
      numbers: source/numbers
      ticks: ticker/seen
`,
    { dir },
  )
  const has = (id: string): boolean => lines().some((l) => l.id === id)
  await waitFor(() => has('numbers') && has('ticks'), { what: 'numbers and ticks at the sink', detail: () => dump(flow.logs) })

  const source = flow.run.findUnit('source')!
  const stopped = flow.run.stopUnit(source)
  t.notOk('refused' in stopped, 'the source can be stopped')
  t.match(await stopped, { unit: 'source', status: 'finished' }, 'it ended cleanly')
  t.equal(source.status, 'finished', 'and stays ended: restart_policy always does not start it again')
  t.equal(source.restartCount, 0)
  await waitFor(() => lines().some((l) => l.closed === 'numbers'), { what: "the sink's numbers input to close", detail: () => dump(flow.logs) })
  // The rest runs on: ticks keep coming after the close.
  const closedAt = lines().findIndex((l) => l.closed === 'numbers')
  await waitFor(
    () =>
      lines()
        .slice(closedAt)
        .some((l) => l.id === 'ticks'),
    { what: 'a tick after the close', detail: () => dump(flow.logs) },
  )
  t.notOk(flow.run.finished)
  t.same(flow.run.stopUnit(source), { refused: 'it has ended' }, 'an ended node is refused')

  // The operator: its receiver's last input closes, so the sink gets Stop and the run ends.
  const ticker = flow.run.findUnit('ticker')!
  const tickerStopped = flow.run.stopUnit(ticker)
  t.notOk('refused' in tickerStopped)
  t.match(await tickerStopped, { unit: 'ticker', status: 'finished' })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.same(result.units.map((u) => [u.unit, u.status]).sort(), [
    ['sink', 'finished'],
    ['source', 'finished'],
    ['ticker', 'finished'],
  ])
  t.ok(
    lines().some((l) => l.closed === 'ticks'),
    'the sink saw ticks close too',
  )
  t.same(flow.run.stopUnit(ticker), { refused: 'its dataflow has ended' }, 'after the run ended, refused')
})

t.test('a node held back by backpressure still ends cleanly when stopped alone', async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000000 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('idle-sink.mjs')}
    inputs:
      numbers: { source: source/numbers, queue_size: 4, queue_policy: backpressure }
`,
  )
  const sink = flow.run.findUnit('sink')!
  // Full: the source's sends wait (flow-control.ts), its program inside one.
  await waitFor(() => sink.inbox.queued('numbers') >= 4, { what: "the sink's queue to fill", detail: () => dump(flow.logs) })
  const stopped = flow.run.stopUnit(flow.run.findUnit('source')!)
  t.notOk('refused' in stopped)
  t.match(await stopped, { unit: 'source', status: 'finished' }, 'its send went on, it saw its Stop and ended: not terminated at the grace period')
  t.notMatch(dump(flow.logs), /source did not stop within/)
})
