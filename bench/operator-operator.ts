/**
 * 2. operator -> operator: two operators, each in its own worker thread of the supervisor
 * (worker -> main thread -> worker over MessagePorts, each way). Same plans as node -> node;
 * latency payloads are sent with `transfer`. Baseline: two bare worker threads talking over one
 * MessagePort, transferring where the operators transfer.
 */
import { doraPair, freshDir, portBaseline, type LatencyResult, type Plan, type SectionContext, type StreamResult } from './harness.js'
import { alternating, roundTripFigures, throughputFigures } from './pairs.js'
import { latencyPhases, pacedPhase, streamPhases } from './plans.js'
import type { Figure } from './report.js'

const SECTION = 'operator-operator'
const BASELINE = 'MessagePort'

export async function benchOperatorOperator(ctx: SectionContext): Promise<Figure[]> {
  const latency: Plan = { mode: 'latency', phases: [...latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB']), pacedPhase(ctx.quick)] }
  const stream: Plan = { mode: 'stream', phases: streamPhases(ctx.quick) }
  const op = (script: string) => ({ kind: 'operator', script }) as const

  const rounds = latency.phases[0]?.rounds ?? 1
  ctx.progress(`operator -> operator round trips, dora-ts and bare MessagePort alternating (${rounds} rounds)`)
  const [dora, base] = (await alternating(latency, rounds, [
    (plan) => doraPair(freshDir(ctx.tmp, 'rtt'), op('op-ping.mjs'), op('op-echo.mjs'), plan, 240_000),
    (plan) => portBaseline(plan, 240_000),
  ])) as [LatencyResult, LatencyResult]
  ctx.progress(`operator -> operator throughput, dora-ts and bare MessagePort alternating (${rounds} rounds)`)
  const [doraStream, baseStream] = (await alternating(stream, rounds, [
    (plan) => doraPair(freshDir(ctx.tmp, 'stream'), op('op-ping.mjs'), op('op-echo.mjs'), plan, 240_000),
    (plan) => portBaseline(plan, 240_000),
  ])) as [StreamResult, StreamResult]

  return [...roundTripFigures(SECTION, dora, base, BASELINE), ...throughputFigures(SECTION, doraStream, baseStream, BASELINE)]
}
