/**
 * Read-committed on the host side: what the worker reports for an event (its state writes
 * and outputs) or for a launch (init()/restoreState's) is numbered, committed, and only then
 * are its messages routed; a commit that fails fails the operator.
 *
 * Apart from host.ts because this is the exactly-once rule in one place (ids, outbox sort
 * keys, the consumed input's entry, and the order commit -> route), while the host only says
 * when an event or a launch is done. state-commit.ts writes the transaction itself.
 *
 * @module
 */
import type { DeliveredEvent } from '../../src/events.js'
import type { OperatorState } from '../../src/store/state/store.js'
import { eventOrder, initOrder, SPLIT_BYTES } from '../../src/store/state/outbox.js'
import type { Deliveries, InFlight } from './deliveries.js'
import type { BufferedOutput, StateWrite } from './messages.js'
import { consumedKey, consumedSegment, discardConsumed } from './outbox.js'
import type { SentMessages } from './sent-messages.js'
import { commitEvent, commitEventLater, type EventCommit, type SentMessage } from './state-commit.js'

/** The commits of one operator (see the module comment). */
export class EventCommits {
  readonly #key: string
  readonly #state: OperatorState | undefined
  readonly #deliveries: Deliveries
  readonly #sent: SentMessages
  readonly #fail: (failure: string) => void
  readonly #warn: (text: string) => void

  /** `fail`: fail the operator for good with this text (a commit failed); `warn`: log a warning. */
  constructor(
    key: string,
    state: OperatorState | undefined,
    deliveries: Deliveries,
    sent: SentMessages,
    report: { fail: (failure: string) => void; warn: (text: string) => void },
  ) {
    this.#key = key
    this.#state = state
    this.#deliveries = deliveries
    this.#sent = sent
    this.#fail = report.fail
    this.#warn = report.warn
  }

  /**
   * An input this operator will never handle (dropped by its queue policy, or a copy it
   * already committed): its outbox entry goes, or the next run would replay it.
   */
  discard(item: DeliveredEvent): void {
    const state = this.#state
    if (state === undefined) return
    // With the next group commit: no write transaction of its own on the routing thread.
    discardConsumed(this.#key, [item], (keys, done) => state.discardLater(keys, done), this.#warn)
  }

  /** Commit init()/restoreState's writes and messages, under a new launch number when it sent any. */
  launch(writes: StateWrite[], outputs: BufferedOutput[]): boolean {
    if (outputs.length === 0) return this.commit(writes, [], undefined)
    const { launch, ids } = this.#deliveries.launchIds(outputs.length)
    const lastEvent = this.#deliveries.committedNo
    const sent = outputs.map((output, i) => this.#sent.message(output, ids[i] ?? '', initOrder(lastEvent, launch, i)))
    this.#deliveries.launchCommitted(launch)
    if (!this.commit(writes, sent, undefined)) return false
    for (const message of sent) this.#sent.route(message)
    return true
  }

  /**
   * The worker is done with `inFlight`: commit what it did, grouped with the other commits of
   * this turn (one transaction), then route its messages and call `committed`.
   */
  eventLater(inFlight: InFlight, writes: StateWrite[], outputs: BufferedOutput[], committed: () => void): void {
    const ids = this.#deliveries.messageIds(outputs.length)
    const sent = outputs.map((output, i) => this.#sent.message(output, ids[i] ?? '', eventOrder(inFlight.eventNo, i)))
    const consumed = consumedKey(this.#key, inFlight.item)
    this.#deliveries.committed()
    // After committed(): the meta it carries is the one with this event.
    const commit = this.#eventCommit(writes, sent, consumed)
    commit.consumedInline = consumed !== undefined && inlineEntry(inFlight)
    if (consumed !== undefined && !commit.consumedInline) commit.consumedSegment = consumedSegment(inFlight.item)
    commitEventLater(this.#state, commit, (failure) => {
      if (failure !== undefined) {
        this.#fail(failure)
        return
      }
      // Committed: only now may anyone see its outputs.
      for (const message of sent) this.#sent.route(message)
      committed()
    })
  }

  /**
   * The worker is done with an event that came over a direct link (operator-links.ts): the host
   * never held it, so it has no event number and consumed no outbox entry. Its messages get
   * ids of the launch kind (`i<n>.<index>`, numbered here as they arrive, committed in the
   * meta), never reused, so receivers downstream dedup them as any other. Grouped with this
   * turn's other commits, in the order the worker reported them.
   */
  linkedLater(writes: StateWrite[], outputs: BufferedOutput[], committed: () => void): void {
    let sent: SentMessage[] = []
    if (outputs.length > 0) {
      const { launch, ids } = this.#deliveries.launchIds(outputs.length)
      const lastEvent = this.#deliveries.committedNo
      sent = outputs.map((output, i) => this.#sent.message(output, ids[i] ?? '', initOrder(lastEvent, launch, i)))
      this.#deliveries.launchCommitted(launch)
    }
    commitEventLater(this.#state, this.#eventCommit(writes, sent, undefined), (failure) => {
      if (failure !== undefined) {
        this.#fail(failure)
        return
      }
      for (const message of sent) this.#sent.route(message)
      committed()
    })
  }

  /** Commit what an event did in one transaction; false (and failed) when that fails. */
  commit(writes: StateWrite[], sent: readonly SentMessage[], consumed: Buffer | undefined): boolean {
    const failure = commitEvent(this.#state, this.#eventCommit(writes, sent, consumed))
    if (failure === undefined) return true
    this.#fail(failure)
    return false
  }

  #eventCommit(writes: StateWrite[], sent: readonly SentMessage[], consumed: Buffer | undefined): EventCommit {
    return { sender: this.#key, writes, sent, routes: this.#sent.routes, consumed, meta: this.#deliveries.meta() }
  }
}

/**
 * Whether the outbox entry of `inFlight`'s input holds its payload behind its header: a
 * message from an operator (stored by encodeOutboxValue, apart from SPLIT_BYTES up) of fewer
 * bytes, which never moved to the worker (a moved one is large, and its bytes are gone).
 * A custom node's may be a file of any size (shm-payloads.ts): never assumed inline.
 */
function inlineEntry(inFlight: InFlight): boolean {
  const item = inFlight.item
  return item.type === 'input' && !inFlight.transferred && item.header.senderOperator !== '' && item.data.byteLength < SPLIT_BYTES
}
