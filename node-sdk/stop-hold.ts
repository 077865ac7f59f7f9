/**
 * A Stop(all-inputs-closed) that must wait for inputs still ending on the node's side.
 *
 * The supervisor sends that Stop right after the InputClosed of the node's last input. An input
 * that comes straight from its sender ends for the program only after what its sender put on
 * the link before closing: a best-effort input when its sender's close marker arrives
 * (direct-inputs.ts), a reliable one once its link log is read to the end (link-inputs.ts: up
 * to a read-ahead at a time, so a receiver that fell behind still has thousands of entries to
 * go). Yielded at once, the Stop ended the program's loop before them: a sink 16 000 messages
 * behind its closed source stopped after 4 100, its run reported complete.
 *
 * @module
 */
import type { DoraEvent } from './events.js'
import type { EventBuffer } from './event-buffer.js'

export class StopHold {
  readonly #buffer: EventBuffer
  /** Whether some input the supervisor closed has not ended for the program yet. */
  readonly #inputsEnding: () => boolean
  #held: DoraEvent | undefined

  constructor(buffer: EventBuffer, inputsEnding: () => boolean) {
    this.#buffer = buffer
    this.#inputsEnding = inputsEnding
  }

  /**
   * A Stop numbered `seq` came: a Stop(all-inputs-closed) while some input is still ending is
   * held (its number consumed unseen in its place) and yielded after that input's close; true
   * when held. Other Stops are never held.
   */
  hold(stop: DoraEvent, seq: number): boolean {
    if (stop.type !== 'stop' || stop.cause !== 'all-inputs-closed' || !this.#inputsEnding()) return false
    this.#buffer.push({ event: undefined, seq })
    this.#held = stop
    return true
  }

  /** An input ended for the program (its `input-closed` is buffered): the held Stop follows once none is ending. */
  inputClosed(): void {
    if (this.#held === undefined || this.#inputsEnding()) return
    this.#buffer.push({ event: this.#held, seq: 0 })
    this.#held = undefined
  }

  /** A Stop is held now. */
  get holding(): boolean {
    return this.#held !== undefined
  }

  /** Give up the held Stop (the node is stopping some other way). */
  drop(): void {
    this.#held = undefined
  }
}
