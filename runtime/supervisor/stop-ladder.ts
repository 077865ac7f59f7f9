/**
 * dora's stop ladder for a whole run: the first stop request sends Stop to every live unit and
 * gives them `graceMs` to end by themselves; then every unit still alive is terminated
 * (SIGTERM / worker terminate), and `killAfterMs` later killed (SIGKILL). A second request
 * (a second Ctrl-C, `stop --grace 0`) skips the grace period. It also holds the run's other
 * deadline (`--stop-after`), so one `clear()` drops every timer when the run ends.
 * Every timer is unref()'d: the units keep the process alive, not their deadlines.
 */

/** After Stop escalates to SIGTERM, how long before SIGKILL. */
export const KILL_AFTER_TERM_MS = 3000

/** What a stop request does: the first sends Stop and starts the grace period; any later one escalates at once. */
export type StopStep = 'send-stop' | 'escalate'

/** The step for the `requests`-th stop request (counting from 1). */
export function stopStep(requests: number): StopStep {
  return requests <= 1 ? 'send-stop' : 'escalate'
}

export interface StopLadderOptions {
  graceMs: number
  killAfterMs?: number
  /** Send Stop to every unit still alive. */
  sendStop(): void
  /** Terminate every unit still alive, with this reason for its report. */
  terminate(reason: string): void
  /** Kill every unit (those already ended ignore it). */
  kill(reason: string): void
  /**
   * The reason `terminate` gets when a later request skips the grace period; by default the
   * grace period's own (a second Ctrl-C of a whole run). A node stopped alone says it was asked again.
   */
  askedAgainReason?: string | undefined
}

export class StopLadder {
  readonly #options: StopLadderOptions
  readonly #timers: NodeJS.Timeout[] = []
  #requests = 0
  /** The grace period the first request gave (its own, or the run's). */
  #graceMs: number

  constructor(options: StopLadderOptions) {
    this.#options = options
    this.#graceMs = options.graceMs
  }

  /** Stop requests so far. */
  get requests(): number {
    return this.#requests
  }

  /**
   * One more stop request: take the next step. `graceMs`: the first request's own grace period
   * (`dora-ts stop --grace 2s`), instead of the run's.
   */
  request(graceMs?: number): void {
    this.#requests++
    if (stopStep(this.#requests) === 'send-stop') {
      this.#graceMs = graceMs ?? this.#options.graceMs
      this.#options.sendStop()
      this.#after(this.#graceMs, () => this.#escalate())
    } else {
      this.#escalate(this.#options.askedAgainReason)
    }
  }

  /** Run `fn` after `ms` unless the ladder is cleared first (the `--stop-after` deadline). */
  deadline(ms: number, fn: () => void): void {
    this.#after(ms, fn)
  }

  /** Drop every pending step and deadline (the run has ended). */
  clear(): void {
    for (const timer of this.#timers.splice(0)) clearTimeout(timer)
  }

  #escalate(reason = `did not stop within the ${this.#graceMs / 1000} s grace period and was terminated`): void {
    this.#options.terminate(reason)
    this.#after(this.#options.killAfterMs ?? KILL_AFTER_TERM_MS, () => this.#options.kill('did not exit after SIGTERM and was killed'))
  }

  #after(ms: number, fn: () => void): void {
    this.#timers.push(setTimeout(fn, ms).unref())
  }
}
