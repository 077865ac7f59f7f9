/**
 * 4. timer jitter: `dora/timer/millis/10` feeding an operator and a custom node; each records
 * when it handles every tick (its own clock) and reports the intervals between ticks, and
 * their deviation from 10 ms.
 */
import { join } from 'node:path'
import { fixture, freshDir, linesMatching, readJson, runDataflow, writeJson, type SectionContext } from './harness.js'
import { rounds } from './plans.js'
import { latencyFigure, type Figure } from './report.js'
import { medianOfRounds } from './stats.js'

const SECTION = 'timer'
const PERIOD_MS = 10

export async function benchTimer(ctx: SectionContext): Promise<Figure[]> {
  const dir = freshDir(ctx.tmp, 'timer')
  const plan = { warmup: ctx.quick ? 5 : 20, rounds: rounds(ctx.quick), count: ctx.quick ? 20 : 300 }
  const planFile = writeJson(join(dir, 'plan.json'), plan)
  const opOut = join(dir, 'op.json')
  const nodeOut = join(dir, 'node.json')
  const dataflow = {
    name: 'bench-timer',
    nodes: [
      {
        id: 'tick-op',
        env: { BENCH_PLAN: planFile, BENCH_OUT: opOut },
        operator: { javascript: fixture('tick-op.mjs'), inputs: { tick: `dora/timer/millis/${PERIOD_MS}` } },
      },
      {
        id: 'tick-node',
        path: fixture('tick-node.mjs'),
        env: { BENCH_PLAN: planFile, BENCH_OUT: nodeOut },
        inputs: { tick: `dora/timer/millis/${PERIOD_MS}` },
      },
    ],
  }
  ctx.progress(`timer ticks every ${PERIOD_MS} ms to an operator and a node`)
  await runDataflow(dir, dataflow, { timeoutMs: 120_000, until: (logs) => linesMatching(logs, /^BENCH_DONE/) >= 2 })
  const figures: Figure[] = []
  for (const [who, file] of [
    ['operator', opOut],
    ['node', nodeOut],
  ] as const) {
    const intervals = readJson<{ intervals: number[][] }>(file).intervals
    const common = { section: SECTION, unit: 'ms', rounds: intervals.length }
    figures.push(
      latencyFigure(
        { ...common, id: `${SECTION}.${who}.interval`, label: `tick interval (10 ms timer) at ${who === 'node' ? 'a custom node' : 'an operator'}` },
        medianOfRounds(intervals),
      ),
    )
    const deviation = intervals.map((round) => round.map((ms) => Math.abs(ms - PERIOD_MS) * 1000))
    figures.push(
      latencyFigure(
        { ...common, unit: 'µs', id: `${SECTION}.${who}.jitter`, label: `|interval - 10 ms| at ${who === 'node' ? 'a custom node' : 'an operator'}` },
        medianOfRounds(deviation),
      ),
    )
  }
  return figures
}
