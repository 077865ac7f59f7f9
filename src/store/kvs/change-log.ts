/**
 * A namespace's change log, what watches read (LMDB has no notifications). Every write also
 * appends to it in the same transaction, keyed by the LMDB transaction id (monotonic for the
 * whole environment) and the write's index in it:
 *
 * ```
 * log/<name>: [txn id u64 BE][index u32 BE] -> [kind u8][key length u16 BE][key][value, when inline][seal]
 * ```
 *
 * The seal (KVS layout 2 on, ../lmdb/checksum.ts) covers the entry's log key and bytes.
 *
 * Every put keeps its value in the log, whatever its size, so a watcher sees each put's own
 * value even when later writes replaced it (the namespace holds only the newest). The price:
 * a value is stored twice until its log entry is trimmed, which the map size check counts.
 *
 * The log keeps the changes of the last {@link KVS_LOG_KEEP_TXNS} write transactions of the
 * environment; it is trimmed inside write transactions, in batches, and the floor below which
 * entries are gone is kept in `__meta__` (`trim/<name>`). A reader that asks for changes below
 * the floor gets a `lagged` change.
 *
 * @module
 */
import type { RootDatabase } from 'lmdb'
import { writeUtf8 } from './keys.js'
import { freshReadTxn, type Bytes, type NamespaceDb, type OpenTxn, type SharedEnv } from './environment.js'
import type { KvsChange } from './watch.js'

/** The change log keeps the changes of this many most recent write transactions. */
export const KVS_LOG_KEEP_TXNS = 10_000
/** Trim the log in batches, so most writes only compare two numbers: it holds up to KEEP + BATCH entries. */
export const KVS_LOG_TRIM_BATCH_TXNS = 256

// Change log entry kinds.
/** A put with its value: every put since issue 12, whatever the value's size. */
const LOG_PUT = 1
/**
 * A put of a value over 4096 bytes whose value was NOT kept in the log (written by dora-ts
 * before issue 12): the value is read from the namespace, so it is the key's value now, not
 * the one this put wrote. That was the watch bug (`put k=a*5000`, `put k=b*5000` seen as `b`,
 * `b`): every put now keeps its own value, and this kind is only read, for logs written by an
 * older dora-ts, until they are trimmed.
 */
const LOG_PUT_EXTERNAL = 2
const LOG_DELETE = 3

/** A position in a change log: the next entry to read. */
export interface LogPosition {
  seq: number
  index: number
}

/** One namespace's log, as {@link appendChange} and {@link readChanges} use it. */
export interface NamespaceLog {
  /** The namespace's name (the key of its known floor in {@link SharedEnv.floors}). */
  name: string
  log: Bytes
  /** Its floor's key in `__meta__`. */
  trimKey: Buffer
}

/** Where a watch that starts now begins: after the last committed transaction. */
export function logEnd(env: RootDatabase<Buffer, Buffer>): LogPosition {
  return { seq: (env.getStats() as { lastTxnId: number }).lastTxnId + 1, index: 0 }
}

/**
 * Append one change (a put of `value`, or a delete when undefined) to the log in the open
 * transaction `txn`, and trim the log when due.
 */
export function appendChange(shared: SharedEnv, txn: OpenTxn, target: NamespaceLog, key: string, keyBytes: number, value: Buffer | undefined): void {
  const { log, name, trimKey } = target
  const entryKey = logKey(txn.seq, txn.index++)
  log.putSync(entryKey, shared.seal.sealTransient(entryKey, encodeLogEntry(key, keyBytes, value)))
  const horizon = txn.seq - KVS_LOG_KEEP_TXNS
  const known = shared.floors.get(name) ?? 0
  if (horizon - known < KVS_LOG_TRIM_BATCH_TXNS) return
  const stored = shared.meta.get(trimKey)
  const floor = Math.max(known, stored === undefined ? 0 : readSeq(stored))
  if (horizon - floor >= KVS_LOG_TRIM_BATCH_TXNS) {
    // Collect first: removing under a live cursor is not safe in lmdb-js.
    const old = [...log.getKeys({ end: logKey(horizon, 0) })]
    for (const k of old) log.removeSync(k)
    shared.meta.putSync(trimKey, seqBytes(horizon))
    shared.floors.set(name, horizon)
  } else {
    shared.floors.set(name, floor)
  }
}

/**
 * Empty every namespace's change log in the open write transaction `txn` (their floors move
 * to it: a watcher behind gets a `lagged` change). The log is there for watchers, the keys
 * are the data: when the KVS is full, the log gives way first, so that deleting keys makes
 * room again although the log still held copies of their values. Returns how many entries
 * went.
 */
export function dropAllLogs(shared: SharedEnv, txn: OpenTxn, logs: Array<{ name: string; log: Bytes; trimKey: Buffer }>): number {
  let dropped = 0
  const end = logKey(txn.seq, 0)
  for (const { name, log, trimKey } of logs) {
    // Collect first: removing under a live cursor is not safe in lmdb-js.
    const old = [...log.getKeys({ end })]
    for (const k of old) log.removeSync(k)
    dropped += old.length
    shared.meta.putSync(trimKey, seqBytes(txn.seq))
    shared.floors.set(name, txn.seq)
  }
  return dropped
}

/**
 * Raise the floor of namespace `name`'s log to `seq` (in the open write transaction), for a drop
 * that emptied the log: a watch that started before gets `lagged` and re-reads the namespace,
 * which is empty, instead of waiting for changes that were wiped.
 */
export function raiseLogFloor(shared: SharedEnv, name: string, trimKey: Buffer, seq: number): void {
  shared.meta.putSync(trimKey, seqBytes(seq))
  shared.floors.set(name, seq)
}

/**
 * The changes of keys with `prefix` in the log from position `from` (at most `limit` entries
 * read, in one fresh read snapshot), and the position after the last one read. A put written
 * by an older dora-ts without its value reads it from `values` in the same snapshot.
 */
export function readChanges(
  shared: SharedEnv,
  source: NamespaceLog,
  values: NamespaceDb | undefined,
  from: LogPosition,
  prefix: Buffer,
  limit: number,
): { changes: KvsChange[]; next: LogPosition } {
  const changes: KvsChange[] = []
  let next = from
  const txn = freshReadTxn(source.log)
  try {
    const floorBytes = shared.meta.get(source.trimKey, { transaction: txn })
    const floor = floorBytes === undefined ? 0 : readSeq(floorBytes)
    if (floor > next.seq) {
      changes.push({ type: 'lagged', seq: floor })
      next = { seq: floor, index: 0 }
    }
    let read = 0
    for (const { key, value } of source.log.getRange({ start: logKey(next.seq, next.index), transaction: txn })) {
      const seq = readSeq(key)
      next = { seq, index: key.readUInt32BE(8) + 1 }
      const entry = shared.seal.open(key, value, () => `change ${seq}.${next.index - 1} of namespace "${source.name}"'s change log`)
      const change = decodeLogEntry(entry, seq, prefix, (key) => {
        const stored = values?.get(key, { transaction: txn })
        return stored === undefined ? undefined : shared.seal.open(key, stored, () => `key ${JSON.stringify(key)} of namespace "${source.name}"`)
      })
      if (change !== undefined) changes.push(change)
      if (++read >= limit) break
    }
  } finally {
    txn.done()
  }
  return { changes, next }
}

/** Log keys sort by transaction id, then by index in the transaction. */
function logKey(seq: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(12)
  key.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 0)
  key.writeUInt32BE(seq >>> 0, 4)
  key.writeUInt32BE(index, 8)
  return key
}

function seqBytes(seq: number): Buffer {
  return logKey(seq, 0).subarray(0, 8)
}

function readSeq(bytes: Buffer): number {
  return bytes.readUInt32BE(0) * 0x1_0000_0000 + bytes.readUInt32BE(4)
}

function encodeLogEntry(key: string, keyBytes: number, value: Buffer | undefined): Buffer {
  const entry = Buffer.allocUnsafe(3 + keyBytes + (value?.length ?? 0))
  entry[0] = value === undefined ? LOG_DELETE : LOG_PUT
  entry.writeUInt16BE(keyBytes, 1)
  writeUtf8(entry, key, 3, keyBytes)
  value?.copy(entry, 3 + keyBytes)
  return entry
}

/** The change an entry records, if its key has `prefix`; a put of a large value reads the value via `read`. */
function decodeLogEntry(entry: Buffer, seq: number, prefix: Buffer, read: (key: string) => Buffer | undefined): KvsChange | undefined {
  const kind = entry[0]
  const length = entry.readUInt16BE(1)
  const keyBytes = entry.subarray(3, 3 + length)
  if (!hasPrefix(keyBytes, prefix)) return undefined
  const key = keyBytes.toString('utf8')
  switch (kind) {
    case LOG_PUT:
      return { type: 'put', key, value: entry.subarray(3 + length), seq }
    case LOG_PUT_EXTERNAL: {
      // The value as it is now; if the key was deleted since, its delete follows in the log.
      const value = read(key)
      return value === undefined ? undefined : { type: 'put', key, value, seq }
    }
    case LOG_DELETE:
      return { type: 'delete', key, seq }
    default:
      // An entry kind of a newer dora-ts: skip it.
      return undefined
  }
}

function hasPrefix(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
}
