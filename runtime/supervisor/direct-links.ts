/**
 * Best-effort links (`reliability: best_effort` inputs): messages between two custom nodes
 * that travel directly from the sender's process to the receiver's, never through the
 * supervisor's main thread, the outbox or a commit. The supervisor keeps control by wiring
 * them: at registration it tells each receiver the ipc endpoint to bind (a socket in the run's
 * private directory, like the node socket) and each sender the receivers of each output. It
 * still sends InputClosed and Stop for those inputs (it knows when a sender ends), and it
 * hears the counts the nodes report (`direct-counts`), for `dora-ts list`.
 *
 * @module
 */
import { join } from 'node:path'
import type { DirectInput, DirectRoute, Registration } from '../../src/protocol/node/messages.js'
import type { DataflowSpec } from '../../src/spec/types.js'

/** What a node's registration says about its best-effort links. */
export type DirectWiring = Pick<Registration, 'directEndpoint' | 'directInputs' | 'directRoutes' | 'directOnly'>

/**
 * The best-effort wiring of every custom node of `spec` that has some, by node id. Endpoints
 * are numbered, not named after the node: a node id may be long, a socket path may not (107
 * bytes), and the run directory was created with room for `nodes.sock`, as long as `d<n>.sock`
 * up to n = 99 999.
 */
export function directWiring(spec: DataflowSpec, runDirPath: string): Map<string, DirectWiring> {
  const wiring = new Map<string, DirectWiring>()
  const of = (nodeId: string): DirectWiring => {
    let w = wiring.get(nodeId)
    if (w === undefined) wiring.set(nodeId, (w = {}))
    return w
  }
  // Reliable receivers per output key (`node/output`): an output with none is direct only.
  const reliable = new Map<string, number>()
  let n = 0
  for (const node of spec.nodes) {
    if (node.kind !== 'custom') {
      for (const op of node.operators) for (const input of op.inputs) if (input.source.kind === 'output') bump(reliable, sourceKey(input.source))
      continue
    }
    const inputs: DirectInput[] = []
    const endpoint = `ipc://${join(runDirPath, `d${n}.sock`)}`
    for (const input of node.inputs) {
      if (input.source.kind !== 'output') continue
      const key = sourceKey(input.source)
      // The resolver accepts best_effort only from a custom node (no operator part).
      if (input.reliability !== 'best_effort' || input.source.operator !== undefined) {
        bump(reliable, key)
        continue
      }
      inputs.push({ inputId: input.id, queueSize: input.queueSize, senderNode: input.source.node, outputId: input.source.output })
      const route: DirectRoute = { outputId: input.source.output, receiverNode: node.id, endpoint, inputId: input.id, queueSize: input.queueSize }
      const sender = of(input.source.node)
      sender.directRoutes = [...(sender.directRoutes ?? []), route]
    }
    if (inputs.length > 0) {
      n++
      const w = of(node.id)
      w.directEndpoint = endpoint
      w.directInputs = inputs
    }
  }
  for (const [nodeId, w] of wiring) {
    const outputs = new Set((w.directRoutes ?? []).map((r) => r.outputId))
    const only = [...outputs].filter((o) => !reliable.has(`${nodeId}/${o}`))
    if (only.length > 0) w.directOnly = only
  }
  return wiring
}

function sourceKey(source: { node: string; operator?: string | undefined; output: string }): string {
  return source.operator === undefined ? `${source.node}/${source.output}` : `${source.node}/${source.operator}/${source.output}`
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}
