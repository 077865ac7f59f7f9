/**
 * The commit path of operator state: check and encode one event's writes and meta before
 * anything is written ({@link encodeCommit}), make sure the store can hold them
 * ({@link SizeBudget}), then apply them in ONE synchronous LMDB write transaction
 * ({@link applyCommit}) with the flags of the operator's durability ({@link COMMIT_FLAGS}).
 *
 * Durability, chosen per commit with LMDB's per-transaction MDB_NOSYNC flag (see store.ts):
 * 'process' commits are not fsync'ed, 'power' commits are.
 *
 * @module
 */
import type { RootDatabase } from 'lmdb'
import type { Durability } from '../../spec/types.js'
import { usedBytes } from '../lmdb/used-pages.js'
import { mapFullHint, StateBadKeyError, StateBadMetaError, StateBadValueError, StateMapFullError, StateValueTooLargeError, stateErrorFrom } from './errors.js'
import { encodeMeta, metaProblem, stateKeyProblem, type OperatorMeta } from './disk-layout.js'
import type { Bytes } from './environment.js'
import type { OutboxChange } from './outbox.js'
import type { OutboxTxn } from './outbox-txn.js'
import { SEAL_BYTES, type ValueSeal } from '../lmdb/checksum.js'
import { asBuffer } from '../../bytes.js'

/**
 * One write of an event: set `key` to `value`, or delete `key`. `sealed`: `value` already ends
 * with its seal (an operator's worker computes it, off the routing thread that commits: see
 * ../lmdb/checksum.ts), so a store of layout 2 stores it as it is (one of layout 1 without it).
 */
export type StateWrite = { key: string; value: Uint8Array; sealed?: true } | { key: string; delete: true }

/**
 * lmdb-js hands a value's length to its native writer as a uint32, so a single value must
 * stay below 4 GiB whatever the map size.
 */
export const MAX_VALUE_BYTES = 0xffff_ffff

// lmdb-js transactionSync flags (index.d.ts TransactionFlags). NO_SYNC_FLUSH is passed to
// mdb_txn_begin as MDB_NOSYNC: commit without fsync, for this transaction only.
const ABORTABLE = 0x1
const SYNCHRONOUS_COMMIT = 0x2
const NO_SYNC_FLUSH = 0x10000
/** The transaction flags of a commit of each durability. */
export const COMMIT_FLAGS: Readonly<Record<Durability, number>> = {
  process: ABORTABLE | SYNCHRONOUS_COMMIT | NO_SYNC_FLUSH,
  power: ABORTABLE | SYNCHRONOUS_COMMIT,
}

// Upper estimate of what one commit adds to the file beyond its keys and values: LMDB copies
// the root-to-leaf path of each database it touches (operator, __meta__, main, free list).
const COMMIT_SLACK_PAGES = 12
const NODE_OVERHEAD_BYTES = 16

/** One event's writes and meta, checked and encoded: what {@link applyCommit} writes. */
export interface EncodedCommit {
  keys: Buffer[]
  /** The value of each key, or undefined to delete it; sealed when written, unless {@link presealed} says it is already. */
  values: (Buffer | undefined)[]
  /** Per value: it already ends with its seal (an operator's worker sealed it). */
  presealed: boolean[]
  metaKey: Buffer
  /** The encoded meta record (sealed when written); empty while {@link deferredMeta} is set. */
  metaBytes: Buffer
  /**
   * The meta, not yet encoded ({@link encodeCommit} with `deferMeta`): a group commit encodes
   * and writes only the last meta record of each operator in the group ({@link encodeDeferredMeta}).
   */
  deferredMeta?: OperatorMeta | undefined
  /** Upper estimate of the bytes the commit adds to the data file. */
  growth: number
  /** How the store keeps values: {@link writeCommit} seals with it. */
  seal: ValueSeal
  /** Messages to operators this event sent, and the outbox entry of the input it consumed. */
  outbox?: OutboxChange | undefined
}

/** Where a commit goes, for its checks and messages. */
export interface CommitTarget {
  dir: string
  operatorKey: string
  /** The operator's meta record key in `__meta__`. */
  metaKey: Buffer
  pageSize: number
  mapSizeBytes: number
  /** How the store keeps values: each value and the meta record are sealed with it. */
  seal: ValueSeal
}

/**
 * Check and encode `writes` and `meta` before the transaction, so a bad write aborts nothing:
 * DORA_STATE_BAD_META, DORA_STATE_BAD_KEY, DORA_STATE_BAD_VALUE, DORA_STATE_VALUE_TOO_LARGE.
 * With `deferMeta` the meta is checked but left for {@link encodeDeferredMeta}: in a group
 * commit, every event of an operator but the last would write a meta record the next one
 * overwrites in the same transaction (JSON of the dedup record, ~2 us an event in the 8 B
 * stream's profile of the routing thread).
 */
export function encodeCommit(target: CommitTarget, writes: readonly StateWrite[], meta: OperatorMeta, outbox?: OutboxChange, deferMeta = false): EncodedCommit {
  const { dir, operatorKey, metaKey, pageSize, mapSizeBytes, seal } = target
  const metaIssue = metaProblem(meta)
  if (metaIssue !== undefined) {
    throw new StateBadMetaError(`cannot commit the state of operator "${operatorKey}" in ${dir}: ${metaIssue}`, {
      dir,
      operator: operatorKey,
      hint: 'this is a bug in the operator host: it must pass the event number and dedup ids as bigints',
    })
  }
  const metaBytes = deferMeta ? EMPTY : encodeMeta(meta)
  const keys = new Array<Buffer>(writes.length)
  const values = new Array<Buffer | undefined>(writes.length)
  const presealedValues = new Array<boolean>(writes.length).fill(false)
  let growth = metaKey.length + (deferMeta ? metaSizeBound(meta) : metaBytes.length) + SEAL_BYTES + COMMIT_SLACK_PAGES * pageSize
  for (let i = 0; i < writes.length; i++) {
    const write = writes[i] as StateWrite
    const key = typeof write?.key === 'string' ? Buffer.from(write.key, 'utf8') : undefined
    const keyIssue = stateKeyProblem(write?.key, key?.length ?? 0)
    if (keyIssue !== undefined || key === undefined) {
      throw new StateBadKeyError(`cannot commit the state of operator "${operatorKey}" in ${dir}: ${keyIssue ?? 'bad key'}`, {
        dir,
        operator: operatorKey,
        hint: 'use non-empty state keys of at most 511 UTF-8 bytes',
      })
    }
    keys[i] = key
    if ('delete' in write && write.delete === true) {
      values[i] = undefined
      continue
    }
    const given = (write as { value?: unknown }).value
    const presealed = (write as { sealed?: unknown }).sealed === true && given instanceof Uint8Array && given.byteLength >= SEAL_BYTES
    const value = presealed ? given.subarray(0, given.byteLength - SEAL_BYTES) : given
    if (!(value instanceof Uint8Array)) {
      throw new StateBadValueError(
        `cannot commit the state of operator "${operatorKey}" in ${dir}: the value of key ${JSON.stringify(write.key)} is not a Uint8Array`,
        {
          dir,
          operator: operatorKey,
          hint: 'serialize state values to bytes (Uint8Array) before saving them',
        },
      )
    }
    if (value.byteLength > MAX_VALUE_BYTES || value.byteLength + COMMIT_SLACK_PAGES * pageSize > mapSizeBytes) {
      const limit = value.byteLength > MAX_VALUE_BYTES ? `the limit is ${MAX_VALUE_BYTES}` : `a store of ${mapSizeBytes} bytes can never hold it`
      throw new StateValueTooLargeError(
        `cannot commit the state of operator "${operatorKey}" in ${dir}: the value of key ${JSON.stringify(write.key)} is ${value.byteLength} bytes, ${limit}`,
        { dir, operator: operatorKey, hint: 'split the value across several keys, or raise the state map size' },
      )
    }
    // Sealed in writeCommit, in a scratch buffer (checksum.ts sealTransient), unless it is already.
    presealedValues[i] = presealed && seal.sealed
    values[i] = asBuffer(presealedValues[i] === true ? (given as Uint8Array) : value)
    growth += key.length + value.byteLength + SEAL_BYTES + NODE_OVERHEAD_BYTES
  }
  for (const { key, value, data } of outbox?.put ?? []) {
    growth += key.length + value.length + NODE_OVERHEAD_BYTES
    // Counted even when it becomes a segment file: an upper estimate (see SizeBudget).
    if (data !== undefined) growth += key.length + 2 + data.length + NODE_OVERHEAD_BYTES
  }
  // A commit that only deletes (and rewrites the meta record) is never refused for want of
  // room: deleting state is how a full store is made usable again (issue 12), and LMDB itself
  // grows the map for the few pages it copies.
  if (onlyDeletes(values, outbox)) growth = 0
  if (growth > mapSizeBytes) {
    throw new StateValueTooLargeError(
      `cannot commit the state of operator "${operatorKey}" in ${dir}: the writes of this event need up to ${growth} bytes, a store of ${mapSizeBytes} bytes can never hold them`,
      { dir, operator: operatorKey, hint: 'save less state per event, or raise the state map size' },
    )
  }
  const encoded: EncodedCommit = { keys, values, presealed: presealedValues, metaKey, metaBytes, growth, outbox, seal }
  if (deferMeta) encoded.deferredMeta = meta
  return encoded
}

const EMPTY = Buffer.alloc(0)

/**
 * An upper bound of the bytes {@link encodeMeta} makes of `meta` (checked by metaProblem):
 * each bigint at most 20 digits, each key at most 6 bytes of JSON per UTF-16 unit (`\uXXXX`).
 */
function metaSizeBound(meta: OperatorMeta): number {
  let bytes = 80
  for (const producer of meta.seen.keys()) bytes += producer.length * 6 + 60
  return bytes
}

/** Encode the meta of a commit made with `deferMeta` (a no-op for one encoded already). */
export function encodeDeferredMeta(commit: EncodedCommit): void {
  if (commit.deferredMeta === undefined) return
  commit.metaBytes = encodeMeta(commit.deferredMeta)
  commit.deferredMeta = undefined
}

/**
 * At least one delete, no value written and no message put in the outbox. (A commit of the
 * meta record alone still counts against the size: its record can grow.)
 */
function onlyDeletes(values: readonly (Buffer | undefined)[], outbox: OutboxChange | undefined): boolean {
  return values.length > 0 && values.every((v) => v === undefined) && (outbox?.put ?? []).length === 0
}

/**
 * Apply an encoded commit to the operator's database `db` and its meta record in `meta`, in
 * one synchronous write transaction with `flags`; returns once committed.
 */
export function applyCommit(
  env: RootDatabase<Buffer, Buffer>,
  db: Bytes,
  meta: Bytes,
  commit: EncodedCommit,
  flags: number,
  target: Pick<CommitTarget, 'dir' | 'operatorKey' | 'mapSizeBytes'>,
  outbox?: { db: Bytes; txn: OutboxTxn },
): void {
  try {
    env.transactionSync(() => writeCommit(db, meta, commit, outbox), flags)
  } catch (err) {
    throw stateErrorFrom(err, { dir: target.dir, action: 'commit', operator: target.operatorKey, mapSizeBytes: target.mapSizeBytes })
  }
}

/**
 * Write an encoded commit inside the caller's write transaction (one of a group, see store.ts).
 * Its meta record is left out when `writeMeta` is false: a later commit of the same operator
 * in the same transaction writes it.
 */
export function writeCommit(db: Bytes, meta: Bytes, commit: EncodedCommit, outboxWrites?: { db: Bytes; txn: OutboxTxn }, writeMeta = true): void {
  const { keys, values, presealed, metaKey, metaBytes, outbox, seal } = commit
  for (let i = 0; i < keys.length; i++) {
    const value = values[i]
    const key = keys[i] as Buffer
    if (value === undefined) db.removeSync(key)
    else db.putSync(key, presealed[i] === true ? value : seal.sealTransient(key, value))
  }
  if (writeMeta) meta.putSync(metaKey, seal.sealTransient(metaKey, metaBytes))
  if (outbox !== undefined && outboxWrites !== undefined) {
    const { db: outboxDb, txn } = outboxWrites
    for (const key of outbox.remove) txn.remove(outboxDb, key)
    if (outbox.removeInline !== undefined) for (const key of outbox.removeInline) txn.removeInline(outboxDb, key)
    if (outbox.removeSegment !== undefined) for (const { key, name } of outbox.removeSegment) txn.removeSegment(outboxDb, key, name)
    for (const put of outbox.put) txn.put(outboxDb, put)
  }
}

/**
 * Enforces a store's map size. lmdb-js grows the map on demand, so LMDB would never report
 * MDB_MAP_FULL by itself. Measuring the file costs a few microseconds, so it is done only when
 * the last measurement plus the upper estimates of the commits since then could exceed the
 * limit. Conservative: it assumes a commit needs fresh pages, although LMDB may reuse freed ones.
 */
export class SizeBudget {
  readonly #mapSizeBytes: number
  readonly #pageSize: number
  /** Data file size (bytes of pages up to the last used one) when last measured. */
  #highWater: number
  /** Upper estimate of what the commits since that measurement added. */
  #growth = 0

  constructor(mapSizeBytes: number, pageSize: number, highWater: number) {
    this.#mapSizeBytes = mapSizeBytes
    this.#pageSize = pageSize
    this.#highWater = highWater
  }

  /**
   * Count `growth` more bytes, or throw DORA_STATE_MAP_FULL when the file (measured with
   * `env`) cannot take them.
   */
  reserve(env: RootDatabase<Buffer, Buffer>, growth: number, dir: string, operatorKey: string): void {
    // Nothing to add (a commit that only deletes: encodeCommit): never refused, even when full.
    if (growth === 0) return
    if (this.#highWater + this.#growth + growth > this.#mapSizeBytes) {
      const stats = env.getStats() as { lastPageNumber: number }
      this.#highWater = (stats.lastPageNumber + 1) * this.#pageSize
      this.#growth = 0
      if (this.#highWater + growth > this.#mapSizeBytes) {
        // The file never shrinks, but LMDB reuses the pages deletes free: near the limit, the
        // pages in use decide, so a full store takes writes again once state is deleted.
        const used = usedBytes(env, this.#pageSize) ?? this.#highWater
        if (used + growth > this.#mapSizeBytes) {
          throw new StateMapFullError(
            `cannot commit the state of operator "${operatorKey}" in ${dir}: the store is full (${used} of ${this.#mapSizeBytes} bytes used, this event needs up to ${growth} more)`,
            { dir, operator: operatorKey, hint: mapFullHint(this.#mapSizeBytes) },
          )
        }
      }
    }
    this.#growth += growth
  }
}
