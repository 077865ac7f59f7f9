/**
 * dora's restart policy, applied to operators and custom nodes alike: `never`, `on-failure`
 * (default for operators) or `always`; at most `max_restarts` restarts (0 = unlimited) within
 * `restart_window` seconds (or the whole run); a delay of `restart_delay` that doubles with
 * each restart of a crash loop (and of the window, with one), up to `max_restart_delay`.
 *
 * A crash loop ends when the unit runs for {@link STABLE_RUN_MS} (or `max_restart_delay`, if
 * longer): its next restart waits `restart_delay` again, as Docker's back-off resets. Before, without a
 * window the delay doubled with every restart of the run: a driver that crashed once an hour
 * on a robot running for days waited the full 10 s from its eighth crash on, every time.
 */
import type { RestartSpec } from '../../src/spec/types.js'

export type RestartDecision = { restart: true; delayMs: number; attempt: number } | { restart: false; reason: string }

/**
 * A unit that ran this long (or `max_restart_delay`, if longer) before it ended was not in a
 * crash loop: its restart waits `restart_delay` again. Docker's back-off resets after 10 s of
 * running too.
 */
export const STABLE_RUN_MS = 10_000

/** Why nothing restarts once the dataflow's Stop was queued (stop is final), whatever the policy. */
export const STOPPING_REASON = 'the dataflow is stopping'

export class RestartBudget {
  readonly #spec: RestartSpec
  readonly #restarts: number[] = []
  readonly #now: () => number
  /** Restarts since the unit last ran for STABLE_RUN_MS: the delay's exponent. */
  #loop = 0
  /** When the last restart's unit started (its decision plus its delay), in the clock's ms. */
  #lastStartMs: number | undefined

  constructor(spec: RestartSpec, now: () => number = () => performance.now()) {
    this.#spec = spec
    this.#now = now
  }

  /**
   * Whether a clean end may be restarted (`always`, restarts left), asked before it ends: a
   * node told so keeps its outputs open across the restart (Registration.restartsWhenDone). With
   * a `restart_window` the answer is yes whatever the count, as restarts leave the window by
   * the time the unit ends; one that then finds no room ends for good, and its outputs close
   * then. Without a window the count only grows, so a no now is a no at its end.
   */
  mayRestartCleanEnd(): boolean {
    const { policy, maxRestarts, restartWindow } = this.#spec
    return policy === 'always' && (maxRestarts === 0 || restartWindow !== undefined || this.#restarts.length < maxRestarts)
  }

  /**
   * Decide what to do after the unit ended. `failed` is false for a clean exit (which only
   * `always` restarts); `stopping`: the dataflow's Stop was queued for the unit, so it ends.
   */
  next(failed: boolean, stopping = false): RestartDecision {
    const { policy, maxRestarts, restartWindow } = this.#spec
    if (stopping) return { restart: false, reason: STOPPING_REASON }
    if (policy === 'never') return { restart: false, reason: 'restart_policy is never' }
    if (!failed && policy !== 'always') return { restart: false, reason: 'it ended cleanly' }
    const now = this.#now()
    const inWindow = restartWindow === undefined ? this.#restarts.length : this.#restarts.filter((t) => now - t <= restartWindow * 1000).length
    if (maxRestarts > 0 && inWindow >= maxRestarts) {
      const window = restartWindow === undefined ? '' : ` within ${restartWindow} s`
      return { restart: false, reason: `it was restarted ${inWindow === 1 ? 'once' : `${inWindow} times`}${window} (max_restarts ${maxRestarts})` }
    }
    const { restartDelay, maxRestartDelay } = this.#spec
    if (this.#lastStartMs !== undefined && now - this.#lastStartMs >= Math.max(STABLE_RUN_MS, maxRestartDelay * 1000)) this.#loop = 0
    // The delay doubles with each restart of the loop, as dora's does per try; with a window,
    // only with those in it.
    const exponent = restartWindow === undefined ? this.#loop : Math.min(this.#loop, inWindow)
    const delay = Math.min(restartDelay * 2 ** exponent, maxRestartDelay)
    this.#restarts.push(now)
    this.#loop++
    this.#lastStartMs = now + delay * 1000
    return { restart: true, delayMs: delay * 1000, attempt: this.#restarts.length }
  }
}
