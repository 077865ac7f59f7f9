/**
 * A `drop_oldest` input reaches a busy operator fresh: no more of its messages are posted ahead
 * into the worker (where nothing can drop them) than its `queue_size`, so a burst leaves the
 * operator the messages it was already given and the newest `queue_size`, not a backlog.
 * `backpressure` drops nothing.
 */
import t, { type Test } from 'tap'
import { fixture } from '../../fixtures/nodes.js'
import { waitFor } from '../../fixtures/wait-for.js'
import { dump, startInProcess, type InProcessRun } from '../../integration/fixtures/in-process.js'
import type { CustomNode } from '../../../runtime/supervisor/custom-node.js'

const COUNT = 50

function flow(input: string): string {
  return `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 2, GO_AFTER: 1 }
    outputs: [numbers]
  - id: burst
    env: { COUNT: "${COUNT}", BURST_ON: "2" }
    operator:
      javascript: ${fixture('burst-relay.mjs')}
      inputs:
        numbers: source/numbers
      outputs: [filled]
  - id: check
    operator:
      javascript: ${fixture('fill-check.mjs')}
      inputs:
        filled: ${input}
`
}

/**
 * Start the run and set the burst off once the checker's worker is running: a burst that came
 * while it was still starting would wait in its queue whole, and the queue would keep only the
 * newest (the source sends 1, which the relay ignores, and waits for SIGUSR1 to send 2).
 */
async function burstInto(t: Test, input: string): Promise<InProcessRun> {
  const run = await startInProcess(t, flow(input))
  await run.waitForLine(/^paused after 1$/)
  const check = run.run.findUnit('check')
  await waitFor(() => check?.status === 'running', { what: 'the checker to run', detail: () => dump(run.logs) })
  process.kill((run.run.findUnit('source') as CustomNode).pid!, 'SIGUSR1')
  return run
}

const checked = (lines: string[]): number[] => lines.filter((l) => l.startsWith('checked ')).map((l) => Number(l.split(' ')[1]))
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

for (const [queueSize, reliability] of [
  [1, 'reliable'],
  [3, 'reliable'],
  [1, 'best_effort'],
] as const) {
  t.test(`a burst of ${COUNT} into a queue_size: ${queueSize} ${reliability} input: the first ${queueSize} posted, then the newest ${queueSize}`, async (t) => {
    const run = await burstInto(t, `{ source: burst/filled, queue_size: ${queueSize}, reliability: ${reliability} }`)
    const result = await run.done
    t.ok(result.ok, dump(run.logs))
    // The burst is routed in one turn: the first queue_size go into the worker at once, each
    // later one displaces the oldest queued, so the queue ends with the newest queue_size.
    t.same(checked(run.lines('check')), [...range(1, queueSize), ...range(COUNT - queueSize + 1, COUNT)])
    t.same(result.dropped, { 'check/filled': COUNT - 2 * queueSize }, 'the rest were dropped, and counted')
  })
}

t.test('backpressure drops nothing of the burst', async (t) => {
  const run = await burstInto(t, `{ source: burst/filled, queue_size: 1, queue_policy: backpressure }`)
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  t.same(checked(run.lines('check')), range(1, COUNT))
  t.same(result.dropped, {})
})
