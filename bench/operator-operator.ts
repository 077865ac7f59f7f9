/**
 * 2. operator -> operator: two operators, each in its own worker thread of the supervisor
 * (worker -> main thread -> worker over MessagePorts, each way). Same plans as node -> node;
 * latency payloads are sent with `transfer`. Baseline: two bare worker threads talking over one
 * MessagePort, transferring where the operators transfer.
 *
 * 2b. operator -> operator, best effort: the same pair with both inputs `reliability:
 * best_effort` (routed outside the outbox, large payloads moved into the receiving worker).
 *
 * 2c. operator -> operator, linked: the best-effort pair with `_unstable_direct_links: true`,
 * each worker posting straight to the other (runtime/operator/operator-links.ts).
 */
import { doraPair, freshDir, portBaseline, type LatencyResult, type PairPath, type Plan, type SectionContext, type StreamResult } from './harness.js'
import { alternating, roundTripFigures, throughputFigures } from './pairs.js'
import { latencyPhases, pacedPhase, streamPhases } from './plans.js'
import type { Figure } from './report.js'

const BASELINE = 'MessagePort'

export function benchOperatorOperator(ctx: SectionContext): Promise<Figure[]> {
  return benchOperatorPair(ctx, 'operator-operator', 'supervisor')
}

export function benchOperatorBestEffort(ctx: SectionContext): Promise<Figure[]> {
  return benchOperatorPair(ctx, 'operator-operator-best-effort', 'best-effort')
}

export function benchOperatorLinked(ctx: SectionContext): Promise<Figure[]> {
  return benchOperatorPair(ctx, 'operator-operator-linked', 'best-effort-direct')
}

async function benchOperatorPair(ctx: SectionContext, section: string, path: PairPath): Promise<Figure[]> {
  const latency: Plan = { mode: 'latency', phases: [...latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB']), pacedPhase(ctx.quick)] }
  const stream: Plan = { mode: 'stream', phases: streamPhases(ctx.quick) }
  const op = (script: string) => ({ kind: 'operator', script }) as const

  const what =
    path === 'best-effort' ? 'best-effort operator -> operator' : path === 'best-effort-direct' ? 'linked operator -> operator' : 'operator -> operator'
  const rounds = latency.phases[0]?.rounds ?? 1
  ctx.progress(`${what} round trips, dora-ts and bare MessagePort alternating (${rounds} rounds)`)
  const [dora, base] = (await alternating(latency, rounds, [
    (plan) => doraPair(freshDir(ctx.tmp, `${path}-rtt`), op('op-ping.mjs'), op('op-echo.mjs'), plan, 240_000, path),
    (plan) => portBaseline(plan, 240_000),
  ])) as [LatencyResult, LatencyResult]
  ctx.progress(`${what} throughput, dora-ts and bare MessagePort alternating (${rounds} rounds)`)
  const [doraStream, baseStream] = (await alternating(stream, rounds, [
    (plan) => doraPair(freshDir(ctx.tmp, `${path}-stream`), op('op-ping.mjs'), op('op-echo.mjs'), plan, 240_000, path),
    (plan) => portBaseline(plan, 240_000),
  ])) as [StreamResult, StreamResult]

  return [...roundTripFigures(section, dora, base, BASELINE), ...throughputFigures(section, doraStream, baseStream, BASELINE)]
}
