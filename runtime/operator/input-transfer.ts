/**
 * Whether an input's bytes move to an operator's worker (a transfer) or are copied into it
 * (structured clone), and reading bytes moved by an earlier post back from the outbox when the
 * input must be delivered again after a crash.
 *
 * Apart from host.ts because moving bytes is an ownership question (who else may still read
 * them, and where they come back from), answered with the outbox (outbox.ts) and the bytes'
 * buffer, not with the operator's lifecycle.
 *
 * @module
 */
import { errorMessage } from '../../src/errors.js'
import { ownsWholeBuffer } from '../../src/bytes.js'
import type { OperatorState } from '../../src/store/state/store.js'
import type { InFlight } from './deliveries.js'
import { MIN_TRANSFER_BYTES } from './messages.js'
import { consumedKey, isExclusive, markExclusive } from './outbox.js'

/**
 * The buffer to transfer with `inFlight`'s input, undefined to copy it, or `{ failure }` when
 * the input cannot be posted (the operator must fail with that text). An input may move to the
 * worker when this operator is its only receiver and it is committed in the outbox under this
 * operator's key (no one else reads the bytes, and a redelivery reads them back from there).
 * One already moved by an earlier post (before a crash) is read back first, into `inFlight`.
 * `bestEffort`: an input of a best-effort link between operators, in no outbox: it moves when
 * this operator is its only receiver, and a crash loses it (host.ts #crash drops it).
 */
export function transferOf(
  inFlight: InFlight,
  state: OperatorState | undefined,
  operatorKey: string,
  bestEffort: boolean,
): ArrayBuffer | undefined | { failure: string } {
  const item = inFlight.item
  if (item.type !== 'input') return undefined
  if (bestEffort) return inFlight.transferred ? undefined : movable(item.data)
  if (state === undefined) return undefined
  // A small input is copied, and was never moved: no need for its outbox key (building it was
  // a third of the keys the routing thread built per message in the 8 B stream).
  if (!inFlight.transferred && item.data.byteLength < MIN_TRANSFER_BYTES) return undefined
  const key = consumedKey(operatorKey, item)
  if (key === undefined) return undefined
  if (inFlight.transferred) {
    let data: Uint8Array | undefined
    try {
      data = state.payload(key)
    } catch (err) {
      return { failure: `could not read input "${item.id}" back from the outbox to deliver it again: ${errorMessage(err)}` }
    }
    if (data === undefined) {
      return { failure: `could not deliver input "${item.id}" again: its message is no longer in the outbox (this is a bug, please report it)` }
    }
    markExclusive(data)
    inFlight.item = { ...item, data }
    inFlight.transferred = false
  }
  return movable((inFlight.item as { data: Uint8Array }).data)
}

/** The buffer under `data` if it may move to a worker: marked this receiver's alone, large, whole. */
function movable(data: Uint8Array): ArrayBuffer | undefined {
  // Never an empty buffer: it may be one already moved away, and posting a detached buffer
  // in a transfer list throws (DataCloneError) on the routing thread. Nor a small one: copying
  // a few KiB costs less than detaching a buffer, and the copy needs no read back.
  return data.byteLength >= MIN_TRANSFER_BYTES && isExclusive(data) && ownsWholeBuffer(data) ? (data.buffer as ArrayBuffer) : undefined
}
