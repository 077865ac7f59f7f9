/**
 * A node's counts of best-effort messages, reported to the supervisor now and then (not per
 * message) as a `direct-counts` message, so `dora-ts list` shows them beside the rest.
 *
 * @module
 */
import type { DirectCounts } from '../src/protocol/node/messages.js'

/** How often a node with best-effort links reports its counts, when they changed (ms). */
export const DIRECT_REPORT_MS = 1_000

export class DirectCounter {
  sent = 0
  received = 0
  dropped = 0
  /** The total last reported: all zeros (a node without best-effort traffic) is never reported. */
  #reported = 0

  /** The counts, if they changed since the last call; undefined otherwise. */
  take(): DirectCounts | undefined {
    const total = this.sent + this.received + this.dropped
    if (total === this.#reported) return undefined
    this.#reported = total
    return { sent: BigInt(this.sent), received: BigInt(this.received), dropped: BigInt(this.dropped) }
  }
}
