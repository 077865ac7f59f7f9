/**
 * The at-least-once bookkeeping of one operator, kept across its worker's crashes: one event is
 * in flight at a time and stays here until its `done` has been committed, so a restarted worker
 * gets it again, marked redelivered; every message the operator sends gets an id made of the
 * event that produced it and its place in it (`<event>.<index>`), so a receiver drops a copy it
 * has already committed; and an input that crashed the operator `max_redeliveries` times is
 * dropped as poison and reported on the `_errors` output.
 */
import { copyBytes, ownsWholeBuffer } from '../../src/bytes.js'
import type { DeliveredEvent, MessageHeader } from '../../src/events.js'
import { encodeJson } from '../../node-sdk/payload.js'
import type { Inbox } from '../supervisor/inbox.js'

/** An event handed to the worker and not yet committed. */
export interface InFlight {
  item: DeliveredEvent
  eventNo: number
  /** Crashes of the operator while it handled this event. */
  crashes: number
}

/** Id of a message produced while handling event `eventNo`: `<event>.<index>`. */
const MESSAGE_ID = /^(\d+)\.(\d+)$/

export class Deliveries {
  #inFlight: InFlight | undefined
  #eventNo = 0
  #outputIndex = 0
  /** `sender node/operator` -> the id of its last message this operator committed: [event, index]. */
  readonly #seen = new Map<string, [number, number]>()

  /** The event handed to the worker and not yet committed. */
  get inFlight(): InFlight | undefined {
    return this.#inFlight
  }

  /** Number of the last event taken (what a commit records as its last event). */
  get eventNo(): number {
    return this.#eventNo
  }

  /**
   * Take the next event from `inbox` as the one in flight, skipping inputs this operator has
   * already committed (a redelivered copy from a sender that crashed). Undefined when the
   * inbox holds nothing to deliver.
   */
  take(inbox: Inbox): InFlight | undefined {
    for (let item = inbox.shift(); item !== undefined; item = inbox.shift()) {
      if (item.type === 'input' && this.#isDuplicate(item.header)) continue
      this.#inFlight = { item, eventNo: ++this.#eventNo, crashes: 0 }
      return this.#inFlight
    }
    return undefined
  }

  /** The in-flight event as it is posted (again) to a worker; its output ids start over at 0. */
  post(inFlight: InFlight): DeliveredEvent {
    this.#outputIndex = 0
    return forWorker(inFlight.item, inFlight.crashes > 0)
  }

  /** Id and redelivered flag of the next message the operator sends (empty outside an event). */
  nextMessage(): { messageId: string; redelivered: boolean } {
    const inFlight = this.#inFlight
    // The id depends only on the event that produced the message and its place in it, so a
    // receiver can recognise the same message sent again after this operator crashed.
    if (inFlight === undefined) return { messageId: '', redelivered: false }
    return { messageId: `${inFlight.eventNo}.${this.#outputIndex++}`, redelivered: inFlight.crashes > 0 }
  }

  /** The in-flight event committed: it is done for good. Returns it. */
  committed(): InFlight | undefined {
    const inFlight = this.#inFlight
    this.#inFlight = undefined
    if (inFlight?.item.type === 'input') this.#markSeen(inFlight.item.header)
    return inFlight
  }

  /**
   * The operator crashed: count it against the in-flight event. Returns that event when it has
   * now crashed the operator `maxRedeliveries` times and is an input: it is dropped (and counts
   * as consumed, so a redelivered copy is not run again); the caller reports it.
   */
  crashed(maxRedeliveries: number): InFlight | undefined {
    const inFlight = this.#inFlight
    if (inFlight === undefined) return undefined
    inFlight.crashes++
    if (inFlight.crashes < maxRedeliveries || inFlight.item.type !== 'input') return undefined
    this.#markSeen(inFlight.item.header)
    this.#inFlight = undefined
    return inFlight
  }

  #isDuplicate(header: MessageHeader): boolean {
    if (header.senderOperator === '') return false
    const id = MESSAGE_ID.exec(header.messageId)
    if (id === null) return false
    const seen = this.#seen.get(`${header.senderNode}/${header.senderOperator}`)
    if (seen === undefined) return false
    const event = Number(id[1])
    const index = Number(id[2])
    return event < seen[0] || (event === seen[0] && index <= seen[1])
  }

  #markSeen(header: MessageHeader): void {
    if (header.senderOperator === '') return
    const id = MESSAGE_ID.exec(header.messageId)
    if (id === null) return
    this.#seen.set(`${header.senderNode}/${header.senderOperator}`, [Number(id[1]), Number(id[2])])
  }
}

/** The log line and the `_errors` payload for an input dropped as poison. */
export function poisonReport(operator: string, inFlight: InFlight, maxRedeliveries: number, reason: string): { text: string; payload: Uint8Array } {
  const item = inFlight.item
  if (item.type !== 'input') throw new TypeError('only an input can be poison')
  const { header } = item
  const sender = header.senderOperator === '' ? header.senderNode : `${header.senderNode}/${header.senderOperator}`
  const text = `dropped input "${item.id}" (sequence ${header.sequence} from ${sender}) as poison: it crashed the operator ${inFlight.crashes} times (max_redeliveries ${maxRedeliveries}); last error: ${reason}`
  const payload = encodeJson({
    operator,
    input: item.id,
    sequence: header.sequence.toString(),
    sender,
    messageId: header.messageId,
    crashes: inFlight.crashes,
    error: reason,
  })
  return { text, payload }
}

/**
 * The event as posted to the worker: an input delivered again is marked so, and its bytes are
 * trimmed to a buffer of their own first (structured clone copies a view's whole buffer).
 * Posting copies the bytes into the worker, never transfers them: the original stays here
 * until the event commits, so it can be delivered again after a crash.
 */
export function forWorker(event: DeliveredEvent, redelivered: boolean): DeliveredEvent {
  if (event.type !== 'input') return event
  const data = ownsWholeBuffer(event.data) ? event.data : copyBytes(event.data)
  const header = redelivered ? { ...event.header, redelivered: true } : event.header
  return { ...event, header, data }
}
