/**
 * 1. node -> node: two custom node processes through the real supervisor (node ->
 * supervisor -> node over ipc, each way). Round-trip latency measured by the initiator, and
 * one-way throughput. Baseline: two bare zeromq.js processes (DEALER -> ROUTER over ipc)
 * running the same plan code with the same payloads.
 */
import { doraPair, freshDir, zmqBaseline, type LatencyResult, type Plan, type SectionContext, type StreamResult } from './harness.js'
import { alternating, roundTripFigures, throughputFigures } from './pairs.js'
import { latencyPhases, pacedPhase, streamPhases } from './plans.js'
import type { Figure } from './report.js'

const SECTION = 'node-node'
const BASELINE = 'zeromq.js'

export async function benchNodeNode(ctx: SectionContext): Promise<Figure[]> {
  const latency: Plan = { mode: 'latency', phases: [...latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB']), pacedPhase(ctx.quick)] }
  const stream: Plan = { mode: 'stream', phases: streamPhases(ctx.quick) }
  const node = (script: string) => ({ kind: 'node', script }) as const

  const rounds = latency.phases[0]?.rounds ?? 1
  ctx.progress(`node -> node round trips, dora-ts and bare zeromq.js alternating (${rounds} rounds)`)
  const [dora, base] = (await alternating(latency, rounds, [
    (plan) => doraPair(freshDir(ctx.tmp, 'rtt'), node('node-ping.mjs'), node('node-echo.mjs'), plan, 240_000),
    (plan) => zmqBaseline(freshDir(ctx.tmp, 'zmq-rtt'), plan, 240_000),
  ])) as [LatencyResult, LatencyResult]
  ctx.progress(`node -> node throughput, dora-ts and bare zeromq.js alternating (${rounds} rounds)`)
  const [doraStream, baseStream] = (await alternating(stream, rounds, [
    (plan) => doraPair(freshDir(ctx.tmp, 'stream'), node('node-ping.mjs'), node('node-echo.mjs'), plan, 240_000),
    (plan) => zmqBaseline(freshDir(ctx.tmp, 'zmq-stream'), plan, 240_000),
  ])) as [StreamResult, StreamResult]

  return [...roundTripFigures(SECTION, dora, base, BASELINE), ...throughputFigures(SECTION, doraStream, baseStream, BASELINE)]
}
