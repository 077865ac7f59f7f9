/**
 * Freshness of `drop_oldest` inputs on their way into an operator's worker: an event posted
 * ahead is out of the queue, where nothing can drop it any more, so each such input may have
 * at most its `queue_size` messages posted and not yet handled. A `queue_size: 1` camera input
 * then reaches a slow operator as one frame being handled and the newest one waiting, never a
 * backlog of frames posted ahead; a custom node's SDK is held to the same bound (node-delivery.ts).
 *
 * Apart from host.ts because it is the queue policy's half on the worker's side of the port,
 * while post-batch.ts sets how far ahead events go for speed.
 *
 * @module
 */
import type { InputSpec } from '../../src/spec/types.js'

/** The posted-and-not-handled count of each `drop_oldest` input of one operator. */
export class FreshInputs {
  /** input id -> its queue_size, for `drop_oldest` inputs only. */
  readonly #limits: ReadonlyMap<string, number>
  readonly #posted = new Map<string, number>()

  constructor(inputs: readonly InputSpec[]) {
    this.#limits = new Map(inputs.filter((input) => input.queuePolicy === 'drop_oldest').map((input) => [input.id, input.queueSize]))
  }

  /** True while `inputId` has its `queue_size` posted: its next message waits in the queue. */
  holds(inputId: string): boolean {
    const limit = this.#limits.get(inputId)
    return limit !== undefined && (this.#posted.get(inputId) ?? 0) >= limit
  }

  /** A message of `inputId` was posted to the worker. */
  posted(inputId: string): void {
    if (this.#limits.has(inputId)) this.#posted.set(inputId, (this.#posted.get(inputId) ?? 0) + 1)
  }

  /** The worker is done with a message of `inputId`. */
  handled(inputId: string): void {
    const count = this.#posted.get(inputId)
    if (count !== undefined) this.#posted.set(inputId, Math.max(0, count - 1))
  }

  /** A new worker: nothing is posted to it yet. */
  reset(): void {
    this.#posted.clear()
  }
}
