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
import { PROTOCOL_VERSION, type NodeToSupervisor } from '../../src/protocol/node/messages.js'
import type { MessageHeader } from '../../src/events.js'
import { nodeRouterOptions } from '../../src/transport/node-socket.js'
import { SendQueue, type Frames } from '../../src/transport/send-queue.js'
import { ClosedError } from '../../src/transport/errors.js'
import type { KvsConfig } from '../../node-sdk/kvs.js'
import type { CustomNode } from './custom-node.js'
import type { LogEntry } from './unit.js'

/** What the router needs from its run. */
export interface NodeRouterHandlers {
  dataflowId: string
  dataflowName: string
  /** The KVS a registered node is told to open. */
  kvs: KvsConfig
  /** The custom node of that id, or undefined when the dataflow has none. */
  customNode(nodeId: string): CustomNode | undefined
  /** A registered node sent on one of its declared outputs (the header says who sent it, as the connection proves). */
  output(node: CustomNode, header: MessageHeader, data: Uint8Array): void
  /** A node closed some of its (declared) outputs. */
  closeOutputs(node: CustomNode, outputs: string[]): void
  log(entry: LogEntry): void
}

export class NodeRouter {
  readonly #router: Router
  readonly #sender: SendQueue
  readonly #handlers: NodeRouterHandlers
  readonly #byIdentity = new Map<string, CustomNode>()
  readonly #droppedLogged = new Set<string>()

  private constructor(router: Router, handlers: NodeRouterHandlers) {
    this.#router = router
    this.#handlers = handlers
    // DORA_CLOSED: a message still queued when the run finished; every node has ended by then.
    this.#sender = new SendQueue(router, (err) => {
      if (!(err instanceof ClosedError)) this.#notice('warn', `a send to a node failed: ${errorMessage(err)}`)
    })
  }

  /** Bind `endpoint` and start receiving; nothing stays bound if the bind fails. */
  static async bind(endpoint: string, handlers: NodeRouterHandlers): Promise<NodeRouter> {
    const router = new Router(nodeRouterOptions())
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

  #dropped(identity: Buffer, what: string): void {
    const key = identity.toString('hex')
    if (this.#droppedLogged.has(key)) return
    this.#droppedLogged.add(key)
    this.#notice('warn', `dropped ${what} from connection ${key}; further drops from it are not logged`)
  }

  #handle(identity: Buffer, message: NodeToSupervisor, payload: Buffer | undefined): void {
    if (message.type === 'register') {
      this.#register(identity, message.nodeId, message.protocolVersion)
      return
    }
    const node = this.#byIdentity.get(identity.toString('hex'))
    if (node === undefined) {
      this.#dropped(identity, `a "${message.type}" message from an unregistered connection`)
      return
    }
    switch (message.type) {
      case 'output': {
        if (!node.outputs.includes(message.header.outputId)) {
          this.#notice('warn', `${node.display} sent on undeclared output "${message.header.outputId}"; dropped`)
          // Dealt with for good (the log says so): a node waiting on it must not hang.
          node.outputTaken(message.sendSeq)
          return
        }
        // Trust the connection, not the header, for who sent it.
        const header: MessageHeader = { ...message.header, dataflowId: this.#handlers.dataflowId, senderNode: node.nodeId, senderOperator: '' }
        const data = payload === undefined ? new Uint8Array(0) : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
        this.#handlers.output(node, header, data)
        // Routed to every receiver's queue: the node's `await send()` may now resolve.
        node.outputTaken(message.sendSeq)
        return
      }
      case 'next':
        node.requestNext()
        return
      case 'close-outputs':
        this.#handlers.closeOutputs(
          node,
          message.outputs.filter((o) => node.outputs.includes(o)),
        )
        // The node waits for this before it closes its socket: everything it sent before has
        // arrived (same connection, in order), so nothing is left for its linger to lose. The
        // confirmation of those outputs goes first, so the node never sees them unconfirmed.
        node.flushTaken()
        node.send({ type: 'outputs-closed', outputs: message.outputs })
        return
      case 'log':
        this.#handlers.log({ source: node.display, stream: 'log', level: message.level, text: message.message })
        return
      default:
        return
    }
  }

  #register(identity: Buffer, nodeId: string, protocolVersion: number): void {
    const reject = (reason: string): void => {
      this.#notice('warn', `rejected a registration as "${nodeId}": ${reason}`)
      this.send(identity, [encodeSupervisorToNode({ type: 'register-rejected', reason })])
    }
    if (protocolVersion !== PROTOCOL_VERSION) {
      reject(`protocol version ${protocolVersion} does not match the supervisor's ${PROTOCOL_VERSION}`)
      return
    }
    const unit = this.#handlers.customNode(nodeId)
    if (unit === undefined) {
      reject(`this dataflow has no custom node "${nodeId}"`)
      return
    }
    if (unit.registered) {
      reject(`node "${nodeId}" is already registered`)
      return
    }
    this.#byIdentity.set(identity.toString('hex'), unit)
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
        },
      }),
    ])
    unit.attach(identity)
  }
}
