/**
 * The sending half of a custom node ({@link Node}): numbering and framing its outputs, sending
 * best-effort receivers their copy itself, sharing large payloads through shared memory, waiting
 * out backpressure, and matching the supervisor's confirmations (`outputs-taken`,
 * `outputs-closed`) to the sends and closes that wait for them.
 *
 * The node's lifecycle stays with the node: it says through {@link OutputGate} whether a send
 * may still start, and with which error one is refused.
 *
 * @module
 */
import type { Registration } from '../src/protocol/node/messages.js'
import { encodeNodeToSupervisor } from '../src/protocol/node/codec.js'
import type { SendQueue } from '../src/transport/send-queue.js'
import type { ClosedError } from '../src/transport/errors.js'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../src/transport/node-socket.js'
import type { MessageHeader } from '../src/events.js'
import { nowNs } from '../src/clock.js'
import { checkMessageId, checkOutput, checkPayload, checkPayloadSize } from './errors.js'
import { Encoding } from './payload.js'
import { PendingSends } from './pending-sends.js'
import { OutputPauses } from './output-pauses.js'
import { ShmSends } from './shm-sends.js'
import { outputFrames } from './node-wire.js'
import { DirectSender, zmqWouldBorrow } from './direct-send.js'
import type { DirectCounter } from './direct-counter.js'
import type { PushCredit } from './push-credit.js'
import type { NodeSendOptions } from './node-options.js'
import { wakeOrTimeout } from './waits.js'

/** How long closeOutputs() waits for the supervisor's confirmation before going on. */
export const CLOSE_ACK_TIMEOUT_MS = 30_000

/** What the outputs ask of their node's lifecycle. */
export interface OutputGate {
  /** Sends may start (the node is neither closing nor closed). */
  isOpen(): boolean
  /** A send paused by backpressure may still go on (open, and the connection not ended). */
  isLive(): boolean
  /** The error a refused send rejects with. */
  closedError(message: string): ClosedError
}

export class NodeOutputs {
  readonly #nodeId: string
  readonly #dataflowId: string
  readonly #restartCount: number
  readonly #outputs: readonly string[]
  readonly #sender: SendQueue
  readonly #credit: PushCredit
  readonly #gate: OutputGate
  /** The supervisor confirms outputs: a send resolves once it has taken the message. */
  readonly #atLeastOnce: boolean
  /** Registration.restartsWhenDone: this node's outputs stay open across its restart, so it closes none on its links. */
  readonly #restartsWhenDone: boolean
  readonly #sequences = new Map<string, bigint>()
  /** Sends not yet confirmed by the supervisor (`outputs-taken`); unused if it does not confirm. */
  readonly #pending = new PendingSends()
  /** Outputs paused by backpressure (the supervisor's `outputs-paused`), and sends waiting on them. */
  readonly #paused: OutputPauses
  /** closeOutputs() calls waiting for the supervisor's `outputs-closed`, oldest first. */
  readonly #closeAcks = new Set<() => void>()
  /** The dataflow's `max_message_size`: bigger sends are refused before they reach the socket. */
  readonly #maxMessageSize: number
  /** Large payloads through the run's shared-memory directory. */
  readonly #shm: ShmSends
  /** Outputs that best-effort inputs read: this process sends those receivers their copy. */
  readonly direct: DirectSender | undefined

  constructor(registration: Registration, sender: SendQueue, credit: PushCredit, counter: DirectCounter, gate: OutputGate) {
    this.#nodeId = registration.nodeId
    this.#dataflowId = registration.dataflowId
    this.#restartCount = registration.restartCount
    this.#outputs = registration.outputs
    this.#sender = sender
    this.#credit = credit
    this.#gate = gate
    this.#atLeastOnce = registration.atLeastOnce
    this.#restartsWhenDone = registration.restartsWhenDone === true
    // 0 from an older supervisor: its router still drops a peer over the default, so refuse that.
    this.#maxMessageSize = registration.maxMessageSize > 0 ? registration.maxMessageSize : DEFAULT_MAX_MESSAGE_BYTES
    this.#shm = new ShmSends(registration)
    this.#paused = new OutputPauses(registration.nodeId)
    this.direct = (registration.directRoutes ?? []).length > 0 ? new DirectSender(registration, counter) : undefined
  }

  /** The run's shared-memory directory ('' when none): inputs' segments are read from it too. */
  get shmDir(): string {
    return this.#shm.dir
  }

  /** See {@link Node.send}. */
  async send(outputId: string, data: Uint8Array, options: NodeSendOptions): Promise<void> {
    const who = `node "${this.#nodeId}"`
    if (!this.#gate.isOpen()) throw this.#gate.closedError(`${who} is closed; nothing was sent on "${outputId}"`)
    checkOutput(this.#outputs, outputId, who)
    checkPayload(data, who)
    checkPayloadSize(data, this.#maxMessageSize, who, outputId)
    checkMessageId(options.messageId, who)
    if (this.#paused.has(outputId)) {
      await this.#paused.wait(outputId, () => this.#gate.isLive())
      if (!this.#gate.isOpen()) throw this.#gate.closedError(`${who} was closed while "${outputId}" was paused by backpressure; nothing was sent`)
    }
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    const header: MessageHeader = {
      dataflowId: this.#dataflowId,
      senderNode: this.#nodeId,
      senderOperator: '',
      outputId,
      sequence,
      timestampNs: nowNs(),
      metadata: options.parameters ?? {},
      encoding: options.encoding ?? Encoding.raw,
      messageId: options.messageId ?? `${this.#restartCount}.${sequence}`,
      redelivered: false,
    }
    if (this.direct?.has(outputId) === true) {
      // Best-effort receivers get it now, from here; if no one else reads the output, that is all.
      this.direct.send(outputId, header, data, options.transfer === true)
      if (this.direct.only(outputId)) return
    }
    const shm = this.#shm.share(data)
    if (!this.#atLeastOnce) {
      // A supervisor that confirms nothing: queued in ZeroMQ is all this can know, and ZeroMQ
      // may still refer to the bytes then (see DirectSender.send): it gets its own copy.
      const wire = shm === undefined && zmqWouldBorrow(data, options.transfer === true) ? Buffer.from(data) : data
      await this.#sender.send(outputFrames(header, 0n, wire, shm))
      return
    }
    // Numbered and queued in the same synchronous step, so numbers follow the order on the wire.
    const sendSeq = this.#pending.next()
    const taken = this.#pending.wait(sendSeq)
    this.#sender.send(outputFrames(header, sendSeq, data, shm, this.#credit.takeReport())).catch((err: unknown) => this.#pending.fail(sendSeq, err))
    await taken
  }

  /** See {@link Node.closeOutputs}. */
  async close(outputs: readonly string[]): Promise<void> {
    for (const output of outputs) checkOutput(this.#outputs, output, `node "${this.#nodeId}"`)
    // Best-effort receivers hear it on the link itself, after the last message sent on it, and
    // before the supervisor's InputClosed (which tells them to wait for it) can go out. Not
    // from a node the supervisor starts again when it ends cleanly: its next process sends on
    // (a close record in a link log would end its reliable receivers' inputs for good).
    if (!this.#restartsWhenDone) await this.direct?.close(outputs)
    const acked = wakeOrTimeout(this.#closeAcks, CLOSE_ACK_TIMEOUT_MS)
    try {
      await this.#sender.send([encodeNodeToSupervisor({ type: 'close-outputs', outputs: [...outputs] })])
    } catch (err) {
      acked.wake() // no answer will come: free the timer
      throw err
    }
    await acked.done
  }

  /** The supervisor paused these outputs (backpressure); the others go on. */
  pause(outputs: readonly string[]): void {
    this.#paused.set(outputs)
  }

  /** The supervisor took every send numbered up to `upTo`. */
  taken(upTo: bigint): void {
    this.#pending.taken(upTo)
  }

  /** The supervisor confirmed the oldest close still waiting. */
  closed(): void {
    this.#closeAcks.values().next().value?.()
  }

  /** The node began closing: paused sends look at the gate again (and are refused). */
  wakePaused(): void {
    this.#paused.wakeAll()
  }

  /**
   * The node is released (`now`: destroyed; `stopping`: the dataflow is stopping): nothing waits
   * any longer; unconfirmed sends reject.
   */
  release(now: boolean, stopping = false): void {
    this.#paused.wakeAll()
    for (const ack of [...this.#closeAcks]) ack()
    this.#pending.failAll((seq) =>
      this.#gate.closedError(
        `node "${this.#nodeId}" was ${now ? 'destroyed' : 'closed'} before the supervisor confirmed its message #${seq}; it may or may not have reached its receivers`,
      ),
    )
    this.direct?.release(now, stopping)
  }
}
