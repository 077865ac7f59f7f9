/**
 * Which events of a custom node's inbox go to its process, and when: pushed while the
 * window its SDK granted has room (a node that sent a `credit`), or pulled, one bounded batch
 * per `next` request. It also keeps the accounts of what the current connection consumed
 * (see redelivery.ts), since consumption is what opens the window again. The process itself,
 * and what each event tells about the node (a Stop, a closed input), are custom-node.ts's.
 *
 * @module
 */
import type { DeliveredEvent } from '../../src/events.js'
import type { Inbox } from './inbox.js'
import { Redelivery } from './redelivery.js'

/** Most events sent to a node per `next` request; well under ZeroMQ's default HWM of 1000. */
export const MAX_BATCH = 256

/** Where the events go: the node, through custom-node.ts. */
export interface DeliveryTarget {
  readonly inbox: Inbox
  /** Note that `event` goes to the node now, in order (see {@link Redelivery.delivered}); true for a Stop. */
  note(event: DeliveredEvent): boolean
  /**
   * Send these noted events, in order. `batch`: the node reads several inputs per message
   * (SupervisorToNode.InputBatch), so consecutive inputs may share one.
   */
  send(events: readonly DeliveredEvent[], batch: boolean): void
  /** Pull mode: the batch answering the last `next` is complete. */
  endBatch(): void
}

export class NodeDelivery {
  /** The events the current connection has not consumed yet, and what to replay after a crash. */
  readonly redelivery = new Redelivery()
  #nextPending = false
  /** Push mode: the connection sent a `credit`; `#window` is the most events it may hold unconsumed. */
  #push = false
  #window = 0
  /**
   * Push mode: the current process was sent its Stop. Nothing follows it (see {@link pump}):
   * the node ends at Stop, and its clean exit counts what it was sent as consumed.
   */
  #stopPushed = false
  /** Push mode: the node's credit said it reads several inputs per message. */
  #batches = false
  /**
   * Push mode: the node's credits say exactly what it consumed (Credit.exact): a clean exit
   * consumes only the event its program held as the node closed (Credit.heldAtClose; 0: none).
   */
  #exact: { heldAtClose: number } | undefined

  /** The node is pushed to and reads several inputs per message. */
  get batching(): boolean {
    return this.#push && this.#batches
  }

  /**
   * The number of the last event a clean exit of the process consumes (with those before it).
   * A node whose credits are exact (the SDK's close() says so, and its setting events aside at
   * a Stop) told what it consumed, and the event its program left its loop on (a clean exit
   * says it was done with it). Otherwise, in pull mode everything sent: it asked for each
   * batch it holds; in push mode after its Stop, everything sent came before that Stop; in
   * push mode before Stop, the node may exit holding pushed events its program never saw:
   * only its credits count (0).
   */
  get consumedByCleanExit(): number {
    if (this.#exact !== undefined) return this.#exact.heldAtClose
    return !this.#push || this.#stopPushed ? this.redelivery.lastSent : 0
  }

  /** The node's credits say exactly what it consumed (see {@link consumedByCleanExit}). */
  get exact(): boolean {
    return this.#exact !== undefined
  }

  /** A process starts or ends: it pulls until it sends a credit, and has asked for nothing. */
  reset(): void {
    this.#nextPending = false
    this.#pullUntilCredit()
  }

  /** A new connection numbers its events from 1 again; it pulls until it sends a credit. */
  newConnection(): void {
    this.redelivery.newConnection()
    this.#pullUntilCredit()
  }

  /** Forget what the last connection's credits said (push mode, batches, exactness, its Stop). */
  #pullUntilCredit(): void {
    this.#push = false
    this.#stopPushed = false
    this.#batches = false
    this.#exact = undefined
  }

  /** The node asked for its next events: returns the previous batch, now consumed. */
  requestNext(): DeliveredEvent[] {
    this.#nextPending = true
    return this.redelivery.consumedAll()
  }

  /**
   * Push mode: the node consumed its events up to number `upTo`, and may hold `window`
   * unconsumed (undefined: unchanged, an output's piggybacked `consumedUpTo`), and reads
   * several inputs per message if `batches`. Returns the events newly consumed, and whether the
   * node pushes (then pump again).
   */
  credit(upTo: bigint, window?: number, batches = false, exact?: { heldAtClose?: bigint | undefined }): { consumed: DeliveredEvent[]; push: boolean } {
    if (window !== undefined) {
      this.#push = true
      this.#window = window
      this.#batches = batches
    }
    if (exact !== undefined) this.#exact = { heldAtClose: Math.max(this.#exact?.heldAtClose ?? 0, eventNumber(exact.heldAtClose ?? 0n)) }
    const consumed = this.redelivery.consumedUpTo(eventNumber(upTo))
    return { consumed, push: this.#push }
  }

  /** Send what may go now (the caller checked that the node is connected and running). */
  pump(target: DeliveryTarget): void {
    if (this.#push) {
      this.#pushEvents(target)
      return
    }
    if (!this.#nextPending) return
    this.#nextPending = false
    // One batch per `next`, and a bounded one: ZeroMQ's ROUTER silently drops what exceeds a
    // peer's send high-water mark (1000), so the rest waits in the inbox, where the input's
    // queue policy (and its drop count) applies, until the node asks again.
    for (let sent = 0; sent < MAX_BATCH; sent++) {
      const item = target.inbox.shift()
      if (item === undefined) break
      const stop = target.note(item)
      target.send([item], false)
      if (stop) break
    }
    // The node asks for the next batch only after this (and after handling all of it): an
    // earlier `next` would consume events still on their way.
    target.endBatch()
  }

  /**
   * Push mode: send what waits, in order, while the node's window has room and the event at
   * the head is not an input that already has queue_size messages unconsumed at the node: that
   * one (and what follows it, to keep the order) waits in the inbox, where its queue policy
   * applies, until the node consumes. So a busy node holds at most queue_size of each input,
   * as a batch in pull mode did, and drop_oldest still keeps the freshest.
   */
  #pushEvents(target: DeliveryTarget): void {
    // Nothing after a Stop, as a pulled batch ends at its Stop. Messages still arrive for a
    // stopping node (an operator upstream works through the inputs queued ahead of its own
    // Stop); pushed, they reached a node that was leaving, and its clean exit counted them as
    // consumed, so their outbox entries were deleted and the next run never got them (the
    // torture's "numbers lost before the sink"). Left in the inbox, they stay in the outbox.
    // What may go now goes in one send, so that inputs queued together share a message.
    const inbox = target.inbox
    const taken: DeliveredEvent[] = []
    while (!this.#stopPushed) {
      const head = inbox.peek()
      if (head === undefined) break
      // A Stop goes past a full window (one message more, far under the socket's high-water
      // mark): a slow node holding its window got it only once it had consumed a quarter of it,
      // and then had to work through all it held (the SDK sets those aside at the Stop).
      if (head.type !== 'stop' && this.redelivery.inFlight >= this.#window) break
      if (head.type === 'input' && this.redelivery.inFlightOf(head.id) >= (inbox.queueSize(head.id) ?? this.#window)) break
      inbox.shift()
      taken.push(head)
      this.#stopPushed = target.note(head)
    }
    if (taken.length > 0) target.send(taken, this.#batches)
  }
}

/** A number from the node's credit; beyond what was sent is a broken peer: capped (Redelivery ignores numbers not sent). */
function eventNumber(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n)
}
