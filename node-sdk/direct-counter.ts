/**
 * A node's counts of best-effort messages, reported to the supervisor now and then (not per
 * message) as a `direct-counts` message, so `dora-ts list` shows them beside the rest.
 *
 * @module
 */
import type { DirectCounts } from '../src/protocol/node/messages.js'

/**
 * How often a node with direct links reports its counts, when they changed (ms). Short, since
 * reliable direct links are the default: a node SIGKILLed loses what it had not reported
 * (in `dora-ts list`, not in messages), and a crash test reads `list` right after a kill. An
 * unchanged count costs a timer callback, no message.
 */
export const DIRECT_REPORT_MS = 200

export class DirectCounter {
  sent = 0
  received = 0
  /** Every drop: {@link dropInput}'s and {@link dropOnLink}'s. */
  dropped = 0
  /** Drops of each of this node's inputs (a full queue, a message after its input closed). */
  readonly #inputDrops = new Map<string, number>()
  /** receiving node -> its input -> messages a full pipe to it dropped here, at the sender. */
  readonly #linkDrops = new Map<string, Map<string, number>>()
  /** The total last reported: all zeros (a node without best-effort traffic) is never reported. */
  #reported = 0

  /** `count` messages of input `inputId` were dropped here, at the receiver (or left its sender's log unread). */
  dropInput(inputId: string, count = 1): void {
    this.dropped += count
    this.#inputDrops.set(inputId, (this.#inputDrops.get(inputId) ?? 0) + count)
  }

  /**
   * A message for input `inputId` of node `node` found the pipe to it full and was dropped here,
   * at the sender: counted as that input's in the run's report, as the receiver's own drops are.
   */
  dropOnLink(node: string, inputId: string): void {
    this.dropped++
    let inputs = this.#linkDrops.get(node)
    if (inputs === undefined) this.#linkDrops.set(node, (inputs = new Map()))
    inputs.set(inputId, (inputs.get(inputId) ?? 0) + 1)
  }

  /** The counts, if they changed since the last call; undefined otherwise. */
  take(): DirectCounts | undefined {
    const total = this.sent + this.received + this.dropped
    if (total === this.#reported) return undefined
    this.#reported = total
    return this.current()
  }

  /** The counts now, reported or not. */
  current(): DirectCounts {
    const inputDrops = [...this.#inputDrops].map(([inputId, dropped]) => ({ inputId, dropped: BigInt(dropped) }))
    const linkDrops = [...this.#linkDrops].flatMap(([node, inputs]) => [...inputs].map(([inputId, dropped]) => ({ node, inputId, dropped: BigInt(dropped) })))
    return {
      sent: BigInt(this.sent),
      received: BigInt(this.received),
      dropped: BigInt(this.dropped),
      ...(inputDrops.length === 0 ? {} : { inputDrops }),
      ...(linkDrops.length === 0 ? {} : { linkDrops }),
    }
  }
}
