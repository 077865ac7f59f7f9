/**
 * `dora-ts stop NAME NODE` (dora's `node stop`): one node or operator of a running dataflow
 * gets Stop and ends for good, while the rest of the dataflow runs on. As after any Stop it is
 * never restarted (whatever its restart_policy), what it had queued waits in the outbox for the
 * next run, and its receivers see its outputs close (InputClosed, and Stop once all of a
 * receiver's inputs are closed: dora's rule). It gets a stop ladder of its own (stop-ladder.ts):
 * the grace period, then SIGTERM (a worker terminated), then SIGKILL 3 s later; a second
 * request skips the grace period.
 *
 * @module
 */
import { StopLadder } from './stop-ladder.js'
import type { UnitReport } from './run-types.js'
import type { Unit } from './unit.js'

interface Stopping {
  readonly ladder: StopLadder
  readonly waiters: Array<(report: UnitReport) => void>
}

/** The units of one run stopped one by one, until each has ended. */
export class UnitStops {
  readonly #stopping = new Map<string, Stopping>()

  /**
   * Stop `unit`: `sendStop` now (the first request), its end awaited; after `graceMs` it is
   * terminated, then killed. A later request for the same unit escalates at once. Resolves with
   * its report when it has ended ({@link ended}).
   */
  stop(unit: Unit, graceMs: number, sendStop: () => void): Promise<UnitReport> {
    let stopping = this.#stopping.get(unit.key)
    if (stopping === undefined) {
      const ladder = new StopLadder({
        graceMs,
        sendStop,
        terminate: (reason) => unit.terminate(reason),
        kill: (reason) => unit.kill(reason),
        askedAgainReason: 'was terminated: its stop was asked for again before the grace period ended',
      })
      stopping = { ladder, waiters: [] }
      this.#stopping.set(unit.key, stopping)
    }
    stopping.ladder.request()
    const waiters = stopping.waiters
    return new Promise((resolve) => waiters.push(resolve))
  }

  /** `key` has ended, as `report` says: its waiters get it, its ladder's timers go. */
  ended(key: string, report: UnitReport): void {
    const stopping = this.#stopping.get(key)
    if (stopping === undefined) return
    this.#stopping.delete(key)
    stopping.ladder.clear()
    for (const resolve of stopping.waiters) resolve(report)
  }

  /** The run has ended: no timer is left behind (every unit's end was {@link ended} already). */
  clear(): void {
    for (const stopping of this.#stopping.values()) stopping.ladder.clear()
  }
}
