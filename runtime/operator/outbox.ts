/**
 * The supervisor's side of the outbox (src/store/state/outbox.ts): the receivers of an output
 * whose copies are committed with the producing event (operators and custom nodes), the sort
 * key of every message routed or replayed in this process (so its consumer can delete its
 * entry: an operator in the same transaction as its own state, a custom node when it asks for
 * its next batch), and the key of the entry an input consumes.
 */
import type { DeliveredEvent, MessageHeader } from '../../src/events.js'
import { errorMessage } from '../../src/errors.js'
import { outboxKey } from '../../src/store/state/outbox.js'
import { senderOf } from './deliveries.js'

/** A receiver of an output whose copy goes into the outbox. */
export interface OutboxRoute {
  receiver: string
  inputId: string
}

/** The outbox entry of one receiver of a message, when it has only one: its key, built once. */
export interface OnlyEntry {
  receiver: string
  inputId: string
  key: Buffer
}

/**
 * What {@link orders} keeps of a message: its sort key, the key of its only entry if known, and
 * the segment its entries reference if the commit that put them said (OutboxPut.file.segment).
 */
interface OrderRecord {
  order: string
  only: OnlyEntry | undefined
  segment: string | undefined
}

/**
 * The outbox sort key of each message header routed or replayed by this process. Every
 * receiver shares the header object (dataflow-run.ts #route), so one entry serves them all;
 * a header is forgotten with the message.
 */
const orders = new WeakMap<MessageHeader, OrderRecord>()

/**
 * Remember the outbox sort key of a message about to be routed; `only`: the entry of its only
 * receiver, whose key the commit built already (the receiver's commit deletes it by that key:
 * building it again from four strings was ~1 us a message on the routing thread). `segment`:
 * the segment file its entries reference, when its commit made one of a staged payload.
 */
export function rememberOrder(header: MessageHeader, order: string, only?: OnlyEntry, segment?: string): void {
  orders.set(header, { order, only, segment })
}

/**
 * The segment the outbox entry of `item` references, when the commit that put it in this
 * process said (its consumer then deletes the entry without reading the reference), else
 * undefined.
 */
export function consumedSegment(item: DeliveredEvent): string | undefined {
  return item.type === 'input' ? orders.get(item.header)?.segment : undefined
}

/**
 * Payloads that reach exactly one receiver, which also has them in the outbox: that
 * receiver's host may transfer them to its worker instead of copying (no one else reads
 * them, and the outbox holds them for a redelivery).
 */
const exclusive = new WeakSet<Uint8Array>()

/** `data` will be routed to one receiver only, through the outbox. */
export function markExclusive(data: Uint8Array): void {
  exclusive.add(data)
}

/** Whether `data` was marked by {@link markExclusive}. */
export function isExclusive(data: Uint8Array): boolean {
  return exclusive.has(data)
}

/** `to` is a copy of `from` (marked redelivered, say): it stands for the same outbox entry. */
export function carryOrder(from: MessageHeader, to: MessageHeader): void {
  const record = orders.get(from)
  if (record !== undefined) orders.set(to, record)
}

/**
 * The outbox key of the entry `receiver` consumes with `item`, or undefined when it has none
 * (an input from a timer, or from a custom node without a store; an event that is not an input).
 */
export function consumedKey(receiver: string, item: DeliveredEvent): Buffer | undefined {
  if (item.type !== 'input') return undefined
  const record = orders.get(item.header)
  if (record === undefined) return undefined
  const only = record.only
  if (only !== undefined && only.receiver === receiver && only.inputId === item.id) return only.key
  // A custom node's messages are keyed by its node id (runtime/supervisor/node-outputs.ts).
  const sender = senderOf(item.header) ?? item.header.senderNode
  return outboxKey(receiver, item.id, sender, record.order)
}

/**
 * `receiver` will never consume `items` again (it consumed them, or its queue dropped them):
 * delete their outbox entries with `discard` (at once, or with the next group commit, calling
 * `done` then), or the next run would deliver them again. A failure is only reported (`warn`):
 * the messages then come again, at least once.
 */
export function discardConsumed(
  receiver: string,
  items: readonly DeliveredEvent[],
  discard: (keys: Buffer[], done: (err?: unknown) => void) => void,
  warn: (text: string) => void,
): void {
  const keys: Buffer[] = []
  for (const item of items) {
    const key = consumedKey(receiver, item)
    if (key !== undefined) keys.push(key)
  }
  if (keys.length === 0) return
  const failed = (err: unknown): void => warn(`could not remove consumed messages from the outbox (the next run may deliver them again): ${errorMessage(err)}`)
  try {
    discard(keys, (err) => {
      if (err !== undefined) failed(err)
    })
  } catch (err) {
    failed(err)
  }
}
