/**
 * The receiving end of a node's best-effort links: a PULL socket bound at the endpoint the
 * supervisor named at registration ({@link Registration.directEndpoint}), before `connect()`
 * returns, so senders' messages (queued in their pipes until then) arrive from the start. A
 * restarted node binds the same path again and ZeroMQ's senders reconnect by themselves.
 *
 * Each message is handed over as it arrives, its shared-memory payload read and its name of the
 * segment let go at once (the file handed back to its sender for reuse when this was its last
 * name): the node owns its copy, so nothing waits on the program to free tmpfs.
 *
 * @module
 */
import { Pull } from 'zeromq'
import { decodeNodeToNode } from '../src/protocol/node/codec.js'
import type { DirectInput, NodeToNode, Registration } from '../src/protocol/node/messages.js'
import { errorMessage } from '../src/errors.js'
import { inputData } from './node-wire.js'
import type { DoraEvent } from './events.js'
import { MIN_DIRECT_PIPE, pipeQueue } from './direct-send.js'
import { releaseSegment, segmentPath } from './shm.js'
import { ACK_FROM_BYTES, AckWriter } from './link-acks.js'

/**
 * What arrived on a direct link: an input's event (undefined: unreadable), or the sender's
 * close. On a reliable link (`link`), `inLog`: the payload did not come on the socket, it is
 * read from the log entry.
 */
export type DirectArrival =
  | { type: 'input'; id: string; event: DoraEvent | undefined; link?: { seq: bigint; end: number; newFile: boolean }; inLog?: boolean }
  | { type: 'input-closed'; id: string }

/** The event of a link message (node-to-node.capnp) for input `input` with payload `data`. */
export function directEvent(message: Extract<NodeToNode, { type: 'input' }>, data: Uint8Array, input: DirectInput | undefined, redelivered = false): DoraEvent {
  // Built here in one step, not through the supervisor's message form (inputEvent): on the
  // path of every small message, the copies of that form were ~7% of a receiver's CPU.
  return {
    type: 'input',
    id: input?.inputId ?? message.id,
    data,
    metadata: {
      senderNode: input?.senderNode ?? '',
      senderOperator: '',
      outputId: input?.outputId ?? '',
      sequence: message.sequence,
      timestampNs: message.timestampNs,
      encoding: message.encoding,
      parameters: message.metadata,
      messageId: message.messageId,
      redelivered,
    },
  }
}

export class DirectReceiver {
  readonly #socket: Pull
  /** Input id -> who feeds it: link messages do not say (node-to-node.capnp). */
  readonly #inputs: ReadonlyMap<string, DirectInput>
  readonly #shmDir: string
  readonly #nodeId: string
  /** Acknowledges the large best-effort messages taken (link-acks.ts); none without a shared-memory folder. */
  readonly #acks: AckWriter | undefined

  private constructor(socket: Pull, registration: Registration) {
    this.#socket = socket
    this.#inputs = new Map((registration.directInputs ?? []).map((i) => [i.inputId, i]))
    this.#shmDir = registration.shmDir
    this.#nodeId = registration.nodeId
    this.#acks = registration.shmDir === '' ? undefined : new AckWriter(registration.shmDir, registration.nodeId)
  }

  /** Bind the node's best-effort endpoint; undefined when it has no best-effort input. */
  static async bind(registration: Registration): Promise<DirectReceiver | undefined> {
    const endpoint = registration.directEndpoint
    if (endpoint === undefined || endpoint === '' || (registration.directInputs ?? []).length === 0) return undefined
    // Bounded like the senders' pipes: a process that stalls finds at most this many stale
    // messages waiting in ZeroMQ (the rest were dropped by their senders), not a thousand.
    const largest = Math.max(...(registration.directInputs ?? []).map(pipeQueue))
    const socket = new Pull({ linger: 0, receiveHighWaterMark: Math.max(MIN_DIRECT_PIPE, 2 * largest) })
    try {
      await socket.bind(endpoint)
    } catch (err) {
      socket.close()
      throw err
    }
    return new DirectReceiver(socket, registration)
  }

  /** Call `arrived` for every message until the socket is closed. */
  start(arrived: (a: DirectArrival) => void): void {
    void (async () => {
      try {
        for await (const [head, payload] of this.#socket) {
          const message = this.#decode(head)
          if (message === undefined) continue
          const a = this.#arrival(message, payload)
          if (a !== undefined) arrived(a)
        }
      } catch {
        // The socket was closed: the loop ends.
      }
    })()
  }

  close(): void {
    if (!this.#socket.closed) this.#socket.close()
    this.#acks?.close()
  }

  /** Messages wait in the socket, not yet handed over (they are, as soon as the event loop turns). */
  get pending(): boolean {
    return !this.#socket.closed && this.#socket.readable
  }

  /** Frame 0 of a link message; undefined (said on stderr) if it does not decode. */
  #decode(head: Buffer | undefined): NodeToNode | undefined {
    if (head === undefined) return undefined
    try {
      return decodeNodeToNode(head)
    } catch (err) {
      process.stderr.write(`dora-ts: node "${this.#nodeId}" dropped an undecodable best-effort message: ${errorMessage(err)}\n`)
      return undefined
    }
  }

  #arrival(message: NodeToNode, payload: Buffer | undefined): DirectArrival | undefined {
    if (message.type === 'input-closed') return this.#inputs.has(message.id) ? message : undefined
    if (message.type !== 'input') return undefined
    const input = this.#inputs.get(message.id)
    const inLog = message.link !== undefined && message.shm === undefined && payload === undefined
    const data = inLog ? new Uint8Array(0) : inputData(message.shm, payload, this.#shmDir, this.#nodeId, message.id)
    const event = data === undefined ? undefined : directEvent(message, data, input)
    // Read (or unreadable): this node's name of the segment is not needed any more; the
    // file goes back to its sender for reuse when no other receiver holds it.
    const segment = message.shm === undefined ? undefined : segmentPath(this.#shmDir, message.shm.segment)
    if (segment !== undefined) releaseSegment(segment)
    if (input === undefined) return undefined
    if (message.link !== undefined) return { type: 'input', id: message.id, event, link: message.link, inLog }
    // Taken from the socket: its sender may count it off what is on its way here. (A payload in
    // a shared-memory file is not acknowledged: its sender sees its name let go instead.)
    if ((payload?.byteLength ?? 0) >= ACK_FROM_BYTES && message.shm === undefined)
      this.#acks?.write(input.inputId, input.senderNode, input.outputId, message.sequence, message.senderLife ?? 0)
    return { type: 'input', id: message.id, event }
  }
}
