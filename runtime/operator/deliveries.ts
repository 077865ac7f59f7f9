/**
 * The exactly-once bookkeeping of one operator, kept across its worker's crashes: an event is
 * in flight from the moment it is taken from the inbox until its `done` has been committed, so
 * a restarted worker gets it again, marked redelivered; every message the operator sends gets
 * an id made of the event that produced it and its place in it (`<event>.<index>`, event
 * numbers continuing from the last committed one across runs, never reused), or of the launch
 * whose init()/restoreState sent it (`i<launch>.<index>`); a receiver drops a copy it has
 * already committed, comparing ids per sender, and that record (`seen`) is committed with its
 * state; an input that crashed the operator `max_redeliveries` times is dropped as poison and
 * reported on the `_errors` output.
 */
import { copyBytes, ownsWholeBuffer } from '../../src/bytes.js'
import type { DeliveredEvent, MessageHeader } from '../../src/events.js'
import type { OperatorMeta } from '../../src/store/state/store.js'
import { encodeJson } from '../../node-sdk/payload.js'
import type { Inbox } from '../supervisor/inbox.js'

/** An event handed to the worker and not yet committed. */
export interface InFlight {
  item: DeliveredEvent
  eventNo: number
  /** Crashes of the operator this event caused (a handler throwing, a timeout, ...). */
  crashes: number
  /** True once a worker crashed (for any reason) while handling it: it goes again marked redelivered. */
  interrupted: boolean
  /**
   * Its bytes were transferred to a worker (they are gone from here): to post it again, the
   * host reads them back from the outbox (host.ts #post).
   */
  transferred: boolean
  /** Its message id, parsed once when taken (the dedup check), for the record once committed. */
  dedup?: DedupId | undefined
}

/** A message id as the dedup record keeps it: its `sender>input` key and its place. */
interface DedupId {
  key: string
  n: number
  index: number
}

/** Id of a message produced while handling event `eventNo`: `<event>.<index>`. */
const MESSAGE_ID = /^(\d+)\.(\d+)$/
/** Id of a message sent by init()/restoreState at launch `launch`: `i<launch>.<index>`. */
const INIT_ID = /^i(\d+)\.(\d+)$/

/** The sender key of an input from an operator (`node/operator`), undefined from a custom node. */
export function senderOf(header: MessageHeader): string | undefined {
  return header.senderOperator === '' ? undefined : `${header.senderNode}/${header.senderOperator}`
}

export class Deliveries {
  /** Taken from the inbox, posted or not, not yet committed, oldest first. */
  readonly #inFlight: InFlight[] = []
  /** Number of the last event taken. */
  #eventNo = 0
  /** Number of the last event committed. */
  #committedNo = 0
  /** Launches whose init()/restoreState sent messages. */
  #launches = 0
  /**
   * `sender node/operator>input` -> the id of its last message this operator committed there:
   * [event, index]; init messages under `sender>input#init` -> [launch, index].
   */
  readonly #seen = new Map<string, [number, number]>()
  /**
   * The same record as the meta commits it (bigint event numbers), kept beside #seen so that
   * the meta of each event is a copy of one Map, not a Map rebuilt entry by entry with a
   * BigInt each (every event of a stream commits one).
   */
  readonly #seenMeta = new Map<string, [bigint, number]>()

  /** Continue from what the operator committed last (its meta), when the run starts. */
  resume(meta: OperatorMeta): void {
    this.#eventNo = Number(meta.lastEvent)
    this.#committedNo = this.#eventNo
    this.#launches = Number(meta.launches ?? 0n)
    this.#seen.clear()
    this.#seenMeta.clear()
    for (const [sender, [event, index]] of meta.seen) {
      this.#seen.set(sender, [Number(event), index])
      this.#seenMeta.set(sender, [event, index])
    }
  }

  /** The oldest event handed to the worker and not yet committed. */
  get inFlight(): InFlight | undefined {
    return this.#inFlight[0]
  }

  /** Every event taken and not yet committed, oldest first. */
  get uncommitted(): readonly InFlight[] {
    return this.#inFlight
  }

  /** Number of the last event committed. */
  get committedNo(): number {
    return this.#committedNo
  }

  /** Number of the last event taken. */
  get eventNo(): number {
    return this.#eventNo
  }

  /**
   * Take the next event from `inbox` as in flight, skipping inputs this operator has already
   * committed (a copy from a sender that crashed). Undefined when the inbox holds nothing to
   * deliver, or when `held` says the next event to deliver (the first one past the copies)
   * must wait in the inbox (its input's queue rules); it stays there. `skipped` gets each
   * input skipped (its outbox entry can go).
   */
  take(inbox: Inbox, skipped?: (item: DeliveredEvent) => void, held?: (item: DeliveredEvent) => boolean): InFlight | undefined {
    for (let item = inbox.peek(); item !== undefined; item = inbox.peek()) {
      const dedup = item.type === 'input' ? dedupIdOf(item.id, item.header) : undefined
      if (dedup !== undefined && this.#seenBefore(dedup)) {
        inbox.shift()
        skipped?.(item)
        continue
      }
      if (held?.(item) === true) return undefined
      inbox.shift()
      const inFlight: InFlight = { item, eventNo: ++this.#eventNo, crashes: 0, interrupted: false, transferred: false, dedup }
      this.#inFlight.push(inFlight)
      return inFlight
    }
    return undefined
  }

  /** The event as it is posted (again) to a worker. */
  post(inFlight: InFlight): DeliveredEvent {
    return forWorker(inFlight.item, inFlight.interrupted)
  }

  /**
   * Ids of the `count` messages the oldest in-flight event sent: they depend only on the event
   * and their place in it, so the same event handled again after a crash sends the same ids.
   * They are not marked redelivered when it ran before: nothing an event sends is routed
   * before it commits, so no receiver saw what the crashed attempt sent.
   */
  messageIds(count: number): string[] {
    const inFlight = this.#inFlight[0]
    if (inFlight === undefined) return new Array<string>(count).fill('')
    const ids = new Array<string>(count)
    const prefix = `${inFlight.eventNo}.`
    for (let i = 0; i < count; i++) ids[i] = prefix + i
    return ids
  }

  /** The launch number for messages sent by init()/restoreState now, and their ids. */
  launchIds(count: number): { launch: number; ids: string[] } {
    const launch = this.#launches + 1
    return { launch, ids: Array.from({ length: count }, (_, i) => `i${launch}.${i}`) }
  }

  /** The launch's messages were committed: the next launch that sends gets a new number. */
  launchCommitted(launch: number): void {
    this.#launches = launch
  }

  /** The oldest in-flight event committed: it is done for good. Returns it. */
  committed(): InFlight | undefined {
    const inFlight = this.#inFlight.shift()
    if (inFlight === undefined) return undefined
    this.#committedNo = inFlight.eventNo
    const dedup = inFlight.dedup
    if (dedup !== undefined) {
      this.#seen.set(dedup.key, [dedup.n, dedup.index])
      this.#seenMeta.set(dedup.key, [BigInt(dedup.n), dedup.index])
    }
    return inFlight
  }

  /**
   * The oldest in-flight event came back unhandled at a Stop of the dataflow (its message waits
   * in the outbox for the next run): it leaves without a commit, like {@link drop}'s. Returns it.
   */
  setAside(): InFlight | undefined {
    return this.#inFlight.shift()
  }

  /** The meta to commit now (after {@link committed} or {@link launchCommitted}). */
  meta(): OperatorMeta {
    // A copy: #seenMeta changes with the next event, this meta may be committed later (its
    // entries are replaced, never changed in place, so they can be shared).
    return { lastEvent: BigInt(this.#committedNo), seen: new Map(this.#seenMeta), launches: BigInt(this.#launches) }
  }

  /**
   * The operator crashed. When `caused` (by the oldest in-flight event: its handler threw, timed
   * out, ...), count it against that event; returns the event when it has now crashed the
   * operator `maxRedeliveries` times and is an input: it is dropped (and counts as consumed,
   * so a redelivered copy is not run again); the caller commits and reports it. Every later
   * in-flight event is handed back to be posted again.
   */
  crashed(maxRedeliveries: number, caused: boolean): InFlight | undefined {
    const inFlight = this.#inFlight[0]
    if (inFlight === undefined) return undefined
    inFlight.interrupted = true
    if (!caused) return undefined
    inFlight.crashes++
    if (inFlight.crashes < maxRedeliveries || inFlight.item.type !== 'input') return undefined
    return this.committed()
  }

  /**
   * Forget the in-flight events `lost` picks (best-effort inputs a crash took with it): they are
   * never handled nor committed; their numbers are simply not used. Only between a crash and
   * the next launch, when no in-flight event has its `done` pending. Returns them.
   */
  drop(lost: (inFlight: InFlight) => boolean): InFlight[] {
    const dropped: InFlight[] = []
    for (let i = this.#inFlight.length - 1; i >= 0; i--) {
      const inFlight = this.#inFlight[i]!
      if (!lost(inFlight)) continue
      this.#inFlight.splice(i, 1)
      dropped.unshift(inFlight)
    }
    return dropped
  }

  /** True when this operator already committed the message with this header on input `inputId`. */
  isDuplicate(inputId: string, header: MessageHeader): boolean {
    const id = dedupIdOf(inputId, header)
    return id !== undefined && this.#seenBefore(id)
  }

  #seenBefore(id: DedupId): boolean {
    const seen = this.#seen.get(id.key)
    if (seen === undefined) return false
    return id.n < seen[0] || (id.n === seen[0] && id.index <= seen[1])
  }
}

/** The dedup id of a message from an operator on input `inputId`; undefined when it has none (from a custom node, no id). */
function dedupIdOf(inputId: string, header: MessageHeader): DedupId | undefined {
  const key = seenKey(inputId, header)
  if (key === undefined) return undefined
  const id = parseId(header.messageId)
  if (id === undefined) return undefined
  return { key: id.init ? `${key}#init` : key, n: id.n, index: id.index }
}

/**
 * Ids only grow per sender and input (the same message may reach two inputs of one receiver):
 * the dedup record is kept per `sender>input`.
 */
function seenKey(inputId: string, header: MessageHeader): string | undefined {
  const sender = senderOf(header)
  return sender === undefined ? undefined : `${sender}>${inputId}`
}

function parseId(messageId: string): { init: boolean; n: number; index: number } | undefined {
  const event = MESSAGE_ID.exec(messageId)
  if (event !== null) return { init: false, n: Number(event[1]), index: Number(event[2]) }
  const init = INIT_ID.exec(messageId)
  if (init !== null) return { init: true, n: Number(init[1]), index: Number(init[2]) }
  return undefined
}

/** The log line and the `_errors` payload for an input dropped as poison. */
export function poisonReport(operator: string, inFlight: InFlight, maxRedeliveries: number, reason: string): { text: string; payload: Uint8Array } {
  const item = inFlight.item
  if (item.type !== 'input') throw new TypeError('only an input can be poison')
  const { header } = item
  const sender = header.senderOperator === '' ? header.senderNode : `${header.senderNode}/${header.senderOperator}`
  const text = `dropped input "${item.id}" (sequence ${header.sequence} from ${sender}) as poison: it crashed the operator ${inFlight.crashes === 1 ? 'once' : `${inFlight.crashes} times`} (max_redeliveries ${maxRedeliveries}); last error: ${reason}`
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
 * Posting copies the bytes into the worker unless the host transfers them (an input only this
 * operator receives, kept in the outbox until the event commits: see host.ts #post); a copy
 * keeps the original here, so it can be delivered again after a crash.
 */
export function forWorker(event: DeliveredEvent, redelivered: boolean): DeliveredEvent {
  if (event.type !== 'input') return event
  const data = ownsWholeBuffer(event.data) ? event.data : copyBytes(event.data)
  const header = redelivered ? { ...event.header, redelivered: true } : event.header
  return { ...event, header, data }
}
