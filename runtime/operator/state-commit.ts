/**
 * The operator's side of its saved state, as the host sees it: read it whole (with its meta)
 * for a (re)started worker's `restoreState`, and commit what one event did in ONE transaction:
 * its state writes, its meta (last event, dedup record), its messages to operators into the
 * outbox, and the removal of the outbox entry of the input it consumed.
 */
import { DoraError, errorMessage } from '../../src/errors.js'
import type { MessageHeader } from '../../src/events.js'
import { emptyMeta } from '../../src/store/state/disk-layout.js'
import { encodeOutboxHeader, encodeOutboxValue, outboxKey, type OutboxPut } from '../../src/store/state/outbox.js'
import type { OperatorMeta, OperatorState, OutboxChange } from '../../src/store/state/store.js'
import type { StateWrite } from './messages.js'
import type { OnlyEntry, OutboxRoute } from './outbox.js'

/** The saved state and meta to hand a new worker (empty when the operator runs without persistence). */
export function loadState(state: OperatorState | undefined): { state: Map<string, Uint8Array>; meta: OperatorMeta } {
  return state?.load() ?? { state: new Map(), meta: emptyMeta() }
}

/** A message the event sent, ready to route: its header, bytes and outbox sort key. */
export interface SentMessage {
  header: MessageHeader
  data: Uint8Array
  order: string
  /** Its outbox entry when it has one receiver through the outbox (set by the commit that puts it). */
  only?: OnlyEntry | undefined
  /** The file its worker wrote its bytes to (BufferedOutput.file): the store takes it as the segment. */
  file?: string | undefined
  /** That file as put in the outbox: its commit sets the segment it became (OutboxPut.file.segment). */
  placed?: { segment?: string | undefined } | undefined
}

/** What one event (or one launch's init) did, to commit. */
export interface EventCommit {
  /** The committing operator's key (`node/operator`): the sender of `sent`. */
  sender: string
  writes: StateWrite[]
  sent: readonly SentMessage[]
  /** The receivers of each output whose copies go into the outbox (operators and custom nodes). */
  routes(outputId: string): readonly OutboxRoute[]
  /** The outbox entry consumed, if the event's input came from an operator. */
  consumed: Buffer | undefined
  /** That entry holds its payload behind its header (OutboxChange.removeInline). */
  consumedInline?: boolean | undefined
  /** That entry references this segment (OutboxChange.removeSegment). */
  consumedSegment?: string | undefined
  meta: OperatorMeta
}

/**
 * Commit an event in one transaction. Returns undefined when committed (or nothing needed
 * committing), else why it failed: a full map or disk will not get better by restarting, so
 * the caller fails the operator with the store's advice. An event that wrote nothing, sent
 * nothing and consumed no outbox entry is not committed: its number was never shown to anyone.
 */
export function commitEvent(state: OperatorState | undefined, commit: EventCommit): string | undefined {
  const outbox = state === undefined ? undefined : outboxChange(commit)
  if (state === undefined || outbox === undefined) return undefined
  try {
    state.commit(commit.writes, commit.meta, outbox)
    return undefined
  } catch (err) {
    return failureOf(err)
  }
}

/**
 * {@link commitEvent}, grouped with the other commits of this turn of the event loop (one
 * transaction for all of them, see OperatorState.commitLater): `done` gets undefined once
 * committed (at once when nothing needs committing), else why it failed.
 */
export function commitEventLater(state: OperatorState | undefined, commit: EventCommit, done: (failure: string | undefined) => void): void {
  const outbox = state === undefined ? undefined : outboxChange(commit)
  if (state === undefined || outbox === undefined) {
    done(undefined)
    return
  }
  state.commitLater(commit.writes, commit.meta, outbox, (err) => done(err === undefined ? undefined : failureOf(err)))
}

function failureOf(err: unknown): string {
  return `could not commit its state: ${err instanceof DoraError ? err.describe() : errorMessage(err)}`
}

/**
 * The outbox change of an event: its messages for operators, and the entry it consumed.
 * Undefined when the event needs no commit: it wrote nothing, sent nothing and consumed no
 * outbox entry (its number was never shown to anyone).
 */
function outboxChange(commit: EventCommit): OutboxChange | undefined {
  const { writes, sent, consumed } = commit
  if (writes.length === 0 && sent.length === 0 && consumed === undefined) return undefined
  const outbox: OutboxChange = { put: [], remove: [] }
  // The consumed entry, deleted the cheapest way what is known of it allows.
  if (consumed !== undefined) {
    if (commit.consumedInline === true) outbox.removeInline = [consumed]
    else if (commit.consumedSegment !== undefined) outbox.removeSegment = [{ key: consumed, name: commit.consumedSegment }]
    else outbox.remove.push(consumed)
  }
  for (const message of sent) {
    const routes = commit.routes(message.header.outputId)
    if (routes.length === 0) continue
    const stored: Omit<OutboxPut, 'key'> =
      message.file === undefined
        ? encodeOutboxValue(message.header, message.data)
        : { value: encodeOutboxHeader(message.header), file: { path: message.file, size: message.data.byteLength, owned: true } }
    for (const route of routes) outbox.put.push({ key: outboxKey(route.receiver, route.inputId, commit.sender, message.order), ...stored })
    message.placed = stored.file
    // Its receiver's commit deletes the entry by this very key (outbox.ts consumedKey).
    if (routes.length === 1) {
      const route = routes[0] as OutboxRoute
      message.only = { receiver: route.receiver, inputId: route.inputId, key: (outbox.put[outbox.put.length - 1] as { key: Buffer }).key }
    }
  }
  return outbox
}
