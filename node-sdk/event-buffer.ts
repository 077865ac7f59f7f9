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

/**
 * A first-in first-out queue with O(1) push and shift at any length (Array.prototype.shift
 * moves every element once the array is large, and a reliable link catching up on a backlog of
 * a million messages queues and drops that many).
 */
class Fifo<T> {
  #items: T[] = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  /** The oldest item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined as T
    // Drop the consumed front now and then: amortized O(1).
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Keep only the items `keep` says to, in order (O(n): at a Stop, see EventBuffer.withholdLinks and setAsideAtStop). */
  retain(keep: (item: T) => boolean): void {
    this.#items = this.#items.slice(this.#head).filter(keep)
    this.#head = 0
  }
}

export class EventBuffer {
  readonly #items = new Fifo<BufferedEvent>()
  /**
   * Direct input id -> its messages waiting here, oldest first (the same objects as in
   * #items): the oldest is dropped in O(1), a reliable link catching up on a long backlog
   * drops most of what it reads (see link-inputs.ts).
   */
  readonly #directQueued = new Map<string, Fifo<BufferedEvent>>()
  /** Items dropped where they stand (see pushDirect): skipped by shift(), not counted. */
  readonly #dropped = new WeakSet<BufferedEvent>()
  #droppedCount = 0
  /** Items from the supervisor waiting (neither a direct message nor a link log's close). */
  #fromSupervisor = 0
  /** Items read from a link log are kept from the program (see withholdLinks). */
  #linksWithheld = false
  #waiter: ((ended: boolean) => void) | undefined

  get length(): number {
    return this.#items.length - this.#droppedCount
  }

  /** Items from the supervisor waiting here (events, or placeholders consumed unseen). */
  get supervisorQueued(): number {
    return this.#fromSupervisor
  }

  /** What was read from link logs is kept from the program (see withholdLinks). */
  get linksWithheld(): boolean {
    return this.#linksWithheld
  }

  /** A waiter is parked: the program asked for more with nothing buffered. */
  get waiting(): boolean {
    return this.#waiter !== undefined
  }

  /** Queue an item and wake the waiter. */
  push(item: BufferedEvent): void {
    if (this.#linksWithheld && item.link !== undefined) return
    if (fromSupervisor(item)) this.#fromSupervisor++
    this.#items.push(item)
    this.wake(false)
  }

  /**
   * Queue a direct message of input `id` (`linkSeq`: its link log entry), holding that input to
   * `limit` waiting messages: at the limit its oldest waiting message makes room
   * (`drop_oldest`). True when one was dropped.
   */
  pushDirect(id: string, event: DoraEvent, limit: number, linkSeq?: bigint): boolean {
    // Read after the Stop (link-inputs.ts reads no more then): left in the log, as withheld ones.
    if (this.#linksWithheld && linkSeq !== undefined) return false
    let queued = this.#directQueued.get(id)
    if (queued === undefined) this.#directQueued.set(id, (queued = new Fifo()))
    let dropped = false
    if (queued.length >= limit) {
      // Marked where it stands (removing it from the middle of the queue would move the rest).
      const oldest = queued.shift()!
      this.#dropped.add(oldest)
      this.#droppedCount++
      oldest.event = undefined
      dropped = true
    }
    const item: BufferedEvent = linkSeq === undefined ? { event, seq: 0, direct: id } : { event, seq: 0, direct: id, link: { input: id, seq: linkSeq } }
    queued.push(item)
    this.push(item)
    return dropped
  }

  /** The link log entry of the oldest message of reliable direct input `id` waiting here, if any. */
  oldestLinkSeq(id: string): bigint | undefined {
    return this.#directQueued.get(id)?.peek()?.link?.seq
  }

  /** Messages of direct input `id` waiting here. */
  directQueued(id: string): number {
    return this.#directQueued.get(id)?.length ?? 0
  }

  /**
   * The dataflow is stopping: what was read from link logs and not handed over yet is never
   * handed over, so the Stop comes next, not after up to LINK_READ_AHEAD messages a receiver
   * read ahead (a program taking 10 ms a message needed 41 s, four times the grace period). It
   * stays in its sender's log for the node's next run: each input's waiting messages stay
   * counted here ({@link oldestLinkSeq}, {@link directQueued}), so the cursor says they were
   * neither consumed nor accounted for. Best-effort messages and the supervisor's events keep
   * their places: nothing else holds them.
   */
  withholdLinks(): void {
    if (this.#linksWithheld) return
    this.#linksWithheld = true
    this.#items.retain((item) => {
      if (item.link === undefined) return true
      if (this.#dropped.delete(item)) this.#droppedCount--
      return false
    })
  }

  /**
   * A Stop of the dataflow came (SupervisorToNode.Stop's lists): the supervisor's inputs of
   * `waiting` not handed over yet leave the queue, unconsumed (the supervisor keeps them for the
   * node's next run), and those of `dropped` (timer ticks) stay as placeholders, consumed
   * unseen; so the Stop, queued after them, comes next. Everything else keeps its place.
   * Returns the number of the first one that left (undefined: none did).
   */
  setAsideAtStop(waiting: ReadonlySet<string>, dropped: ReadonlySet<string>): number | undefined {
    let first: number | undefined
    this.#items.retain((item) => {
      const event = item.event
      if (item.seq === 0 || event?.type !== 'input' || !fromSupervisor(item)) return true
      if (dropped.has(event.id)) item.event = undefined
      if (!waiting.has(event.id)) return true
      this.#fromSupervisor--
      if (first === undefined || item.seq < first) first = item.seq
      return false
    })
    return first
  }

  /** The oldest item, taken out; undefined when empty. */
  shift(): BufferedEvent | undefined {
    for (;;) {
      const item = this.#items.shift()
      if (item === undefined || !this.#dropped.has(item)) {
        if (item?.direct !== undefined) this.#directQueued.get(item.direct)?.shift()
        if (item !== undefined && fromSupervisor(item)) this.#fromSupervisor--
        return item
      }
      this.#dropped.delete(item)
      this.#droppedCount--
    }
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

/** Whether `item` came from the supervisor (not straight from a sender, nor a link log's close). */
function fromSupervisor(item: BufferedEvent): boolean {
  return item.direct === undefined && item.link === undefined
}
