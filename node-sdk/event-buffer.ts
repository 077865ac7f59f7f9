/**
 * The events a node received and its program has not taken yet, in arrival order, and the one
 * waiter (the program's `events()` loop) woken when more come or the stream ends.
 *
 * Everything a node receives joins this one queue: supervisor events (numbered in push mode,
 * see push-credit.ts), best-effort messages straight from their senders (unnumbered, tagged
 * with their input so its `queue_size` can hold here, see direct-inputs.ts), and placeholders
 * (`event` undefined) for numbered messages the program must never see but that count as
 * consumed when their turn comes.
 *
 * @module
 */
import type { DoraEvent } from './events.js'

export interface BufferedEvent {
  /** undefined: consumed unseen (an input that could not be read, a held or replaced event). */
  event: DoraEvent | undefined
  /** Push mode's number of the event (0: not numbered). */
  seq: number
  /** The direct input it came on (best effort or a link log), if it came straight from its sender. */
  direct?: string
  /**
   * On a reliable direct input: the input and the entry of the sender's link log this item is
   * (a message, or the sender's close), consumed when the program is done with it (link-inputs.ts).
   */
  link?: { input: string; seq: bigint }
}

export class EventBuffer {
  readonly #items: BufferedEvent[] = []
  /** Best-effort input id -> how many of its messages wait here. */
  readonly #directQueued = new Map<string, number>()
  #waiter: ((ended: boolean) => void) | undefined

  get length(): number {
    return this.#items.length
  }

  /** A waiter is parked: the program asked for more with nothing buffered. */
  get waiting(): boolean {
    return this.#waiter !== undefined
  }

  /** Queue an item and wake the waiter. */
  push(item: BufferedEvent): void {
    this.#items.push(item)
    this.wake(false)
  }

  /**
   * Queue a direct message of input `id` (`linkSeq`: its link log entry), holding that input to
   * `limit` waiting messages: at the limit its oldest waiting message makes room
   * (`drop_oldest`). True when one was dropped.
   */
  pushDirect(id: string, event: DoraEvent, limit: number, linkSeq?: bigint): boolean {
    const queued = this.#directQueued.get(id) ?? 0
    let dropped = false
    if (queued >= limit) {
      const oldest = this.#items.findIndex((item) => item.direct === id)
      if (oldest >= 0) this.#items.splice(oldest, 1)
      dropped = true
    } else this.#directQueued.set(id, queued + 1)
    this.push(linkSeq === undefined ? { event, seq: 0, direct: id } : { event, seq: 0, direct: id, link: { input: id, seq: linkSeq } })
    return dropped
  }

  /** The oldest item, taken out; undefined when empty. */
  shift(): BufferedEvent | undefined {
    const item = this.#items.shift()
    if (item?.direct !== undefined) this.#directQueued.set(item.direct, (this.#directQueued.get(item.direct) ?? 1) - 1)
    return item
  }

  /** Park until something is pushed (false) or the stream ends (true). One waiter at a time. */
  wait(): Promise<boolean> {
    return new Promise<boolean>((resolve) => (this.#waiter = resolve))
  }

  /** Wake the parked waiter, if any; `ended`: no more will come (or it should stop waiting). */
  wake(ended: boolean): void {
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.(ended)
  }
}
