/**
 * dora's restart policy, applied to operators and custom nodes alike: `never`, `on-failure`
 * (default for operators) or `always`; at most `max_restarts` restarts (0 = unlimited) within
 * `restart_window` seconds (or the whole run); a delay of `restart_delay` that doubles with
 * each restart counted in the window, up to `max_restart_delay`.
 */
import type { RestartSpec } from '../../src/spec/types.js'

export type RestartDecision = { restart: true; delayMs: number; attempt: number } | { restart: false; reason: string }

/** Why nothing restarts once the dataflow's Stop was queued (stop is final), whatever the policy. */
export const STOPPING_REASON = 'the dataflow is stopping'

export class RestartBudget {
  readonly #spec: RestartSpec
  readonly #restarts: number[] = []
  readonly #now: () => number

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
    this.#restarts.push(now)
    // The delay doubles with each restart counted in the window, as dora's does per try.
    const delay = Math.min(this.#spec.restartDelay * 2 ** inWindow, this.#spec.maxRestartDelay)
    return { restart: true, delayMs: delay * 1000, attempt: this.#restarts.length }
  }
}
