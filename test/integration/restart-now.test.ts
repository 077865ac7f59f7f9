/**
 * `dora-ts restart NAME NODE` (Unit.restartNow) in the middle of a stream: a custom node and an
 * operator are restarted three and two times, whatever their restart policy (`never`), and
 * nothing is lost: a source's numbers through an operator (+1) into a sink that dedups by
 * messageId reach the sink, each once after dedup. Real processes and worker threads.
 */
import t from 'tap'
import { join } from 'node:path'
import { readJsonl } from '../fixtures/jsonl.js'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import { dump, startInProcess } from './fixtures/in-process.js'

const COUNT = 300

interface Received {
  value: number
  dup: boolean
}

t.test('a node and an operator restarted on request mid-stream lose nothing, whatever their policy', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const received = (): Received[] => readJsonl<Received>(record)
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${COUNT}, DELAY_MS: 3 }
    outputs: [numbers]
  - id: plus
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs: { numbers: { source: source/numbers, queue_size: 100000 } }
      outputs: [numbers]
      restart_policy: never
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
      numbers: { source: plus/numbers, queue_size: 100000 }
`,
    { dir },
  )
  // Each restart once the sink has recorded 30 more since the last, mid-stream, never at its
  // end, and once the unit runs again: under load the sink had recorded enough for three
  // restarts before the test looked, and the third (plus again) came while plus still waited
  // out its first, which it then merely hastened (one restart, not two).
  const plan = ['sink', 'plus', 'sink', 'plus', 'sink']
  let recorded = 0
  for (const [i, name] of plan.entries()) {
    const unit = flow.run.findUnit(name)!
    const at = recorded + 30
    await waitFor(() => received().length >= at && unit.status === 'running', {
      what: `the sink to record ${at} numbers, and ${name} to run`,
      detail: () => dump(flow.logs),
    })
    recorded = received().length
    t.equal(unit.restartNow('is being restarted on purpose (dora-ts restart)'), undefined, `${name} restarts (${i + 1})`)
  }
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.equal(flow.run.findUnit('sink')!.restartCount, 3)
  t.equal(flow.run.findUnit('plus')!.restartCount, 2)
  const handled = received().filter((r) => !r.dup)
  t.same(
    handled.map((r) => r.value).sort((a, b) => a - b),
    Array.from({ length: COUNT }, (_, i) => i + 2),
    'every number, plus one, handled once',
  )
  // Ended, it cannot be restarted.
  t.equal(flow.run.findUnit('sink')!.restartNow('again'), 'it has ended for good')
})
