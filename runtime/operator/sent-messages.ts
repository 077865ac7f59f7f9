/**
 * The messages an operator sends: their headers (a sequence number per output, the message id,
 * whether it is a redelivery), which receivers' copies go into the outbox with the event that
 * sent them, and routing them once that event committed.
 *
 * Apart from host.ts because it is the operator's output side, with its own per-output state
 * (sequences, the route cache) and its own hot-path costs; the host decides when a message
 * may be seen (after its commit), this file what it looks like and where it goes.
 *
 * @module
 */
import { nowNs } from '../../src/clock.js'
import type { MessageHeader } from '../../src/events.js'
import type { Unit, UnitHost } from '../supervisor/unit.js'
import { MIN_TRANSFER_BYTES, type BufferedOutput } from './messages.js'
import { markExclusive, rememberOrder, type OutboxRoute } from './outbox.js'
import type { SentMessage } from './state-commit.js'

const NO_ROUTES: readonly OutboxRoute[] = []

/** Who sends: the unit, its host, and what its headers name. */
export interface Sender {
  unit: Unit
  host: UnitHost
  nodeId: string
  operatorId: string
  /** The operator keeps state: its inputs are in the outbox, so a single receiver may move bytes. */
  stateful: boolean
}

/** The sending side of one operator (see the module comment). */
export class SentMessages {
  /** The receivers of an output whose copies are committed into the outbox, cached by output id. */
  readonly routes: (outputId: string) => readonly OutboxRoute[]
  readonly #sender: Sender
  readonly #sequences = new Map<string, bigint>()
  /** Per output id: whether its one receiver may take the bytes (see {@link #mayMove}). */
  readonly #movable = new Map<string, boolean>()
  readonly #receiverCount: (outputId: string) => number

  /**
   * `routes`: the receivers of an output whose copies are committed into the outbox;
   * `receiverCount`: how many receiver inputs it feeds in all (best-effort ones included).
   */
  constructor(sender: Sender, routes: ((outputId: string) => readonly OutboxRoute[]) | undefined, receiverCount?: (outputId: string) => number) {
    this.#sender = sender
    this.#receiverCount = receiverCount ?? ((outputId) => (routes === undefined ? 0 : routes(outputId).length))
    // Asked twice per message sent (commit, route): a lookup by output id here, not the run's
    // lookup by a key built from two strings (3% of the routing thread in the 8 B stream).
    const byOutput = new Map<string, readonly OutboxRoute[]>()
    this.routes =
      routes === undefined
        ? () => NO_ROUTES
        : (outputId) => {
            let found = byOutput.get(outputId)
            if (found === undefined) {
              found = routes(outputId)
              byOutput.set(outputId, found)
            }
            return found
          }
  }

  /**
   * A message the worker sent, with its header and outbox sort key, ready to commit and route.
   * Never marked redelivered: nothing is routed before its event commits, so a message of an
   * event run again after a crash is a first delivery (a replay from the outbox marks its own).
   */
  message(output: BufferedOutput, messageId: string, order: string): SentMessage {
    return {
      header: this.#header(output.outputId, output.encoding, output.parameters, messageId),
      data: output.data,
      order,
      file: output.file,
    }
  }

  /** Route a committed message to its receivers. */
  route(message: SentMessage): void {
    // Only a message some receiver consumes from the outbox has an entry to find again: one
    // for best-effort receivers alone has none (a best-effort receiver of a message that also
    // went into the outbox for others deletes a key that was never written: nothing happens).
    if (message.only !== undefined || this.routes(message.header.outputId).length > 0)
      rememberOrder(message.header, message.order, message.only, message.placed?.segment)
    // Its only receiver may move the bytes into its worker (see input-transfer.ts): this host
    // no longer needs them, and the outbox has them.
    // Only bytes that would be transferred (input-transfer.ts): a WeakSet entry per small message
    // cost the routing thread its insert and the GC its ephemeron.
    if (message.data.byteLength >= MIN_TRANSFER_BYTES && this.#mayMove(message.header.outputId)) markExclusive(message.data)
    this.#sender.host.emit(this.#sender.unit, message.header.outputId, message.header, message.data)
  }

  /**
   * Whether the one receiver of `outputId` may take the bytes: it is its only receiver input,
   * and either the outbox keeps a copy for a redelivery (a stateful sender) or it is a
   * best-effort link, which a crash of the receiver may lose (host.ts #crash).
   */
  #mayMove(outputId: string): boolean {
    let movable = this.#movable.get(outputId)
    if (movable === undefined) {
      const kept = this.routes(outputId).length
      movable = this.#receiverCount(outputId) === 1 && (kept === 1 ? this.#sender.stateful : kept === 0)
      this.#movable.set(outputId, movable)
    }
    return movable
  }

  /** Send a message the host makes itself (the poison report), uncommitted. */
  emit(outputId: string, data: Uint8Array, encoding: string, parameters: MessageHeader['metadata'], messageId: string): void {
    this.#sender.host.emit(this.#sender.unit, outputId, this.#header(outputId, encoding, parameters, messageId), data)
  }

  #header(outputId: string, encoding: string, parameters: MessageHeader['metadata'], messageId: string): MessageHeader {
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    return {
      dataflowId: this.#sender.host.dataflowId,
      senderNode: this.#sender.nodeId,
      senderOperator: this.#sender.operatorId,
      outputId,
      sequence,
      timestampNs: nowNs(),
      metadata: parameters,
      encoding,
      messageId,
      redelivered: false,
    }
  }
}
