/**
 * Says when an operator's worker has been on one event for long: a handler that does not
 * return (a loop, a GPU call or a device read that never ends) stops an operator's outputs, and
 * without a `timeout:` nothing said so: its inputs queued and dropped, its outputs stopped, the
 * run looked healthy. A warning once per stall, and a line when the handler returns after all.
 *
 * Not a timer per event: events run at 100 000 a second, so the host counts the ones its worker
 * got through (an increment) and a check once a second looks whether that count moved.
 *
 * @module
 */

/** How often the count is looked at (ms): a stall is said between its limit and this much later. */
const CHECK_EVERY_MS = 1000

export interface LongHandlerWatchOptions {
  /** Say so once the worker has been on one event this long (ms). */
  warnAfterMs: number
  /** Whether the worker has an event to handle (posted and not through). */
  busy: () => boolean
  /** The worker has been on one event for `ms`. */
  stalled: (ms: number) => void
  /** The event said stalled is through after all, `ms` after it was first seen. */
  resumed: (ms: number) => void
}

export class LongHandlerWatch {
  readonly #options: LongHandlerWatchOptions
  readonly #interval: NodeJS.Timeout
  /** Events the worker got through. */
  #through = 0
  /** #through at the last check, and when it was first seen at that value while busy. */
  #seen = -1
  #since = 0
  #warned = false

  constructor(options: LongHandlerWatchOptions) {
    this.#options = options
    this.#interval = setInterval(() => this.#check(performance.now()), Math.min(CHECK_EVERY_MS, options.warnAfterMs))
    this.#interval.unref()
  }

  /** The worker got through an event (the hot path: a count only). */
  through(): void {
    this.#through++
  }

  close(): void {
    clearInterval(this.#interval)
  }

  #check(now: number): void {
    const moved = this.#through !== this.#seen
    if (moved || !this.#options.busy()) {
      if (this.#warned && moved) this.#options.resumed(now - this.#since)
      this.#warned = false
      this.#seen = this.#through
      this.#since = now
      return
    }
    if (!this.#warned && now - this.#since >= this.#options.warnAfterMs) {
      this.#warned = true
      this.#options.stalled(now - this.#since)
    }
  }
}
