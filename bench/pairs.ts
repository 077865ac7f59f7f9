/**
 * Running a plan against dora-ts and a baseline, and turning ping/echo and stream results into
 * figures, for the node -> node and operator -> operator sections, which measure the same plans
 * against different baselines.
 */
import { sizeText, type LatencyResult, type Plan, type StreamResult } from './harness.js'
import { PACED_LABEL } from './plans.js'
import { latencyFigure, rateFigure, selfRatioFigure, type Figure } from './report.js'
import { medianOfRounds } from './stats.js'

type Rounds = Record<string, Record<string, unknown>>

/**
 * Measure each of `measures` (dora-ts, then its baseline) with one round of `plan` at a time,
 * alternating, `rounds` times, and merge each one's rounds. Alternating keeps a change in the
 * machine's state (other load, CPU frequency) from landing on one side only, so the ratio of
 * the two stays meaningful. Each round is a fresh dataflow (or pair), with its own warm-up.
 */
export async function alternating(plan: Plan, rounds: number, measures: ReadonlyArray<(plan: Plan) => Promise<Rounds>>): Promise<Rounds[]> {
  const one = { ...plan, phases: plan.phases.map((p) => ({ ...p, rounds: 1 })) } as Plan
  const merged: Rounds[] = measures.map(() => ({}))
  for (let r = 0; r < rounds; r++) {
    for (const [i, measure] of measures.entries()) {
      const into = merged[i] as Rounds
      for (const [label, fields] of Object.entries(await measure(one))) {
        const target = (into[label] ??= {})
        for (const [key, value] of Object.entries(fields)) {
          // Per-round arrays (round trips, elapsed times) add up; the rest is the same each time.
          target[key] = Array.isArray(value) ? [...((target[key] as unknown[] | undefined) ?? []), ...value] : (target[key] ?? value)
        }
      }
    }
  }
  return merged
}

export function roundTripFigures(section: string, dora: LatencyResult, base: LatencyResult | undefined, baselineLabel: string): Figure[] {
  return Object.entries(dora).flatMap(([label, r]) => {
    const b = base?.[label]
    const d = medianOfRounds(r.rtt)
    const bd = b === undefined ? undefined : medianOfRounds(b.rtt)
    const figure = latencyFigure(
      { id: `${section}.rtt.${label}`, section, label: `round trip ${sizeText(label)}`, unit: 'µs', rounds: r.rtt.length, baselineLabel },
      d,
      bd,
    )
    if (label !== PACED_LABEL || bd === undefined) return [figure]
    // The target "p99 <= 3x p50 at 1 KB, 1000 msg/s" is read on this, the baseline's own tail
    // beside it (bare zeromq.js's has read 3.2-5.5x on this VM: above the target itself).
    const tailFigure = selfRatioFigure(
      { id: `${section}.tail.${label}`, section, label: `p99 / p50 of the round trip ${sizeText(label)}`, rounds: r.rtt.length, baselineLabel },
      d.p99 / d.p50,
      bd.p99 / bd.p50,
    )
    return [figure, tailFigure]
  })
}

export function throughputFigures(section: string, dora: StreamResult, base: StreamResult | undefined, baselineLabel: string): Figure[] {
  const figures: Figure[] = []
  for (const [label, r] of Object.entries(dora)) {
    const b = base?.[label]
    const msgs = (x: { count: number; elapsedMs: number[] }): number[] => x.elapsedMs.map((ms) => x.count / (ms / 1000))
    const mbs = (x: { count: number; size: number; elapsedMs: number[] }): number[] => x.elapsedMs.map((ms) => (x.count * x.size) / 2 ** 20 / (ms / 1000))
    const common = { section, rounds: r.elapsedMs.length, samples: r.count, baselineLabel }
    figures.push(
      rateFigure({ ...common, id: `${section}.tput.${label}.msgs`, label: `one-way throughput ${sizeText(label)}`, unit: 'msg/s' }, msgs(r), b && msgs(b)),
    )
    figures.push(
      rateFigure({ ...common, id: `${section}.tput.${label}.mbs`, label: `one-way throughput ${sizeText(label)}`, unit: 'MB/s' }, mbs(r), b && mbs(b)),
    )
  }
  return figures
}
