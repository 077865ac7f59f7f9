/**
 * Which events a custom node has not consumed yet, so that a restarted process gets them again.
 *
 * A node consumes a batch by asking for the next one (`next`): until then every event of the
 * batch is still the supervisor's responsibility. When the process dies holding one, the batch
 * is kept; if the node is restarted, it is queued again ahead of everything else, each input
 * with its original header (messageId, sequence, sender) and `redelivered: true`, so a sink can
 * drop an input it had already handled before it died. A Stop in the batch is not replayed: the
 * node's own bookkeeping queues it again (custom-node.ts).
 */
import type { DeliveredEvent } from '../../src/events.js'
import { carryOrder } from '../operator/outbox.js'

export interface Replay {
  /** Inputs closed before the replayed batch: the restarted node is told first. */
  closedBefore: string[]
  /** The unconsumed batch, in order, inputs marked redelivered. */
  replay: DeliveredEvent[]
}

export class Redelivery {
  #batch: DeliveredEvent[] = []
  /** The node's closed inputs when the current batch started. */
  #closedBefore: string[] = []
  #kept: Replay | undefined

  /** A batch starts: `closed` are the inputs the node was told are closed before it. */
  startBatch(closed: ReadonlySet<string>): void {
    this.#batch = []
    this.#closedBefore = closed.size === 0 ? [] : [...closed]
  }

  /** `event` went out in the current batch. */
  delivered(event: DeliveredEvent): void {
    this.#batch.push(event)
  }

  /** The node asked for more: the current batch is done with. Returns it. */
  consumed(): DeliveredEvent[] {
    const batch = this.#batch
    this.#batch = []
    return batch
  }

  /** The process died: keep its unconsumed batch for a restart. */
  died(): void {
    const replay: DeliveredEvent[] = []
    for (const event of this.#batch) {
      if (event.type === 'stop') continue
      if (event.type !== 'input') {
        replay.push(event)
        continue
      }
      const header = { ...event.header, redelivered: true }
      carryOrder(event.header, header)
      replay.push({ ...event, header })
    }
    this.#batch = []
    this.#kept = replay.length === 0 ? undefined : { closedBefore: this.#closedBefore, replay }
  }

  /**
   * What a restarted node must be told first; `closedNow` are the inputs closed as of the dead
   * process (used when there is nothing to replay). Hands the replay over once.
   */
  takeReplay(closedNow: ReadonlySet<string>): Replay {
    const kept = this.#kept
    this.#kept = undefined
    return kept ?? { closedBefore: [...closedNow], replay: [] }
  }
}
