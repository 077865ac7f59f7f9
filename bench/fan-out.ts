/**
 * 5. fan-out: one custom node sends 1 KB messages (paced, 200/s) to 1, 4 and 16 custom-node
 * receivers, once all of them are up. Each receiver computes the one-way latency of every message from the sender's
 * monotonic-clock stamp (one machine, one clock); the figure pools all receivers of a round.
 * Baseline: the same plan between bare zeromq.js processes (one PUSH per receiver), run right
 * after dora-ts's at each receiver count, so the spread from 1 to 16 receivers that the
 * machine itself gives (16 processes woken per message on its cores) is read beside dora-ts's.
 */
import { join } from 'node:path'
import { fixture, freshDir, readJson, runDataflow, runProcess, socketDir, writeJson, type LatencyPhase, type SectionContext } from './harness.js'
import { rounds } from './plans.js'
import { latencyFigure, selfRatioFigure, type Figure } from './report.js'
import { medianOfRounds, type Distribution } from './stats.js'

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

/** A latency phase without its label (one plan per receiver count), always paced (fan-src.mjs, zmq-fan.mjs). */
type FanOutPlan = Omit<LatencyPhase, 'label'> & Required<Pick<LatencyPhase, 'intervalMs'>>

const BASELINE = 'zeromq.js'

/** The fan-out figures of `section`, the receivers' inputs on `path`, each with its bare zeromq.js baseline. */
export async function fanOut(ctx: SectionContext, section: string, path: FanOutPath): Promise<Figure[]> {
  const figures: Figure[] = []
  const counts = ctx.quick ? FAN_OUT_QUICK : FAN_OUT
  const p99s: Array<{ receivers: number; dora: number; bare: number }> = []
  for (const receivers of counts) {
    const dir = freshDir(ctx.tmp, `${section}-fan-${receivers}`)
    const plan: FanOutPlan = { size: 1024, warmup: ctx.quick ? 5 : FAN_OUT_WARMUP, rounds: rounds(ctx.quick), count: ctx.quick ? 20 : 300, intervalMs: 5 }
    const planFile = writeJson(join(dir, 'plan.json'), plan)
    ctx.progress(`fan-out to ${receivers} receivers`)
    const dora = pooledRounds(plan, await doraFanOut(dir, planFile, receivers, path))
    ctx.progress(`fan-out to ${receivers} receivers, bare zeromq.js`)
    const bare = pooledRounds(plan, await zmqFanOut(freshDir(ctx.tmp, `${section}-zmq-fan-${receivers}`), planFile, receivers))
    p99s.push({ receivers, dora: dora.p99, bare: bare.p99 })
    figures.push(
      latencyFigure(
        {
          id: `${section}.${receivers}`,
          section,
          label: `1 KB to ${receivers} receiver${receivers === 1 ? '' : 's'} (one way, all receivers)`,
          unit: 'µs',
          rounds: plan.rounds,
          baselineLabel: BASELINE,
        },
        dora,
        bare,
      ),
    )
  }
  // The target is read on this: the p99 with the most receivers over the p99 with one.
  const one = p99s[0]
  const most = p99s[p99s.length - 1]
  if (one !== undefined && most !== undefined && most !== one) {
    figures.push(
      selfRatioFigure(
        {
          id: `${section}.spread`,
          section,
          label: `p99 with ${most.receivers} receivers / p99 with ${one.receivers}`,
          rounds: rounds(ctx.quick),
          baselineLabel: BASELINE,
        },
        most.dora / one.dora,
        most.bare / one.bare,
      ),
    )
  }
  return figures
}

/** Run the dataflow of one sender and `receivers` sinks; each sink's latency by message index. */
async function doraFanOut(dir: string, planFile: string, receivers: number, path: FanOutPath): Promise<Array<Array<number | null>>> {
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
  await runDataflow(dir, dataflow, { timeoutMs: 120_000 })
  return sinks.map((id) => readJson<{ latency: Array<number | null> }>(join(dir, `${id}.json`)).latency)
}

/** The same plan between bare zeromq.js processes (bench/fixtures/zmq-fan.mjs). */
async function zmqFanOut(dir: string, planFile: string, receivers: number): Promise<Array<Array<number | null>>> {
  const sockets = socketDir()
  try {
    const env = { BENCH_PLAN: planFile, DIR: sockets.path, RECEIVERS: String(receivers) }
    const script = fixture('zmq-fan.mjs')
    const outs = Array.from({ length: receivers }, (_, i) => join(dir, `sink-${i}.json`))
    await Promise.all([
      runProcess(script, [], { ...env, ROLE: 'src' }, 120_000),
      ...outs.map((out, i) => runProcess(script, [], { ...env, ROLE: 'sink', INDEX: String(i), BENCH_OUT: out }, 120_000)),
    ])
    return outs.map((out) => readJson<{ latency: Array<number | null> }>(out).latency)
  } finally {
    sockets.release()
  }
}

/** Each recorded round's latencies, pooled over the receivers, summarised as the figures are. */
function pooledRounds(plan: FanOutPlan, perSink: ReadonlyArray<ReadonlyArray<number | null>>): Distribution {
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
  return medianOfRounds(pooled)
}
