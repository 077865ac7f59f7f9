/**
 * The operator's side of its saved state, as the host sees it: read it whole for a (re)started
 * worker's `restoreState`, and commit the writes an event made in one transaction, together
 * with the number of that event, when the worker reports it done.
 */
import { DoraError, errorMessage } from '../../src/errors.js'
import type { OperatorState } from '../../src/store/state/store.js'
import type { StateWrite } from './messages.js'

/** The saved state to hand a new worker (empty when the operator runs without persistence). */
export function loadState(state: OperatorState | undefined): Map<string, Uint8Array> {
  return state?.load().state ?? new Map()
}

/**
 * Commit an event's state writes in one transaction. Returns undefined when committed (or
 * nothing to commit), else why it failed: a full map or disk will not get better by
 * restarting, so the caller fails the operator with the store's advice.
 */
export function commitWrites(state: OperatorState | undefined, writes: StateWrite[], lastEvent: number): string | undefined {
  if (writes.length === 0 || state === undefined) return undefined
  try {
    state.commit(writes, { lastEvent: BigInt(lastEvent), seen: new Map() })
    return undefined
  } catch (err) {
    return `could not commit its state: ${err instanceof DoraError ? err.describe() : errorMessage(err)}`
  }
}
