/**
 * Which events a custom node has not consumed yet, so that a restarted process gets them again.
 *
 * Every event sent to the current connection is numbered (1, 2, ...) and stays the
 * supervisor's responsibility until the node says it consumed it: in pull mode by asking for
 * its next batch (`next`: the whole batch), in push mode with a cumulative `credit` (or an
 * output's `consumedUpTo`) naming the last number consumed. When the process dies holding
 * some, they are kept; if the node is restarted, they are queued again ahead of everything
 * else, each input with its original header (messageId, sequence, sender) and
 * `redelivered: true`, so a sink can drop an input it had already handled before it died. A
 * Stop among them is not replayed: the node's own bookkeeping queues it again (custom-node.ts).
 */
import type { DeliveredEvent } from '../../src/events.js'
import { carryOrder } from '../operator/outbox.js'

export interface Replay {
  /** Inputs closed before the first replayed event: the restarted node is told first. */
  closedBefore: string[]
  /** The unconsumed events, in order, inputs marked redelivered. */
  replay: DeliveredEvent[]
}

export class Redelivery {
  /** Events sent and not consumed, oldest first; the first is number `#first`. */
  #unconsumed: DeliveredEvent[] = []
  /** Number of the oldest unconsumed event (the next to send when none is unconsumed). */
  #first = 1
  /** The inputs the node had been told are closed before the oldest unconsumed event. */
  #closedBefore = new Set<string>()
  /** Unconsumed inputs per input id (push mode keeps each at most its queue_size). */
  readonly #perInput = new Map<string, number>()
  #kept: Replay | undefined

  /** Events sent and not consumed. */
  get inFlight(): number {
    return this.#unconsumed.length
  }

  /** Number of the last event sent on this connection (0 before the first). */
  get lastSent(): number {
    return this.#first + this.#unconsumed.length - 1
  }

  /** Unconsumed inputs of `inputId`. */
  inFlightOf(inputId: string): number {
    return this.#perInput.get(inputId) ?? 0
  }

  /** `event` was sent; `closed` are the inputs the node was told are closed before it. */
  delivered(event: DeliveredEvent, closed: ReadonlySet<string>): void {
    if (this.#unconsumed.length === 0) this.#closedBefore = new Set(closed)
    this.#unconsumed.push(event)
    if (event.type === 'input') this.#perInput.set(event.id, this.inFlightOf(event.id) + 1)
  }

  /** The node consumed every event numbered `<= upTo`. Returns those not consumed before. */
  consumedUpTo(upTo: number): DeliveredEvent[] {
    const count = Math.min(this.#unconsumed.length, upTo - this.#first + 1)
    if (count <= 0) return []
    const done = this.#unconsumed.splice(0, count)
    this.#first += count
    for (const event of done) {
      if (event.type === 'input') this.#perInput.set(event.id, this.inFlightOf(event.id) - 1)
      else if (event.type === 'input-closed') this.#closedBefore.add(event.id)
      else if (event.type === 'input-recovered') this.#closedBefore.delete(event.id)
    }
    return done
  }

  /** Inputs sent and not consumed for which `which` says true. */
  countUnconsumedInputs(which: (inputId: string) => boolean): number {
    let count = 0
    for (const [inputId, unconsumed] of this.#perInput) if (which(inputId)) count += unconsumed
    return count
  }

  /** The node consumed everything sent (pull mode's `next`). */
  consumedAll(): DeliveredEvent[] {
    return this.consumedUpTo(this.lastSent)
  }

  /** The process died: keep what it had not consumed for a restart; numbering starts over. */
  died(): void {
    const replay: DeliveredEvent[] = []
    for (const event of this.#unconsumed) {
      if (event.type === 'stop') continue
      if (event.type !== 'input') {
        replay.push(event)
        continue
      }
      const header = { ...event.header, redelivered: true }
      carryOrder(event.header, header)
      replay.push({ ...event, header })
    }
    this.#kept = replay.length === 0 ? undefined : { closedBefore: [...this.#closedBefore], replay }
    this.#reset()
  }

  /** A new connection: numbering starts over (after died() or a clean exit consumed all). */
  #reset(): void {
    this.#unconsumed = []
    this.#first = 1
    this.#perInput.clear()
  }

  /** A new connection numbers its events from 1 again; call once what it had is settled. */
  newConnection(): void {
    this.#reset()
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
