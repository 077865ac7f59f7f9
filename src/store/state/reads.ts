/**
 * The reads of committed state: an operator's state and meta after a restart, the messages
 * waiting for a receiver in the outbox, one waiting payload, a custom node's message counter,
 * and, on open, which segment files committed entries still reference.
 *
 * Apart from store.ts because reading never joins the commit group and runs no transaction
 * of its own that writes: each read is one read transaction, and each turns what it finds
 * damaged into DORA_STATE_CORRUPT naming the operator or node, which is most of its code.
 *
 * @module
 */
import { errorMessage } from '../../errors.js'
import { corruptHint, StateCorruptError, stateErrorFrom, type StateErrorContext } from './errors.js'
import { decodeMeta, emptyMeta, type OperatorMeta } from './disk-layout.js'
import type { StoreDatabases } from './databases.js'
import { dataKey, decodeOutboxEntries, decodeOutboxEntry, isSegmentKey, receiverRange, segmentKey, type OutboxEntry } from './outbox.js'
import { decodeSegmentRef } from './segments.js'

/** DORA_STATE_CORRUPT for something of `operatorKey` that could not be decoded. */
function corrupt(dbs: StoreDatabases, operatorKey: string, what: string, err: unknown): StateCorruptError {
  return new StateCorruptError(`${what}: ${errorMessage(err)}`, {
    dir: dbs.dir,
    operator: operatorKey,
    cause: err,
    hint: corruptHint(dbs.dir),
  })
}

/** An operator's state (keys -> values) and meta, read in one read transaction. */
export function loadOperator(dbs: StoreDatabases, operatorKey: string): { state: Map<string, Uint8Array>; meta: OperatorMeta } {
  dbs.requireEnv(operatorKey)
  const context: StateErrorContext = { dir: dbs.dir, action: 'load', operator: operatorKey }
  const db = dbs.db(operatorKey)
  const state = new Map<string, Uint8Array>()
  const seal = dbs.seal
  let metaBytes: Buffer | undefined
  try {
    const txn = db.useReadTransaction()
    try {
      // Values of a 'binary' database come back as fresh copies, safe to keep; each is checked
      // against its seal (a mismatch is DORA_STATE_CORRUPT, naming the key).
      for (const { key, value } of db.getRange({ transaction: txn })) {
        const name = key.toString('utf8')
        state.set(
          name,
          seal.open(key, value, () => `state key ${JSON.stringify(name)} of operator "${operatorKey}"`),
        )
      }
      const metaKey = dbs.metaKey(operatorKey)
      const stored = dbs.meta.get(metaKey, { transaction: txn })
      metaBytes = stored === undefined ? undefined : seal.open(metaKey, stored, `the meta record of operator "${operatorKey}"`)
    } finally {
      txn.done()
    }
  } catch (err) {
    throw stateErrorFrom(err, context)
  }
  if (metaBytes === undefined) return { state, meta: emptyMeta() }
  try {
    return { state, meta: decodeMeta(metaBytes) }
  } catch (err) {
    throw corrupt(dbs, operatorKey, `cannot load the state of operator "${operatorKey}" from ${dbs.dir}`, err)
  }
}

/** The messages for `operatorKey` left in the outbox, in key order. */
export function pendingFor(dbs: StoreDatabases, operatorKey: string, dataflowId: string): OutboxEntry[] {
  dbs.requireEnv(operatorKey)
  const context: StateErrorContext = { dir: dbs.dir, action: 'load', operator: operatorKey }
  const outbox = dbs.outboxDb()
  const raw: Array<{ key: Buffer; value: Buffer }> = []
  try {
    for (const { key, value } of outbox.getRange(receiverRange(operatorKey))) {
      raw.push({ key: Buffer.from(key), value: dbs.seal.open(key, value, () => `a message waiting for operator "${operatorKey}"`) })
    }
  } catch (err) {
    throw stateErrorFrom(err, context)
  }
  try {
    return decodeOutboxEntries(raw, dataflowId, (ref) => readSegment(dbs, ref))
  } catch (err) {
    throw corrupt(dbs, operatorKey, `cannot read the messages waiting for operator "${operatorKey}" in ${dbs.dir}`, err)
  }
}

/** The payload of one committed outbox entry (a fresh copy), or undefined when it is not there. */
export function payloadOf(dbs: StoreDatabases, operatorKey: string, key: Buffer): Uint8Array | undefined {
  dbs.requireEnv(operatorKey)
  const outbox = dbs.outboxDb()
  let value: Buffer | undefined
  let data: Buffer | undefined
  let ref: Buffer | undefined
  try {
    // One read transaction: the header and its payload stored apart come from one commit.
    const txn = outbox.useReadTransaction()
    try {
      const what = (): string => `a message waiting for operator "${operatorKey}"`
      const read = (k: Buffer): Buffer | undefined => {
        const stored = outbox.get(k, { transaction: txn })
        return stored === undefined ? undefined : dbs.seal.open(k, stored, what)
      }
      value = read(key)
      data = value === undefined ? undefined : read(dataKey(key))
      ref = value === undefined || data !== undefined ? undefined : read(segmentKey(key))
    } finally {
      txn.done()
    }
  } catch (err) {
    throw stateErrorFrom(err, { dir: dbs.dir, action: 'load', operator: operatorKey })
  }
  if (value === undefined) return undefined
  try {
    // The segment cannot go meanwhile: only this thread commits, and this entry is not consumed.
    if (ref !== undefined) data = readSegment(dbs, ref)
    return decodeOutboxEntry(key, value, '', data).data
  } catch (err) {
    throw corrupt(dbs, operatorKey, `cannot read a message waiting for operator "${operatorKey}" in ${dbs.dir}`, err)
  }
}

/** The last message number `senderKey` committed (0n if none), from its counter in `__meta__`. */
export function senderNumber(dbs: StoreDatabases, senderKey: string, counterKey: Buffer): bigint {
  dbs.requireEnv(senderKey)
  let bytes: Buffer | undefined
  try {
    const stored = dbs.meta.get(counterKey)
    bytes = stored === undefined ? undefined : dbs.seal.open(counterKey, stored, `the message counter of node "${senderKey}"`)
  } catch (err) {
    throw stateErrorFrom(err, { dir: dbs.dir, action: 'load', operator: senderKey })
  }
  const text = bytes?.toString('utf8') ?? '0'
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new StateCorruptError(`cannot read the message counter of node "${senderKey}" in ${dbs.dir}: ${JSON.stringify(text.slice(0, 40))} is not a number`, {
      dir: dbs.dir,
      operator: senderKey,
      hint: corruptHint(dbs.dir),
    })
  }
  return BigInt(text)
}

/**
 * On open: count the committed entries that reference each segment file, then delete the
 * files none references (written for a commit that never happened, or consumed but not yet
 * unlinked when a process died). Only an owner of the store opens it (owner-lock.ts), so no
 * other process is writing a segment meanwhile.
 */
export function adoptSegments(dbs: StoreDatabases): void {
  const files = dbs.segments.files
  try {
    const outbox = dbs.outboxDb()
    for (const key of outbox.getKeys()) {
      if (!isSegmentKey(key)) continue
      const value = outbox.get(key)
      if (value === undefined) continue
      try {
        files.retain(decodeSegmentRef(dbs.seal.open(key, value, 'a segment reference')).name)
      } catch {
        // A damaged reference: reading its entry says so (pending()), naming it.
      }
    }
  } catch (err) {
    throw stateErrorFrom(err, { dir: dbs.dir, action: 'open' })
  }
  files.sweep()
}

/** The payload of a segment reference; throws an Error naming the file when it is not right. */
function readSegment(dbs: StoreDatabases, ref: Buffer): Buffer {
  const { name, size } = decodeSegmentRef(ref)
  return dbs.segments.files.read(name, size)
}
