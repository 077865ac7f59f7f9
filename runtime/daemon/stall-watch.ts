/**
 * Notices when this process's event loop was held up, and says for how long.
 *
 * Why: the background supervisor answers control requests, fires timers and moves messages on
 * one thread. When that thread does not run for seconds (a machine loaded far past its cores, a
 * long synchronous step), a CLI command times out ("did not answer within 10 s") and timers fire
 * late, and nothing in the daemon's log said why. A timer every {@link STALL_CHECK_MS} that
 * fires that much late (or more) is the measure: it counts every cause alike, the process
 * waiting for a core as much as a long step of its own, which is what a user waiting on the
 * supervisor experiences. One wake-up per check; the timer never keeps the process alive.
 *
 * @module
 */

/** How often the loop is checked. */
export const STALL_CHECK_MS = 250
/** A delay of at least this long is reported. */
export const STALL_REPORT_MS = 2000

/** What a hold-up of `heldUpMs` meant, said the same by the background supervisor and `dora-ts run`. */
export function stallText(heldUpMs: number): string {
  return `the supervisor was held up for ${(heldUpMs / 1000).toFixed(1)} s (the machine is loaded past its cores, or a step ran long): control requests, timers and messages waited that long`
}

export interface StallWatchOptions {
  checkMs?: number
  reportMs?: number
}

/**
 * Calls `report` with how long the loop was held up (ms), after each hold-up of at least
 * `reportMs`; {@link close} stops it.
 *
 * @example
 * using watch = new StallWatch((ms) => process.stderr.write(`held up ${ms} ms\n`))
 */
export class StallWatch implements Disposable {
  readonly #timer: ReturnType<typeof setInterval>

  constructor(report: (heldUpMs: number) => void, options: StallWatchOptions = {}) {
    const { checkMs = STALL_CHECK_MS, reportMs = STALL_REPORT_MS } = options
    let last = performance.now()
    this.#timer = setInterval(() => {
      const now = performance.now()
      const late = now - last - checkMs
      last = now
      if (late >= reportMs) report(Math.round(late))
    }, checkMs)
    this.#timer.unref()
  }

  close(): void {
    clearInterval(this.#timer)
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
