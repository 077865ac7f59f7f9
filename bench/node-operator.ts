/**
 * 3. node <-> operator: a custom node pings an operator, which echoes, from 8 B to 16 MB and a
 * 30 Hz 4 MB "camera" stream (a camera node feeding a perception operator). The node measures
 * the round trip with its own clock; each one-way leg comes from the echo's wall-clock stamp
 * (node and supervisor run on the same machine and read the same clock, see fixtures/lib.mjs),
 * so node -> operator and operator -> node are reported separately. Then one-way throughput
 * node -> operator at every size, every `send` awaited, and at 8 B and 64 KB with up to WINDOW
 * sends in flight (`node-operator-pipelined`), as a node streaming fast would send.
 *
 * Baseline: two bare zeromq.js processes (DEALER -> ROUTER over ipc) running the same plans,
 * rounds alternating with dora-ts's, as for node -> node: a message from a node to an operator
 * crosses one process boundary, as the baseline's does (then a thread hop inside the supervisor).
 */
import { doraPair, freshDir, sizeText, zmqBaseline, type LatencyResult, type Plan, type SectionContext, type StreamResult } from './harness.js'
import { alternating, throughputFigures } from './pairs.js'
import { cameraPhase, latencyPhases, nodeStreamPhases, WINDOW } from './plans.js'
import { latencyFigure, type Figure } from './report.js'
import { medianOfRounds } from './stats.js'

const SECTION = 'node-operator'
const BASELINE = 'zeromq.js'

export async function benchNodeOperator(ctx: SectionContext): Promise<Figure[]> {
  const latency: Plan = { mode: 'latency', phases: [...latencyPhases(ctx.quick, ['8B', '1KB', '64KB', '1MB', '4MB', '16MB']), cameraPhase(ctx.quick)] }
  const stream: Plan = { mode: 'stream', phases: nodeStreamPhases(ctx.quick) }
  const pipelined: Plan = { mode: 'stream', phases: stream.phases.filter((p) => p.label === '8B' || p.label === '64KB'), inflight: WINDOW }
  const pair = <T>(name: string, plan: Plan) =>
    doraPair<T>(freshDir(ctx.tmp, name), { kind: 'node', script: 'node-ping.mjs' }, { kind: 'operator', script: 'op-echo.mjs' }, plan, 600_000)
  const n = latency.phases[0]?.rounds ?? 1

  ctx.progress(`node <-> operator round trips, dora-ts and bare zeromq.js alternating (${n} rounds)`)
  const [dora, base] = (await alternating(latency, n, [(plan) => pair('rtt', plan), (plan) => zmqBaseline(freshDir(ctx.tmp, 'zmq-rtt'), plan, 600_000)])) as [
    LatencyResult,
    LatencyResult,
  ]
  ctx.progress(`node -> operator throughput, dora-ts and bare zeromq.js alternating (${n} rounds)`)
  const [doraStream, baseStream] = (await alternating(stream, n, [
    (plan) => pair('stream', plan),
    (plan) => zmqBaseline(freshDir(ctx.tmp, 'zmq-stream'), plan, 600_000),
  ])) as [StreamResult, StreamResult]
  ctx.progress(`node -> operator throughput, sends pipelined (${WINDOW} in flight; ${n} rounds)`)
  const [pipelinedStream] = (await alternating(pipelined, n, [(plan) => pair('stream-pipelined', plan)])) as [StreamResult]
  const pipelinedFigures = throughputFigures(`${SECTION}-pipelined`, pipelinedStream, baseStream, BASELINE)
  for (const f of pipelinedFigures) f.label = `${f.label} (sends pipelined, ${WINDOW} in flight)`

  const figures: Figure[] = []
  for (const [label, r] of Object.entries(dora)) {
    const common = { section: SECTION, unit: 'µs', rounds: r.rtt.length }
    const b = base[label]
    figures.push(latencyFigure({ ...common, id: `${SECTION}.n2o.${label}`, label: `node -> operator ${sizeText(label)} (one way)` }, medianOfRounds(r.leg1)))
    figures.push(latencyFigure({ ...common, id: `${SECTION}.o2n.${label}`, label: `operator -> node ${sizeText(label)} (one way)` }, medianOfRounds(r.leg2)))
    figures.push(
      latencyFigure(
        { ...common, id: `${SECTION}.rtt.${label}`, label: `node -> operator -> node ${sizeText(label)} (round trip)`, baselineLabel: BASELINE },
        medianOfRounds(r.rtt),
        b === undefined ? undefined : medianOfRounds(b.rtt),
      ),
    )
  }
  return [...figures, ...throughputFigures(SECTION, doraStream, baseStream, BASELINE), ...pipelinedFigures]
}
