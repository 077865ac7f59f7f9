/**
 * 1. node -> node: two custom node processes through the real supervisor. Round-trip latency
 * measured by the initiator from 8 B to 16 MB, a 30 Hz 4 MB "camera" stream, and one-way
 * throughput at every size. Baseline: two bare zeromq.js processes (DEALER -> ROUTER over ipc)
 * running the same plan code with the same payloads. From 64 KB up, dora-ts is also measured
 * with shared memory turned off (`DORA_TS_SHM_THRESHOLD=0`, every payload on the socket), in
 * the same alternation, to show what the shared-memory path (issue 15) changes. Throughput is
 * measured with every `send` awaited (the plain figures) and, at 8 B and 64 KB, with up to
 * WINDOW sends in flight (`node-node-pipelined`), as a node streaming fast would send.
 */
import { doraPair, freshDir, zmqBaseline, type LatencyResult, type Plan, type SectionContext, type StreamResult } from './harness.js'
import { alternating, roundTripFigures, throughputFigures } from './pairs.js'
import { CAMERA_LABEL, cameraPhase, latencyPhases, nodeStreamPhases, pacedPhase, WINDOW } from './plans.js'
import type { Figure } from './report.js'

const SECTION = 'node-node'
const BASELINE = 'zeromq.js'
const SOCKET_ONLY = 'dora-ts, shared memory off'

/** Run `measure` with shared memory turned off for this process's runs (the supervisor reads the variable at start). */
async function socketOnly<T>(measure: () => Promise<T>): Promise<T> {
  const saved = process.env['DORA_TS_SHM_THRESHOLD']
  process.env['DORA_TS_SHM_THRESHOLD'] = '0'
  try {
    return await measure()
  } finally {
    if (saved === undefined) delete process.env['DORA_TS_SHM_THRESHOLD']
    else process.env['DORA_TS_SHM_THRESHOLD'] = saved
  }
}

const LARGE = new Set(['64KB', '1MB', '4MB', '16MB', CAMERA_LABEL])

export async function benchNodeNode(ctx: SectionContext): Promise<Figure[]> {
  const latency: Plan = {
    mode: 'latency',
    phases: [...latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB', '16MB']), pacedPhase(ctx.quick), cameraPhase(ctx.quick)],
  }
  const largeLatency: Plan = { mode: 'latency', phases: latency.phases.filter((p) => LARGE.has(p.label)) }
  const stream: Plan = { mode: 'stream', phases: nodeStreamPhases(ctx.quick) }
  const largeStream: Plan = { mode: 'stream', phases: stream.phases.filter((p) => LARGE.has(p.label)) }
  const node = (script: string) => ({ kind: 'node', script }) as const
  const pair = <T>(name: string, plan: Plan) => doraPair<T>(freshDir(ctx.tmp, name), node('node-ping.mjs'), node('node-echo.mjs'), plan, 600_000)

  const n = latency.phases[0]?.rounds ?? 1
  ctx.progress(`node -> node round trips, dora-ts and bare zeromq.js alternating (${n} rounds)`)
  const [dora, base] = (await alternating(latency, n, [(plan) => pair('rtt', plan), (plan) => zmqBaseline(freshDir(ctx.tmp, 'zmq-rtt'), plan, 600_000)])) as [
    LatencyResult,
    LatencyResult,
  ]
  ctx.progress(`node -> node round trips from 64 KB, shared memory off (${n} rounds)`)
  const [socket] = (await alternating(largeLatency, n, [(plan) => socketOnly(() => pair('rtt-socket', plan))])) as [LatencyResult]
  ctx.progress(`node -> node throughput, dora-ts and bare zeromq.js alternating (${n} rounds)`)
  const [doraStream, baseStream] = (await alternating(stream, n, [
    (plan) => pair('stream', plan),
    (plan) => zmqBaseline(freshDir(ctx.tmp, 'zmq-stream'), plan, 600_000),
  ])) as [StreamResult, StreamResult]
  ctx.progress(`node -> node throughput from 64 KB, shared memory off (${n} rounds)`)
  const [socketStream] = (await alternating(largeStream, n, [(plan) => socketOnly(() => pair('stream-socket', plan))])) as [StreamResult]
  // A node streaming fast does not await each send (Node.send): up to a window of them in flight.
  const pipelined: Plan = { mode: 'stream', phases: stream.phases.filter((p) => p.label === '8B' || p.label === '64KB'), inflight: WINDOW }
  ctx.progress(`node -> node throughput, sends pipelined (${WINDOW} in flight; ${n} rounds)`)
  const [pipelinedStream] = (await alternating(pipelined, n, [(plan) => pair('stream-pipelined', plan)])) as [StreamResult]
  const pipelinedFigures = throughputFigures(`${SECTION}-pipelined`, pipelinedStream, baseStream, BASELINE)
  for (const f of pipelinedFigures) f.label = `${f.label} (sends pipelined, ${WINDOW} in flight)`

  const socketFigures = [
    ...roundTripFigures(`${SECTION}-socket`, socket, base, BASELINE),
    ...throughputFigures(`${SECTION}-socket`, socketStream, baseStream, BASELINE),
  ]
  for (const f of socketFigures) f.label = `${f.label} (${SOCKET_ONLY})`
  return [
    ...roundTripFigures(SECTION, dora, base, BASELINE),
    ...throughputFigures(SECTION, doraStream, baseStream, BASELINE),
    ...pipelinedFigures,
    ...socketFigures,
  ]
}
