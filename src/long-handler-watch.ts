/**
 * Says when a handler has been on one event for long: one that does not return (a loop, a GPU
 * call or a device read that never ends) stops an operator's or a node's outputs, and nothing
 * said so: its inputs queued and dropped, its outputs stopped, the run looked healthy. A warning
 * once per stall, and a line when the handler returns after all. Used by an operator's host
 * (runtime/operator/host.ts) and by a custom node's SDK (node-sdk/handler-watch.ts).
 *
 * Not a timer per event: events run at 100 000 a second, so the watcher counts the ones got
 * through (an increment) and a check once a second looks whether that count moved. A check that
 * comes late by the warning time or more means the watching thread itself was blocked (a node's
 * handler in a synchronous call): said once it runs again, if the watcher wants it (`blocked`).
 *
 * @module
 */

/** A stall's length as its lines give it: tenths under 10 s, whole seconds from there. */
export function secondsText(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0)
}

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
  /** The check ran `ms` late: this thread ran nothing else that long. */
  blocked?: ((ms: number) => void) | undefined
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
  readonly #everyMs: number
  #checkedAt = performance.now()

  constructor(options: LongHandlerWatchOptions) {
    this.#options = options
    this.#everyMs = Math.min(CHECK_EVERY_MS, options.warnAfterMs)
    this.#interval = setInterval(() => this.#check(performance.now()), this.#everyMs)
    this.#interval.unref()
  }

  /** The worker got through an event (the hot path: a count only). */
  through(): void {
    this.#through++
    // Said now, not at the next check: by then the next event may have held it as long again,
    // and the line would give the two as one.
    if (this.#warned) this.#resumedAt(performance.now())
  }

  close(): void {
    clearInterval(this.#interval)
  }

  #check(now: number): void {
    const late = now - this.#checkedAt - this.#everyMs
    this.#checkedAt = now
    if (late >= this.#options.warnAfterMs) this.#options.blocked?.(late)
    const moved = this.#through !== this.#seen
    if (moved || !this.#options.busy()) {
      if (this.#warned && moved) this.#resumedAt(now)
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

  #resumedAt(now: number): void {
    this.#warned = false
    this.#options.resumed(now - this.#since)
    this.#seen = this.#through
    this.#since = now
  }
}
