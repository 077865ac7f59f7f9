/**
 * The supervisor's end of the custom-node protocol: one ZeroMQ ROUTER per run on its private
 * ipc endpoint. It decodes what nodes send, admits a node by its `register` handshake (protocol
 * version, a node id the dataflow has, not registered twice), and turns the messages of a
 * registered connection into calls on the run: an output to route, a `next` request, outputs to
 * close, a log line. Everything a node did not have to send (an undecodable frame, a message
 * from an unregistered connection) is dropped and logged once per connection, so a rogue
 * process cannot flood the log. Sends go through one queue (zeromq.js takes one send at a time).
 */
import { errorMessage, errorStack } from '../../src/errors.js'
import { Router } from 'zeromq'
import { decodeNodeToSupervisor, encodeSupervisorToNode } from '../../src/protocol/node/codec.js'
import { hasLinkLog, MAX_PUSH_WINDOW, PROTOCOL_VERSION, type DirectCounts, type InputDrops, type NodeToSupervisor } from '../../src/protocol/node/messages.js'
import type { DirectWiring } from './direct-links.js'
import type { MessageHeader } from '../../src/events.js'
import { MAX_UNREGISTERED_FRAME_BYTES, nodeRouterOptions } from '../../src/transport/node-socket.js'
import { ENV_NODE_SECRET } from '../../src/transport/env.js'
import { RateLimitedLog } from '../../src/security/rate-limited-log.js'
import { nodeSecretMatches } from '../../src/security/node-secret.js'
import { showName } from '../../src/security/names.js'
import { SendQueue, type Frames } from '../../src/transport/send-queue.js'
import { ClosedError } from '../../src/transport/errors.js'
import type { KvsConfig } from '../../node-sdk/kvs.js'
import type { CustomNode } from './custom-node.js'
import type { LogEntry } from './unit.js'
import type { SharedSegment, ShmPayloads } from './shm-payloads.js'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/transport/node-socket.js'

/** What the router needs from its run. */
export interface NodeRouterHandlers {
  dataflowId: string
  dataflowName: string
  /** The KVS a registered node is told to open. */
  kvs: KvsConfig
  /** The custom node of that id, or undefined when the dataflow has none. */
  customNode(nodeId: string): CustomNode | undefined
  /**
   * A registered node sent on one of its declared outputs (the header says who sent it, as the
   * connection proves). Call `taken` once the message is safe (committed where a receiver
   * needs it, and routed): the node's `await send()` then resolves. `grouped`: called from the
   * callbacks of a group commit (see #taken). `shm`: the payload is in that shared-memory
   * segment (`data` is empty); the handler owns one reference to it and releases it once the
   * message is routed.
   */
  output(node: CustomNode, header: MessageHeader, data: Uint8Array, taken: (grouped: boolean) => void, shm?: SharedSegment): void
  /** Run `step` once every output the node sent before is taken (confirmations are cumulative). */
  afterOutputs(node: CustomNode, step: (grouped: boolean) => void): void
  /** A node closed some of its (declared) outputs. */
  closeOutputs(node: CustomNode, outputs: string[]): void
  log(entry: LogEntry): void
  /** Largest frame a node may send (default DEFAULT_MAX_MESSAGE_BYTES, src/transport/node-socket.ts); a peer that sends more is disconnected by ZeroMQ. */
  maxMessageBytes?: number | undefined
  /** The run's shared-memory payloads; without it, nodes are told to send everything on the socket. */
  shm?: ShmPayloads | undefined
  /** Best-effort links of the custom node `nodeId` (direct-links.ts), told at registration. */
  direct?: ((nodeId: string) => DirectWiring | undefined) | undefined
  /** A node's best-effort links carried this many more messages since its last report. */
  directCounts?: ((node: CustomNode, more: DirectCounts) => void) | undefined
}

export class NodeRouter {
  readonly #router: Router
  readonly #sender: SendQueue
  readonly #handlers: NodeRouterHandlers
  /** Registered connections: an entry goes when its process has ended ({@link connectionEnded}). */
  readonly #byIdentity = new Map<string, CustomNode>()
  /**
   * The last `direct-counts` of each connection (cumulative per connection): the next one adds
   * the difference. An entry goes when its process has ended ({@link connectionEnded}).
   */
  readonly #directCounts = new Map<string, DirectCounts>()
  /** Unregistered connections that sent one bad frame: everything further from them is ignored unread. */
  readonly #ignored = new Set<string>()
  /** Notices a peer can cause: rate limited, truncated, repeats summarized. */
  readonly #peerLog: RateLimitedLog
  /** Counts of what was refused or dropped, for tests and diagnostics. */
  readonly stats = { refusedRegistrations: 0, droppedFrames: 0, ignoredConnections: 0, directConnections: 0, registeredConnections: 0 }

  private constructor(router: Router, handlers: NodeRouterHandlers) {
    this.#router = router
    this.#handlers = handlers
    this.#peerLog = new RateLimitedLog((text) => this.#notice('warn', text))
    // DORA_CLOSED: a message still queued when the run finished; every node has ended by then.
    this.#sender = new SendQueue(router, (err) => {
      if (!(err instanceof ClosedError)) this.#notice('warn', `a send to a node failed: ${errorMessage(err)}`)
    })
  }

  /** Bind `endpoint` and start receiving; nothing stays bound if the bind fails. */
  static async bind(endpoint: string, handlers: NodeRouterHandlers): Promise<NodeRouter> {
    const router = new Router(nodeRouterOptions(handlers.maxMessageBytes))
    try {
      await router.bind(endpoint)
    } catch (err) {
      router.close()
      throw err
    }
    const nodes = new NodeRouter(router, handlers)
    void nodes.#receive()
    return nodes
  }

  /** Queue frames for the node connected as `identity`. */
  send(identity: Buffer, frames: Frames): void {
    this.#sender.post([identity, ...frames])
  }

  /**
   * The process registered as `identity` ended and its last frames were read: forget what is
   * kept for that connection. A restarted node registers anew, so without this every restart
   * left entries behind for the rest of the run. A frame of it that came later still (none
   * should: its last ones were read) is dropped as one from an unregistered connection.
   */
  connectionEnded(identity: Buffer): void {
    const key = identity.toString('hex')
    this.#directCounts.delete(key)
    this.#byIdentity.delete(key)
    this.stats.directConnections = this.#directCounts.size
    this.stats.registeredConnections = this.#byIdentity.size
  }

  /**
   * The counts the process registered as `identity` left as it exited (src/transport/
   * exit-counts.ts), taken before {@link connectionEnded}: as a last report, counted from zero
   * when none came on the socket (the process ended before its first).
   */
  exitCounts(identity: Buffer, counts: DirectCounts): void {
    const node = this.#byIdentity.get(identity.toString('hex'))
    if (node !== undefined) this.#countDirect(identity, node, counts, true)
  }

  /** Stop receiving and sending, and close the socket. Idempotent. */
  close(): void {
    this.#sender.close()
    if (!this.#router.closed) this.#router.close()
  }

  #notice(level: LogEntry['level'], text: string): void {
    this.#handlers.log({ source: 'dora-ts', stream: 'supervisor', level, text })
  }

  async #receive(): Promise<void> {
    try {
      for await (const frames of this.#router) {
        const [identity, head, payload] = frames
        if (identity === undefined || head === undefined) continue
        const key = identity.toString('hex')
        if (this.#ignored.has(key)) continue
        // Decoding is work a peer makes us do on the thread that moves everyone's data: from a
        // connection that has not registered, only a registration-sized frame is read at all.
        if (!this.#byIdentity.has(key) && head.length > MAX_UNREGISTERED_FRAME_BYTES) {
          this.#dropped(identity, `a ${head.length}-byte frame before registering (a registration is under ${MAX_UNREGISTERED_FRAME_BYTES} bytes)`)
          continue
        }
        let message: NodeToSupervisor
        try {
          message = decodeNodeToSupervisor(head)
        } catch (err) {
          this.#dropped(identity, `an undecodable frame (${errorMessage(err)})`)
          continue
        }
        try {
          this.#handle(identity, message, payload)
        } catch (err) {
          this.#notice('error', `internal error handling a "${message.type}" message: ${errorStack(err)}`)
        }
      }
    } catch {
      // The router was closed: the run is over.
    }
  }

  /**
   * A frame we did not want. From an unregistered connection it is the last one we read: the
   * connection is ignored from then on (a ROUTER cannot close one peer; we stop looking at it).
   */
  #dropped(identity: Buffer, what: string): void {
    const key = identity.toString('hex')
    this.stats.droppedFrames++
    if (!this.#byIdentity.has(key)) {
      this.#ignore(key)
      this.#peerLog.log('dropped-unregistered', `dropped ${what} from unregistered connection ${key.slice(0, 16)}; it is ignored from now on`)
      return
    }
    this.#peerLog.log(`dropped-${key}`, `dropped ${what} from connection ${key.slice(0, 16)}`)
  }

  #ignore(key: string): void {
    this.stats.ignoredConnections++
    this.#ignored.add(key)
    // Bounded: a flood of new connections must not grow it forever. Forgetting the oldest only
    // means one more frame of theirs gets looked at.
    if (this.#ignored.size > 10_000) this.#ignored.delete(this.#ignored.values().next().value!)
  }

  /**
   * A `direct-counts` report of `node`'s connection `identity`. Cumulative per connection, so a
   * late report of a dead process still adds only what is new. `fromZero`: a first report may
   * be counted whole (a dead process's report read after its connection was let go is already
   * counted, or too late to tell from a first one: counting it from zero could count it twice).
   */
  #countDirect(identity: Buffer, node: CustomNode, message: DirectCounts, fromZero: boolean): void {
    const key = identity.toString('hex')
    const seen = this.#directCounts.get(key)
    if (seen === undefined && !fromZero) return
    const last = seen ?? { sent: 0n, received: 0n, dropped: 0n }
    const more = { sent: message.sent - last.sent, received: message.received - last.received, dropped: message.dropped - last.dropped }
    if (more.sent < 0n || more.received < 0n || more.dropped < 0n) return
    const inputDrops = moreInputDrops(last.inputDrops, message.inputDrops)
    const linkDrops = moreInputDrops(last.linkDrops, message.linkDrops)
    if (inputDrops === undefined || linkDrops === undefined) return
    this.#directCounts.set(key, {
      sent: message.sent,
      received: message.received,
      dropped: message.dropped,
      inputDrops: message.inputDrops,
      linkDrops: message.linkDrops,
    })
    this.stats.directConnections = this.#directCounts.size
    this.#handlers.directCounts?.(node, { ...more, ...(inputDrops.length === 0 ? {} : { inputDrops }), ...(linkDrops.length === 0 ? {} : { linkDrops }) })
  }

  #handle(identity: Buffer, message: NodeToSupervisor, payload: Buffer | undefined): void {
    if (message.type === 'register') {
      this.#register(identity, message.nodeId, message.protocolVersion, message.secret, message.directLinks === true)
      return
    }
    const node = this.#byIdentity.get(identity.toString('hex'))
    if (node === undefined) {
      this.#dropped(identity, `a "${message.type}" message from an unregistered connection`)
      return
    }
    // A dead process's last frames may arrive after its successor registered: its outputs are
    // still routed, but its consumption reports and confirmations count per connection, so
    // they apply only to the connection they came from (-1: none now).
    const current = node.isCurrent(identity)
    const connection = current ? node.connection : -1
    switch (message.type) {
      case 'output': {
        // Push mode's piggybacked consumption: before the output, which may wait for a commit.
        if (message.consumedUpTo !== undefined && current) node.credit(message.consumedUpTo)
        if (!node.outputs.includes(message.header.outputId)) {
          this.#peerLog.log(`undeclared-${node.display}`, `${node.display} sent on undeclared output ${showName(message.header.outputId)}; dropped`)
          // Dealt with for good (the log says so): a node waiting on it must not hang. After the
          // node's earlier outputs: confirming it confirms them too.
          this.#handlers.afterOutputs(node, (grouped) => NodeRouter.#taken(node, message.sendSeq, connection, grouped))
          return
        }
        // Trust the connection, not the header, for who sent it.
        const header: MessageHeader = { ...message.header, dataflowId: this.#handlers.dataflowId, senderNode: node.nodeId, senderOperator: '' }
        if (message.shm !== undefined) {
          const segment = this.#handlers.shm?.accept(node.nodeId, message.shm) ?? 'a shared-memory payload, but this run has no shared memory'
          if (typeof segment === 'string') {
            this.#peerLog.log(`bad-shm-${node.display}`, `${node.display} sent ${segment}; dropped`)
            // Dealt with for good (the log says so): a node waiting on it must not hang. After
            // its earlier outputs, since confirmations are cumulative.
            const sendSeq = message.sendSeq
            this.#handlers.afterOutputs(node, (grouped) => NodeRouter.#taken(node, sendSeq, connection, grouped))
            return
          }
          this.#handlers.output(node, header, new Uint8Array(0), (grouped) => NodeRouter.#taken(node, message.sendSeq, connection, grouped), segment)
          return
        }
        const data = payload === undefined ? new Uint8Array(0) : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
        // Committed and routed to every receiver's queue: the node's `await send()` may resolve.
        this.#handlers.output(node, header, data, (grouped) => NodeRouter.#taken(node, message.sendSeq, connection, grouped))
        return
      }
      case 'next':
        if (current) node.requestNext()
        return
      case 'credit':
        if (current) {
          const window = Math.max(1, Math.min(message.window, MAX_PUSH_WINDOW))
          node.credit(message.consumedUpTo, window, message.inputBatches === true, message.exact === true ? { heldAtClose: message.heldAtClose } : undefined)
        }
        return
      case 'close-outputs':
        // After the outputs it sent before are committed and routed, or closing would drop them.
        this.#handlers.afterOutputs(node, () => this.#closeOutputs(node, message.outputs))
        return
      case 'log':
        this.#handlers.log({ source: node.display, stream: 'log', level: message.level, text: message.message })
        return
      case 'direct-counts':
        this.#countDirect(identity, node, message, current)
        return
      default:
        return
    }
  }

  /**
   * Confirm a node's output. Confirmations are coalesced to the end of the loop turn (one
   * frame per burst); one taken in a group commit's callbacks is confirmed in a microtask
   * instead, which runs once every callback of the group has: still one frame for the group,
   * and not one more turn of the event loop on every awaited send's round trip.
   */
  static #taken(node: CustomNode, sendSeq: bigint, connection: number, grouped: boolean): void {
    node.outputTaken(sendSeq, connection)
    if (grouped) queueMicrotask(() => node.flushTaken())
  }

  #closeOutputs(node: CustomNode, outputs: string[]): void {
    this.#handlers.closeOutputs(
      node,
      outputs.filter((o) => node.outputs.includes(o)),
    )
    // The node waits for this before it closes its socket: everything it sent before has
    // arrived (same connection, in order), so nothing is left for its linger to lose. The
    // confirmation of those outputs goes first, so the node never sees them unconfirmed.
    node.flushTaken()
    node.send({ type: 'outputs-closed', outputs })
  }

  #register(identity: Buffer, nodeId: string, protocolVersion: number, secret: string | undefined, keepsLinks: boolean): void {
    const reject = (reason: string, said = false): void => {
      this.stats.refusedRegistrations++
      // Logged once per window whatever the flood, with the id escaped and cut (issue 13: 900 KB
      // ids echoed into the log), unless the caller said it already; the connection is ignored
      // from now on.
      if (!said) this.#peerLog.log('refused-registration', `refused a registration as ${showName(nodeId)}: ${reason}`)
      this.#ignore(identity.toString('hex'))
      this.send(identity, [encodeSupervisorToNode({ type: 'register-rejected', reason: reason.slice(0, 300) })])
    }
    if (this.#byIdentity.has(identity.toString('hex'))) {
      reject('this connection is already registered')
      return
    }
    if (protocolVersion !== PROTOCOL_VERSION) {
      reject(`protocol version ${protocolVersion} does not match the supervisor's ${PROTOCOL_VERSION}`)
      return
    }
    const unit = this.#handlers.customNode(nodeId)
    if (unit === undefined) {
      reject(`this dataflow has no custom node ${showName(nodeId)}`)
      return
    }
    // Only the process we spawned has the secret of this spawn: an impostor that registers
    // first under the id of a node that connects late is refused, and the real node still gets in.
    if (!nodeSecretMatches(unit.secret, secret)) {
      reject(`node "${nodeId}" must present the ${ENV_NODE_SECRET} the supervisor gave the process it spawned`)
      return
    }
    if (unit.registered) {
      reject(`node "${nodeId}" is already registered`)
      return
    }
    const direct = this.#handlers.direct?.(nodeId)
    const link = keepsLinks ? undefined : (direct?.directInputs?.find(hasLinkLog) ?? direct?.directRoutes?.find(hasLinkLog))
    if (link !== undefined) {
      // It would never read (or write) the log, and the link's messages would wait there for
      // ever: refused, said plainly where the user looks, with the way out.
      const which =
        'receiverNode' in link
          ? `its output "${link.outputId}" to ${link.receiverNode}`
          : `its input "${link.inputId}" from ${link.senderNode}/${link.outputId}`
      const reason = `node "${nodeId}" did not register as keeping reliable direct links (${which} is one), as the dora-ts SDK does: it speaks the protocol itself, or its SDK is older. Put \`_unstable_direct_links: false\` at the top of the dataflow to send its messages through the supervisor`
      this.#handlers.log({ source: 'dora-ts', stream: 'log', level: 'error', text: reason })
      reject(reason, true)
      return
    }
    this.#byIdentity.set(identity.toString('hex'), unit)
    this.stats.registeredConnections = this.#byIdentity.size
    const { kvs } = this.#handlers
    this.send(identity, [
      encodeSupervisorToNode({
        type: 'registered',
        registration: {
          dataflowId: this.#handlers.dataflowId,
          dataflowName: this.#handlers.dataflowName,
          nodeId,
          restartCount: unit.restartCount,
          inputs: unit.spec.inputs.map((i) => i.id),
          outputs: [...unit.spec.outputs],
          kvsPath: kvs.dir,
          kvsMapSize: BigInt(kvs.mapSizeBytes),
          kvsNamespace: kvs.namespace,
          atLeastOnce: true,
          maxMessageSize: this.#handlers.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
          shmDir: this.#handlers.shm?.dir ?? '',
          shmThreshold: this.#handlers.shm?.threshold ?? 0,
          // DORA_TS_NODE_PULL=1 offers no push: nodes pull with `next`, as an SDK without push
          // does (to compare the two in a benchmark, and to test the older path).
          pushInputs: process.env['DORA_TS_NODE_PULL'] !== '1',
          ...direct,
          ...(unit.restartsWhenDone() ? { restartsWhenDone: true } : {}),
        },
      }),
    ])
    unit.attach(identity)
  }
}

/**
 * What a node's cumulative per-input drops add to its last report's, per input (only inputs
 * with more); undefined when a count went down (a report out of order: ignored, as the totals).
 */
function moreInputDrops(last: readonly InputDrops[] | undefined, now: readonly InputDrops[] | undefined): InputDrops[] | undefined {
  // Keyed by node too: a sender's link drops name the receiving node's input.
  const keyOf = (d: InputDrops): string => `${d.node ?? ''}\0${d.inputId}`
  const before = new Map((last ?? []).map((d) => [keyOf(d), d.dropped]))
  const more: InputDrops[] = []
  for (const d of now ?? []) {
    const delta = d.dropped - (before.get(keyOf(d)) ?? 0n)
    if (delta < 0n) return undefined
    if (delta > 0n) more.push({ ...d, dropped: delta })
  }
  return more
}
