/**
 * The one timer that crashes an operator when its worker takes too long: to become ready
 * (`health_check_timeout`) or to return from a handler (`timeout`). Re-armed for each event
 * the worker starts, cleared on every path that ends or replaces the worker.
 *
 * Apart from host.ts so that the host says only when to arm and clear it; the timer's own
 * rules (one at a time, unref'd so it never keeps the process alive) live here.
 *
 * @module
 */

/** A restartable one-shot timer (see the module comment). */
export class Watchdog {
  #timer: NodeJS.Timeout | undefined
  readonly #fire: (reason: string, caused: boolean) => void

  /** @param fire crash the operator: `caused` says whether the event being handled caused it */
  constructor(fire: (reason: string, caused: boolean) => void) {
    this.#fire = fire
  }

  /** Fire after `seconds` unless cleared or armed again first. */
  arm(seconds: number, reason: string, caused: boolean): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#fire(reason, caused), seconds * 1000)
    this.#timer.unref()
  }

  /** Cancel it: the worker became ready, returned, or is gone. */
  clear(): void {
    clearTimeout(this.#timer)
  }
}
