/**
 * Timer inputs (`dora/timer/millis/100`, ...). Each distinct timer ticks on its own schedule
 * computed from its start time (tick k is due at start + k * interval), so ticks do not drift
 * when one fires late; a tick that is more than one interval late is skipped rather than
 * delivered in a burst, as a robot's control loop would want.
 */
import { nowNs } from '../../src/clock.js'
import type { MessageHeader } from '../../src/events.js'

export interface TimerTick {
  name: string
  header: MessageHeader
}

export class Timer {
  readonly name: string
  readonly intervalNs: bigint
  #handle: NodeJS.Timeout | undefined
  #sequence = 0n
  #startMs = 0
  #stopped = false
  readonly #dataflowId: string
  readonly #onTick: (tick: TimerTick) => void

  constructor(name: string, intervalNs: bigint, dataflowId: string, onTick: (tick: TimerTick) => void) {
    this.name = name
    this.intervalNs = intervalNs
    this.#dataflowId = dataflowId
    this.#onTick = onTick
  }

  start(): void {
    this.#startMs = performance.now()
    this.#schedule(1)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#handle)
  }

  #schedule(k: number): void {
    if (this.#stopped) return
    const intervalMs = Number(this.intervalNs) / 1e6
    this.#arm(k, this.#startMs + k * intervalMs)
  }

  /**
   * Fire tick `k` at `due` (performance.now() time), not before. Node runs a timer against the
   * event loop's clock in whole milliseconds, so a setTimeout can fire up to ~2 ms before the
   * delay it was given has passed (a 10 ms timer's tick once came 1.3 ms early in CI): an early
   * wake-up waits out the rest.
   */
  #arm(k: number, due: number): void {
    this.#handle = setTimeout(
      () => {
        if (this.#stopped) return
        if (performance.now() < due) this.#arm(k, due)
        else this.#fire(k)
      },
      Math.max(0, due - performance.now()),
    )
  }

  #fire(k: number): void {
    if (this.#stopped) return
    const intervalMs = Number(this.intervalNs) / 1e6
    this.#sequence += 1n
    this.#onTick({
      name: this.name,
      header: {
        dataflowId: this.#dataflowId,
        senderNode: 'dora',
        senderOperator: '',
        outputId: this.name,
        sequence: this.#sequence,
        timestampNs: nowNs(),
        metadata: {},
        encoding: 'raw',
        messageId: '',
        redelivered: false,
      },
    })
    // Skip ticks we are already late for instead of firing them back to back.
    const elapsedTicks = Math.floor((performance.now() - this.#startMs) / intervalMs)
    this.#schedule(Math.max(k + 1, elapsedTicks + 1))
  }
}
