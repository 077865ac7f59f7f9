/**
 * 3. node <-> operator: a custom node pings an operator, which echoes. The node measures the
 * round trip with its own clock; each one-way leg comes from the echo's wall-clock stamp
 * (node and supervisor run on the same machine and read the same clock, see fixtures/lib.mjs),
 * so node -> operator and operator -> node are reported separately.
 */
import { doraPair, freshDir, sizeText, type LatencyResult, type Plan, type SectionContext } from './harness.js'
import { latencyPhases } from './plans.js'
import { latencyFigure, type Figure } from './report.js'
import { medianOfRounds } from './stats.js'

const SECTION = 'node-operator'

export async function benchNodeOperator(ctx: SectionContext): Promise<Figure[]> {
  const plan: Plan = { mode: 'latency', phases: latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB', '16MB']) }
  ctx.progress('node <-> operator round trips')
  const result = await doraPair<LatencyResult>(
    freshDir(ctx.tmp, 'rtt'),
    { kind: 'node', script: 'node-ping.mjs' },
    { kind: 'operator', script: 'op-echo.mjs' },
    plan,
    600_000,
  )
  const figures: Figure[] = []
  for (const [label, r] of Object.entries(result)) {
    const common = { section: SECTION, unit: 'µs', rounds: r.rtt.length }
    figures.push(latencyFigure({ ...common, id: `${SECTION}.n2o.${label}`, label: `node -> operator ${sizeText(label)} (one way)` }, medianOfRounds(r.leg1)))
    figures.push(latencyFigure({ ...common, id: `${SECTION}.o2n.${label}`, label: `operator -> node ${sizeText(label)} (one way)` }, medianOfRounds(r.leg2)))
    figures.push(
      latencyFigure({ ...common, id: `${SECTION}.rtt.${label}`, label: `node -> operator -> node ${sizeText(label)} (round trip)` }, medianOfRounds(r.rtt)),
    )
  }
  return figures
}
