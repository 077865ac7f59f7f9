/**
 * `input_timeout`: when an input gets no message for that long after its last one, its receiver
 * gets InputClosed for it; when messages come again, it gets InputRecovered and then the
 * messages, as usual (dora's InputRecovered). The first message arms the watchdog, so a
 * slow-starting sender is not a timeout. A timed-out input does not count towards
 * Stop(all-inputs-closed): a sensor that pauses must not stop its readers for good.
 *
 * This module only keeps the clocks; the run decides what "closing" means (through the hooks),
 * so the timing rules can be tested without a dataflow.
 */
import type { InputSpec } from '../../src/spec/types.js'

export interface InputTimeoutHooks {
  /** False when the input must not be timed out now (the run is stopping, or its sender already closed it for good). */
  mayTimeOut(receiver: string, inputId: string): boolean
  /** `input` of `receiver` got nothing for its input_timeout: close it until messages come again. */
  timedOut(receiver: string, input: InputSpec): void
  /**
   * A message came for a timed-out input: called before that message is queued, so the
   * receiver sees InputRecovered first.
   */
  recovered(receiver: string, input: InputSpec): void
}

interface Watchdog {
  feed(): void
  stop(): void
}

export class InputTimeouts {
  /** `receiver\0input` -> its watchdog, for inputs with an input_timeout. */
  readonly #watchdogs = new Map<string, Watchdog>()

  /** @param inputs every receiver's inputs (the routing table's `inputs`). */
  constructor(inputs: ReadonlyMap<string, readonly InputSpec[]>, hooks: InputTimeoutHooks) {
    for (const [receiver, list] of inputs) {
      for (const input of list) {
        if (input.inputTimeout !== undefined) this.#watchdogs.set(`${receiver}\0${input.id}`, watchdog(receiver, input, input.inputTimeout * 1000, hooks))
      }
    }
  }

  /** A message for `receiver`'s input `inputId` is about to be queued. */
  feed(receiver: string, inputId: string): void {
    this.#watchdogs.get(`${receiver}\0${inputId}`)?.feed()
  }

  /** Clear every clock (the run ended). */
  stop(): void {
    for (const w of this.#watchdogs.values()) w.stop()
  }
}

function watchdog(receiver: string, input: InputSpec, ms: number, hooks: InputTimeoutHooks): Watchdog {
  let timedOut = false
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      if (!hooks.mayTimeOut(receiver, input.id)) return
      timedOut = true
      hooks.timedOut(receiver, input)
    }, ms)
    // A watchdog never keeps the process alive: the run's units do.
    timer.unref()
  }
  return {
    stop: () => clearTimeout(timer),
    feed: () => {
      if (timedOut) {
        timedOut = false
        hooks.recovered(receiver, input)
      }
      arm()
    },
  }
}
