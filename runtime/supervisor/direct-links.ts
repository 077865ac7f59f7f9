/**
 * Direct links: messages between two custom nodes that travel directly from the sender's
 * process to the receiver's, never through the supervisor's main thread, the outbox or a
 * commit. Two kinds:
 * - best effort (`reliability: best_effort` inputs): nothing kept, drops when full;
 * - reliable, through a link log (the default between nodes run by node, see {@link usesLinkLog}): the
 *   sender appends each message to a log in shared memory before sending it, the receiver
 *   keeps a cursor there, reads what it missed from it and after a restart or in the next run
 *   goes on from its cursor (src/transport/link-log.ts, docs/design/reliable-direct-links.md).
 * The supervisor keeps control by wiring them: at registration it tells each receiver the ipc
 * endpoint to bind (a socket in the run's private directory, like the node socket) and its
 * logs, and each sender the receivers of each output. It still sends InputClosed and Stop for
 * those inputs (it knows when a sender ends), and it hears the counts the nodes report
 * (`direct-counts`), for `dora-ts list`.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { DirectInput, DirectRoute, Registration } from '../../src/protocol/node/messages.js'
import type { CustomNodeSpec, DataflowSpec, InputSpec } from '../../src/spec/types.js'

/**
 * Whether `input` of a custom node is a reliable link through a link log: the default, unless
 * the dataflow opts out (`_unstable_direct_links: false`). Both ends must be custom nodes run by
 * node (`.ts`, `.js`): the log and its cursor are the SDK's, which a Python script or another
 * executable speaking the protocol itself does not have. And nothing may need the supervisor on
 * the path: not `durability: power` (the log is not fsync'ed), not `queue_policy:
 * backpressure` (the supervisor pauses the sender) or `input_timeout` (the supervisor times the
 * input). The rest keep the supervisor's path, with the same guarantee.
 */
export function usesLinkLog(spec: DataflowSpec, receiver: CustomNodeSpec, input: InputSpec): boolean {
  if (spec.directLinks === false || spec.durability !== 'process') return false
  if (input.reliability !== 'reliable' || input.queuePolicy === 'backpressure' || input.inputTimeout !== undefined) return false
  if (input.source.kind !== 'output' || input.source.operator !== undefined) return false
  const sender = input.source.node
  const senderSpec = spec.nodes.find((n) => n.id === sender)
  return senderSpec?.kind === 'custom' && runsOnSdk(senderSpec) && runsOnSdk(receiver)
}

/** Whether a custom node runs with node (`.ts`, `.js`, `.mjs`, `.cjs`), where the SDK can be what speaks for it. */
function runsOnSdk(node: CustomNodeSpec): boolean {
  return node.runtime === 'ts' || node.runtime === 'js'
}

/** Whether `input` of the custom node `receiver` comes straight from its sender (best effort, or a link log). */
export function isDirectInput(spec: DataflowSpec, receiver: CustomNodeSpec, input: InputSpec): boolean {
  return input.reliability === 'best_effort' || usesLinkLog(spec, receiver, input)
}

/**
 * The folder of the link log of `sender`'s `output` under `linksDir`: one name, so an id like
 * `..` is never a path step (ids are URI-encoded, `@` between them is `%40` inside either);
 * hashed when too long for a file name.
 */
export function linkLogDir(linksDir: string, sender: string, output: string): string {
  return join(linksDir, fileName(`${encodeURIComponent(sender)}@${encodeURIComponent(output)}`))
}

/** The cursor name of `receiver`'s `input` in a link log folder (`cursor.<name>`). */
export function linkCursorName(receiver: string, input: string): string {
  return fileName(`${encodeURIComponent(receiver)}@${encodeURIComponent(input)}`)
}

function fileName(name: string): string {
  return Buffer.byteLength(name) <= 200 ? name : `h-${createHash('sha256').update(name).digest('hex')}`
}

/** What a node's registration says about its best-effort links. */
export type DirectWiring = Pick<Registration, 'directEndpoint' | 'directInputs' | 'directRoutes' | 'directOnly'>

/**
 * The direct wiring of every custom node of `spec` that has some, by node id. Endpoints are
 * numbered, not named after the node: a node id may be long, a socket path may not (107
 * bytes), and the run directory was created with room for `nodes.sock`, as long as `d<n>.sock`
 * up to n = 99 999. `linksDir`: where link logs live (the store's); without it no input is
 * wired through a log (they keep the supervisor's path).
 */
export function directWiring(spec: DataflowSpec, runDirPath: string, linksDir?: string): Map<string, DirectWiring> {
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
      const logged = linksDir !== undefined && usesLinkLog(spec, node, input)
      if ((input.reliability !== 'best_effort' && !logged) || input.source.operator !== undefined) {
        bump(reliable, key)
        continue
      }
      const link = logged ? { logDir: linkLogDir(linksDir, input.source.node, input.source.output), cursorName: linkCursorName(node.id, input.id) } : {}
      inputs.push({ inputId: input.id, queueSize: input.queueSize, senderNode: input.source.node, outputId: input.source.output, ...link })
      const route: DirectRoute = { outputId: input.source.output, receiverNode: node.id, endpoint, inputId: input.id, queueSize: input.queueSize, ...link }
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
