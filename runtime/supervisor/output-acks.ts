/**
 * Confirmations of one custom node's outputs (`outputs-taken`): what lets the node's
 * `await send()` mean "the supervisor has it" rather than "ZeroMQ queued it".
 *
 * A node numbers the outputs of its connection (`sendSeq`, 1, 2, ...); once the run has routed
 * one to every receiver's queue, it is taken. Confirmations are cumulative and coalesced: every
 * output taken during one turn of the event loop is confirmed by a single `outputs-taken` sent
 * at the end of it (setImmediate), so a node that sends faster than the round trip gets one
 * frame back per burst, and a node that keeps up pays no request of its own: the design the
 * later batching of the data plane needs (several messages per frame, one confirmation).
 */

export interface OutputAcksOptions {
  /** Send `outputs-taken` with this `upTo` to the node. */
  send(upTo: bigint): void
  /** The node skipped or repeated a number: said once per connection (a broken non-SDK node). */
  gap(expected: bigint, got: bigint): void
}

export class OutputAcks {
  readonly #options: OutputAcksOptions
  /** Highest sendSeq taken on this connection. */
  #taken = 0n
  /** Highest sendSeq confirmed to the node. */
  #confirmed = 0n
  #gapSaid = false
  #scheduled: NodeJS.Immediate | undefined

  constructor(options: OutputAcksOptions) {
    this.#options = options
  }

  /** A new connection (the node registered again): numbering starts over. */
  reset(): void {
    clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    this.#taken = 0n
    this.#confirmed = 0n
    this.#gapSaid = false
  }

  /** Output `sendSeq` was routed; 0 means the node wants no confirmation. */
  taken(sendSeq: bigint): void {
    if (sendSeq === 0n) return
    if (sendSeq !== this.#taken + 1n && !this.#gapSaid) {
      this.#gapSaid = true
      this.#options.gap(this.#taken + 1n, sendSeq)
    }
    if (sendSeq > this.#taken) this.#taken = sendSeq
    this.#scheduled ??= setImmediate(() => this.flush())
  }

  /** Confirm what was taken now instead of at the end of this turn. */
  flush(): void {
    clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    if (this.#taken <= this.#confirmed) return
    this.#confirmed = this.#taken
    this.#options.send(this.#taken)
  }
}
