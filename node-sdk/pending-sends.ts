/**
 * The sends of a {@link Node} that the supervisor has not confirmed yet. `send()` numbers each
 * output of the connection (`sendSeq`) and waits here until an `outputs-taken` covers it: only
 * then has the supervisor routed the message to every receiver's queue, so only then may
 * `await send()` tell the node's code that the message survives the node being killed.
 * Confirmations are cumulative, so many sends are in flight at once and one confirmation
 * settles a whole burst.
 *
 * @module
 */

interface Pending {
  seq: bigint
  resolve: () => void
  reject: (err: unknown) => void
}

export class PendingSends {
  /** In sendSeq order: sends are numbered and queued in the order they are written. */
  readonly #queue: Pending[] = []
  /** Index of the first entry still pending (entries before it are settled; compacted lazily). */
  #head = 0
  #last = 0n

  /** Number of the next send; numbers start at 1 on every connection. */
  next(): bigint {
    return ++this.#last
  }

  /** Resolves once a confirmation covers `seq`; rejects if {@link fail} or {@link failAll} comes first. */
  wait(seq: bigint): Promise<void> {
    return new Promise((resolve, reject) => this.#queue.push({ seq, resolve, reject }))
  }

  /** The supervisor took every send numbered up to `upTo`. */
  taken(upTo: bigint): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.seq <= upTo) this.#queue[this.#head++]!.resolve()
    this.#compact()
  }

  /** Send `seq` could not even be written: it will never be confirmed. */
  fail(seq: bigint, err: unknown): void {
    const index = this.#queue.findIndex((p, i) => i >= this.#head && p.seq === seq)
    if (index < 0) return
    const [pending] = this.#queue.splice(index, 1)
    pending!.reject(err)
  }

  /** No confirmation will come any more (the node was closed or destroyed): reject what waits. */
  failAll(err: (seq: bigint) => unknown): void {
    const waiting = this.#queue.splice(this.#head)
    this.#queue.length = 0
    this.#head = 0
    for (const pending of waiting) pending.reject(err(pending.seq))
  }

  /** Sends waiting for their confirmation. */
  get size(): number {
    return this.#queue.length - this.#head
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head)
      this.#head = 0
    }
  }
}
