/**
 * 1b. node -> node, best effort (`reliability: best_effort`, issue 15): the same ping/echo
 * pair as node -> node, with both inputs best effort, so every message goes from one node's
 * SDK straight to the other's, never through the supervisor. Round trips from 8 B to 16 MB
 * and 1 KB at 1 kHz, throughput at 8 B and 64 KB, against two bare zeromq.js processes running
 * the same plan code in the same run (alternating, as node -> node does), and fan-out to 1, 4
 * and 16 best-effort receivers.
 *
 * 1c. node -> node, reliable direct links (the default between custom nodes run by node): the
 * same plans with both inputs reliable, each message appended to the sender's link log in
 * shared memory and sent straight to the receiver (docs/design/reliable-direct-links.md).
 * Both with the 4 MB camera stream at 30 Hz.
 */
import { doraPair, freshDir, zmqBaseline, type LatencyResult, type PairPath, type Plan, type SectionContext, type StreamResult } from './harness.js'
import { fanOut } from './fan-out.js'
import { alternating, roundTripFigures, throughputFigures } from './pairs.js'
import { cameraPhase, latencyPhases, pacedPhase, streamPhases } from './plans.js'
import type { Figure } from './report.js'

const SECTION = 'node-node-best-effort'
const BASELINE = 'zeromq.js'

export function benchBestEffort(ctx: SectionContext): Promise<Figure[]> {
  return benchDirectPair(ctx, SECTION, 'best-effort')
}

export function benchDirectLinks(ctx: SectionContext): Promise<Figure[]> {
  return benchDirectPair(ctx, 'node-node-direct', 'direct')
}

async function benchDirectPair(ctx: SectionContext, section: string, path: Exclude<PairPath, 'best-effort-direct'>): Promise<Figure[]> {
  // The camera stream too: since 2026-12-04 a reliable direct link is the default path of a
  // camera node's frames to another custom node.
  const latency: Plan = {
    mode: 'latency',
    phases: [...latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB', '16MB']), pacedPhase(ctx.quick), cameraPhase(ctx.quick)],
  }
  const stream: Plan = { mode: 'stream', phases: streamPhases(ctx.quick) }
  const node = (script: string) => ({ kind: 'node', script }) as const
  const pair = <T>(name: string, plan: Plan) => doraPair<T>(freshDir(ctx.tmp, name), node('node-ping.mjs'), node('node-echo.mjs'), plan, 600_000, path)
  const what = path === 'direct' ? 'reliable direct' : 'best-effort'

  const n = latency.phases[0]?.rounds ?? 1
  ctx.progress(`${what} node -> node round trips, dora-ts and bare zeromq.js alternating (${n} rounds)`)
  const [dora, base] = (await alternating(latency, n, [
    (plan) => pair(`${path}-rtt`, plan),
    (plan) => zmqBaseline(freshDir(ctx.tmp, `${path}-zmq-rtt`), plan, 600_000),
  ])) as [LatencyResult, LatencyResult]
  ctx.progress(`${what} node -> node throughput, dora-ts and bare zeromq.js alternating (${n} rounds)`)
  const [doraStream, baseStream] = (await alternating(stream, n, [
    (plan) => pair(`${path}-stream`, plan),
    (plan) => zmqBaseline(freshDir(ctx.tmp, `${path}-zmq-stream`), plan, 600_000),
  ])) as [StreamResult, StreamResult]
  const figures = [...roundTripFigures(section, dora, base, BASELINE), ...throughputFigures(section, doraStream, baseStream, BASELINE)]
  if (path === 'supervisor') return figures
  ctx.progress(`${what} fan-out`)
  const fan = await fanOut(ctx, `${section}-fan-out`, path)
  for (const f of fan) f.section = section
  return [...figures, ...fan]
}
