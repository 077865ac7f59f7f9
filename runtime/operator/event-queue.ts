/**
 * The worker's queue of events waiting to be handled, in order: the host's (it may post the
 * next ones before this one's `done`: pipelining) and those that came over direct links
 * (worker-links.ts). A linked input's queue rule is applied here, since the host never sees
 * those messages: past its `queue_size` waiting, the oldest of that input goes (`drop_oldest`,
 * as the host's inbox does for the others).
 *
 * @module
 */
import type { DoraEvent } from '../../node-sdk/events.js'
import type { LinkedEvent } from './worker-links.js'

export type Queued = { event: DoraEvent; linked?: undefined } | { event: DoraEvent; linked: LinkedEvent }

export class EventQueue {
  readonly #items: Queued[] = []
  /** Per input fed by links: its events waiting here. */
  readonly #linked = new Map<string, number>()

  get length(): number {
    return this.#items.length
  }

  /** An event the host posted. */
  push(event: DoraEvent): void {
    this.#items.push({ event })
  }

  /** An event that came over a link; returns the oldest of its input when this displaced it. */
  pushLinked(linked: LinkedEvent): LinkedEvent | undefined {
    const waiting = this.#linked.get(linked.inputId) ?? 0
    let dropped: LinkedEvent | undefined
    if (waiting >= linked.queueSize) {
      const at = this.#items.findIndex((q) => q.linked?.inputId === linked.inputId)
      if (at >= 0) dropped = this.#items.splice(at, 1)[0]?.linked
    }
    if (dropped === undefined) this.#linked.set(linked.inputId, waiting + 1)
    this.#items.push({ event: linked.event, linked })
    return dropped
  }

  /** The next event to handle. */
  shift(): Queued | undefined {
    const next = this.#items.shift()
    const linked = next?.linked
    if (linked !== undefined) this.#linked.set(linked.inputId, (this.#linked.get(linked.inputId) ?? 1) - 1)
    return next
  }
}
