/**
 * Push mode's consumption accounting on the node's side (see NodeToSupervisor.Credit): the
 * supervisor numbers nothing on the wire, so both ends count the events it pushes, from 1 on
 * each connection. The node tells what its program consumed with `credit` messages and on its
 * outputs (`consumedUpTo`); the supervisor deletes those and keeps the rest for a restart.
 * Exact per event, however the events were framed: a message carrying several events numbers
 * each of them.
 *
 * @module
 */
import { PUSH_WINDOW } from '../src/protocol/node/messages.js'

export class PushCredit {
  /** Events numbered so far. */
  #received = 0
  /** The highest number the program has taken and asked past. */
  #consumed = 0
  /** The highest number told to the supervisor. */
  #reported = 0
  /** A first credit went out: the supervisor pushes from then on, and reads `consumedUpTo`. */
  #sent = false
  /** The number of the event the program was handed last, until it comes back for more (0: none). */
  #held = 0
  /**
   * The highest number a credit may say consumed: events were set aside at a Stop from the one
   * after it on (see {@link setAsideFrom}), and from then on every credit says it is exact;
   * unbounded before.
   */
  #cap = Number.MAX_SAFE_INTEGER

  /** Number the next event that arrived. */
  number(): number {
    return ++this.#received
  }

  /** The program was handed event `seq` (it holds it until it comes back for more: {@link consume}). */
  handedOut(seq: number): void {
    this.#held = seq
  }

  /** The program consumed event `seq`; true when a credit should go now (a quarter of the window). */
  consume(seq: number): boolean {
    if (seq === this.#held) this.#held = 0
    if (seq <= this.#consumed) return false
    this.#consumed = seq
    return this.#told - this.#reported >= PUSH_WINDOW / 4
  }

  /**
   * Events from number `seq` on were set aside at a Stop, unconsumed, for the node's next run
   * (EventBuffer.setAsideAtStop): credits never say them consumed, so neither what the program
   * still takes after them (best-effort inputs, notices) nor a clean exit counts past them; the
   * supervisor keeps those for a restart that a stopping dataflow never makes.
   */
  setAsideFrom(seq: number): void {
    this.#cap = Math.min(this.#cap, seq - 1)
  }

  /** What a credit may say consumed. */
  get #told(): number {
    return Math.min(this.#consumed, this.#cap)
  }

  /** A first credit went out (the supervisor pushes). */
  get opened(): boolean {
    return this.#sent
  }

  /** The program waits with nothing buffered: true when a credit should go (the first, or news). */
  get wanted(): boolean {
    return !this.#sent || this.#told > this.#reported
  }

  /** What an output carries of the consumption not yet told (undefined: nothing new). */
  takeReport(): bigint | undefined {
    if (!this.#sent || this.#told <= this.#reported) return undefined
    this.#reported = this.#told
    return BigInt(this.#reported)
  }

  /**
   * A credit goes now: what it says, counted as told. `closing`: the node's last, which names
   * the event the program still holds (its loop broke out on it, or it closed from inside the
   * loop): the supervisor counts that one consumed only if the process exits with code 0. It
   * and every credit after events were set aside say they are exact: a clean exit consumes
   * nothing more than they say.
   */
  takeCredit(closing = false): { consumedUpTo: bigint; window: number; inputBatches: boolean; heldAtClose?: bigint; exact?: true } {
    this.#sent = true
    this.#reported = this.#told
    // This SDK reads several inputs per message: the supervisor may batch what waits.
    const credit = { consumedUpTo: BigInt(this.#reported), window: PUSH_WINDOW, inputBatches: true }
    // Events were set aside (a cap): every credit says it is exact (NodeToSupervisor.Credit.exact).
    if (!closing && this.#cap === Number.MAX_SAFE_INTEGER) return credit
    // Not one taken after events set aside (a best-effort input the program broke out on).
    const held = closing && this.#held > this.#reported && this.#held <= this.#cap
    return held ? { ...credit, heldAtClose: BigInt(this.#held), exact: true } : { ...credit, exact: true }
  }
}
