/**
 * Backpressure on an operator (see runtime/supervisor/flow-control.ts): while any of its
 * outputs is paused, it gets no new input, for at most MAX_PAUSE_MS per input. A pause that
 * lasts that long lets one input through and starts again, so a cycle of backpressure inputs
 * slows to a crawl instead of deadlocking, and says so once.
 */
import { MAX_PAUSE_MS } from '../supervisor/flow-control.js'

export class PauseGate {
  #pausedSince: number | undefined
  #timer: NodeJS.Timeout | undefined
  #warned = false
  readonly #wake: () => void
  readonly #warn: (text: string) => void

  /**
   * @param wake called when the operator may take an input again (it resumed, or a pause ran out).
   * @param warn called once per stretch of pauses that hit MAX_PAUSE_MS.
   */
  constructor(wake: () => void, warn: (text: string) => void) {
    this.#wake = wake
    this.#warn = warn
  }

  /** The operator's paused outputs are now `outputs` (empty: none). */
  set(outputs: ReadonlySet<string>): void {
    clearTimeout(this.#timer)
    if (outputs.size === 0) {
      this.#pausedSince = undefined
      this.#warned = false
      this.#wake()
      return
    }
    this.#pausedSince ??= performance.now()
    this.#wakeAtPauseEnd()
  }

  /** True when an input must wait now; false lets one through (and restarts a pause that ran out). */
  holds(): boolean {
    if (this.#pausedSince === undefined) return false
    if (performance.now() - this.#pausedSince < MAX_PAUSE_MS) return true
    if (!this.#warned) {
      this.#warned = true
      this.#warn(
        `its outputs have been paused by backpressure for ${MAX_PAUSE_MS / 1000} s; letting one input through every ${MAX_PAUSE_MS / 1000} s (a cycle of backpressure inputs?)`,
      )
    }
    this.#pausedSince = performance.now()
    this.#wakeAtPauseEnd()
    return false
  }

  /** Wake the operator when the current pause reaches MAX_PAUSE_MS. */
  #wakeAtPauseEnd(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#wake(), Math.max(0, this.#pausedSince! + MAX_PAUSE_MS - performance.now())).unref()
  }
}
