/**
 * 5. fan-out: one custom node sends 1 KB messages (paced, 200/s) to 1, 4 and 16 custom-node
 * receivers, once all of them are up. Each receiver computes the one-way latency of every message from the sender's
 * monotonic-clock stamp (one machine, one clock); the figure pools all receivers of a round.
 */
import { join } from 'node:path'
import { fixture, freshDir, readJson, runDataflow, writeJson, type SectionContext } from './harness.js'
import { rounds } from './plans.js'
import { latencyFigure, type Figure } from './report.js'
import { medianOfRounds } from './stats.js'

const SECTION = 'fan-out'
export const FAN_OUT = [1, 4, 16] as const
/**
 * Messages sent before the recorded rounds: 12 s at 200/s. The receivers run the same code on
 * the same messages, so V8 finds the same functions hot at the same moment in every one of
 * them and compiles them (TurboFan, on each process's worker threads) all at once: with 50
 * (250 ms) or 600 (3 s), 16 receivers on 2 cores spent whole seconds of the rounds compiling,
 * and the messages then waited 20-90 ms (perf: those threads, not the programs, held both
 * cores). Those bursts end within ~10 s of the start; the figure is the steady state after them
 * (bench/RESULTS.md, "Fan-out: sixteen receivers compile at once").
 */
export const FAN_OUT_WARMUP = 2_400
/** --quick: enough to show the figure grows with the receivers, without 16 node processes. */
export const FAN_OUT_QUICK = [1, 4] as const

export async function benchFanOut(ctx: SectionContext): Promise<Figure[]> {
  return fanOut(ctx, SECTION, 'supervisor')
}

/**
 * The receivers' inputs: reliable with backpressure through the supervisor, `reliability:
 * best_effort` (straight from the sender, issue 15), or reliable on direct links
 * (`_unstable_direct_links`: straight from the sender, through its link log).
 */
export type FanOutPath = 'supervisor' | 'best-effort' | 'direct'

const FAN_INPUT: Record<FanOutPath, object> = {
  supervisor: { source: 'src/out', queue_size: 10_000, queue_policy: 'backpressure' },
  'best-effort': { source: 'src/out', queue_size: 10_000, reliability: 'best_effort' },
  direct: { source: 'src/out', queue_size: 10_000 },
}

/** The fan-out figures of `section`, the receivers' inputs on `path`. */
export async function fanOut(ctx: SectionContext, section: string, path: FanOutPath): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const receivers of ctx.quick ? FAN_OUT_QUICK : FAN_OUT) {
    const dir = freshDir(ctx.tmp, `${section}-fan-${receivers}`)
    const plan = { size: 1024, warmup: ctx.quick ? 5 : FAN_OUT_WARMUP, rounds: rounds(ctx.quick), count: ctx.quick ? 20 : 300, intervalMs: 5 }
    const planFile = writeJson(join(dir, 'plan.json'), plan)
    const sinks = Array.from({ length: receivers }, (_, i) => `sink-${i}`)
    const dataflow = {
      name: 'bench-fan-out',
      ...(path === 'direct' ? { _unstable_direct_links: true } : {}),
      nodes: [
        // The sender starts once every receiver has said it is ready (the `ready` inputs).
        {
          id: 'src',
          path: fixture('fan-src.mjs'),
          env: { BENCH_PLAN: planFile },
          inputs: Object.fromEntries(sinks.map((id) => [id, `${id}/ready`])),
          outputs: ['out'],
        },
        ...sinks.map((id) => ({
          id,
          path: fixture('fan-sink.mjs'),
          env: { BENCH_OUT: join(dir, `${id}.json`) },
          inputs: { in: FAN_INPUT[path] },
          outputs: ['ready'],
        })),
      ],
    }
    ctx.progress(`fan-out to ${receivers} receivers`)
    await runDataflow(dir, dataflow, { timeoutMs: 120_000 })
    const perSink = sinks.map((id) => readJson<{ latency: Array<number | null> }>(join(dir, `${id}.json`)).latency)
    const pooled: number[][] = []
    for (let r = 0; r < plan.rounds; r++) {
      const round: number[] = []
      for (const latency of perSink) {
        for (let k = 0; k < plan.count; k++) {
          const value = latency[plan.warmup + r * plan.count + k]
          if (typeof value === 'number') round.push(value)
        }
      }
      pooled.push(round)
    }
    figures.push(
      latencyFigure(
        {
          id: `${section}.${receivers}`,
          section,
          label: `1 KB to ${receivers} receiver${receivers === 1 ? '' : 's'} (one way, all receivers)`,
          unit: 'µs',
          rounds: plan.rounds,
        },
        medianOfRounds(pooled),
      ),
    )
  }
  return figures
}
