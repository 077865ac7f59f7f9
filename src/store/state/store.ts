/**
 * Crash-safe operator state on LMDB (lmdb-js). One environment per dataflow state directory,
 * one named database per operator, and a `__meta__` database with the layout record and each
 * operator's event bookkeeping (see disk-layout.ts).
 *
 * The supervisor's main thread owns the environment. While an operator handles one event its
 * worker buffers saveState/deleteState calls and ships them with "event done"; the host then
 * calls {@link OperatorState.commit} with those writes AND the event's meta, which applies
 * both in ONE synchronous LMDB write transaction. So, per operator:
 * - atomic per event: after any crash the state is exactly that of the last committed event,
 *   and its meta says which event that was;
 * - commit() returns only once the transaction is committed (and, for 'power', flushed).
 *
 * Durability, chosen per commit with LMDB's per-transaction MDB_NOSYNC flag:
 * - 'process' (default): the commit is written to the OS page cache but not fsync'ed. It
 *   survives a crash or SIGKILL of the operator or of the whole supervisor (the kernel still
 *   has the pages), not an OS crash or power loss, which can lose recent commits and, on a file
 *   system that reorders writes, damage the file (then open() fails with DORA_STATE_CORRUPT).
 * - 'power': LMDB fdatasync's the data and writes the meta page through O_DSYNC before commit()
 *   returns; the commit survives power loss. The environment is opened without lmdb-js's
 *   `overlappingSync` (which defers the flush past the commit) and without `noSync`.
 * A 'power' commit also flushes every 'process' commit before it. For the power-loss guarantee
 * to hold for a whole dataflow, all its operators should use 'power'.
 *
 * lmdb-js pitfalls: the ones of opening are handled in environment.ts; a live file is never
 * copied (snapshot() uses backup()). Never use a StateStore across fork(), and never call
 * process.exit() inside a transaction (lmdb-js #336): commit() runs no user code inside its
 * transaction.
 *
 * The files of the state store, by job: disk-layout.ts (records and names on disk),
 * environment.ts (opening: options, preflight, layout check, one store per directory),
 * commit.ts (checking, encoding and applying one event's writes; the size limit), this file
 * (the store and its operator handles), owner-lock.ts (one supervisor per state directory).
 *
 * @example
 * ```ts
 * const store = StateStore.open({ dir: '.dora-ts/state/robot', durability: 'process' })
 * const op = store.operator('planner/path')
 * const { state, meta } = op.load() // after a restart: the last committed event's state
 * op.commit([{ key: 'pose', value: bytes }], { lastEvent: meta.lastEvent + 1n, seen: meta.seen })
 * store.close()
 * ```
 *
 * @module
 */

import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RootDatabase } from 'lmdb'
import type { Durability } from '../../spec/types.js'
import { corruptHint, StateBadKeyError, StateClosedError, StateCorruptError, StateSnapshotError, stateErrorFrom, type StateErrorContext } from './errors.js'
import { decodeMeta, emptyMeta, LAYOUT_KEY, operatorDbName, operatorKeyOf, operatorKeyProblem, type OperatorMeta } from './disk-layout.js'
import { checkDurability, DEFAULT_MAP_SIZE_BYTES, openStateEnvironment, releaseStateDir, type Bytes, type StateEnvironment } from './environment.js'
import { applyCommit, COMMIT_FLAGS, encodeCommit, encodeDeferredMeta, SizeBudget, writeCommit, type EncodedCommit, type StateWrite } from './commit.js'
import { errorMessage } from '../../errors.js'
import { listDbNames } from '../lmdb/db-names.js'
import {
  dataKey,
  decodeOutboxEntries,
  decodeOutboxEntry,
  isDataKey,
  isSegmentKey,
  OUTBOX_DB,
  receiverRange,
  segmentKey,
  type OutboxChange,
  type OutboxEntry,
} from './outbox.js'
import { OutboxTxn, type SegmentPolicy } from './outbox-txn.js'
import { decodeSegmentRef, SegmentFiles, segmentDirFor, segmentThreshold } from './segments.js'

export type { OperatorMeta } from './disk-layout.js'
export type { Durability } from '../../spec/types.js'
export { DEFAULT_MAP_SIZE_BYTES, MAX_DBS, MAX_READERS, MIN_MAP_SIZE_BYTES } from './environment.js'
export { MAX_VALUE_BYTES, type StateWrite } from './commit.js'
export type { OutboxChange, OutboxEntry, OutboxPut } from './outbox.js'
export { DEFAULT_SEGMENT_THRESHOLD_BYTES } from './segments.js'

/** Options of {@link StateStore.open}. */
export interface StateStoreOptions {
  /** Directory of this dataflow's state, e.g. ./.dora-ts/state/<dataflow>; created if missing. */
  dir: string
  /** Default durability of the operators' commits; {@link StateStore.operator} can override it. */
  durability: Durability
  /**
   * Size limit of the store in bytes; default 1 GiB. It is also LMDB's initial map size (a
   * sparse mapping, costs nothing until used). lmdb-js grows the map on demand, so LMDB would
   * never report MDB_MAP_FULL by itself: the store enforces this limit, refusing a commit that
   * could push the data file past it (DORA_STATE_MAP_FULL). The check is conservative: it
   * assumes a commit needs fresh pages, although LMDB may reuse freed ones.
   */
  mapSizeBytes?: number
  /**
   * Where large outbox payloads are kept as files (segments.ts): default the store's folder
   * under the shared-memory root (`/dev/shm/dora-ts-<uid>/store-<hash>`); false keeps every
   * payload in LMDB.
   */
  segmentDir?: string | false
  /**
   * Operator payloads of at least this many bytes become segment files; default
   * `DORA_TS_SEGMENT_THRESHOLD`, else {@link DEFAULT_SEGMENT_THRESHOLD_BYTES}. 0 keeps every
   * payload in LMDB. (A custom node's shared-memory payload is adopted whatever its size.)
   */
  segmentThresholdBytes?: number
}

/** Options of {@link StateStore.operator}. */
export interface OperatorStateOptions {
  /** Durability of this operator's commits; default the store's. */
  durability?: Durability
}

/** One operator's state: its private named database and its meta record. */
export interface OperatorState {
  /** The `node/operator` key this handle was made for. */
  readonly operatorKey: string
  readonly durability: Durability
  /** Current state (keys -> values) and meta, read in one read transaction. */
  load(): { state: Map<string, Uint8Array>; meta: OperatorMeta }
  /**
   * Apply writes (in order), set meta and apply the outbox change (messages this event sent
   * to operators, the entry of the input it consumed) in ONE synchronous transaction.
   * Returns when committed.
   */
  commit(writes: readonly StateWrite[], meta: OperatorMeta, outbox?: OutboxChange): void
  /**
   * The same as {@link commit}, grouped: the event is committed together with every other
   * commitLater of this store (any operator) made in the same turn of the event loop, in ONE
   * transaction (each event still all or nothing), then `done` is called, with the error if
   * the transaction failed. Calls of one operator commit in order. A sync {@link commit} or
   * close() commits the pending group first.
   */
  commitLater(writes: readonly StateWrite[], meta: OperatorMeta, outbox: OutboxChange | undefined, done: (err?: unknown) => void): void
  /** The messages for this operator left in the outbox, in key order (see outbox.ts). */
  pending(dataflowId: string): OutboxEntry[]
  /**
   * The payload of one committed outbox entry for this operator (a fresh copy), or undefined
   * when it is not there: lets the host transfer an input to its worker and read it back if
   * it must deliver it again after a crash.
   */
  payload(key: Buffer): Uint8Array | undefined
  /** Delete outbox entries (messages this operator will never consume: dropped by its queue policy). */
  discard(keys: readonly Buffer[]): void
  /**
   * {@link discard}, grouped with the commits of this turn of the event loop (one transaction,
   * no write transaction of its own); `done` gets the error if the transaction failed.
   */
  discardLater(keys: readonly Buffer[], done: (err?: unknown) => void): void
  /** Commit the pending group now (its `done` callbacks run before this returns). */
  flush(): void
}

/** The outbox of a receiver that keeps no state (a custom node): see {@link StateStore.receiverOutbox}. */
export interface ReceiverOutbox {
  /** The messages committed for it and not consumed yet, in key order. */
  pending(dataflowId: string): OutboxEntry[]
  /** Delete the entries it consumed, in a write transaction of their own. */
  discard(keys: readonly Buffer[]): void
  /** The same, grouped with the commits of this turn (see {@link OperatorState.discardLater}). */
  discardLater(keys: readonly Buffer[], done: (err?: unknown) => void): void
  /** Call `done` once everything queued for the group before it has committed (see {@link SenderOutbox.afterGroup}). */
  afterGroup(done: () => void): void
}

/** What {@link StateStore.senderOutbox} gives a sender without state of its own (a custom node). */
export interface SenderOutbox {
  /** The number of the last message the sender committed (0n if none): the next one is this + 1. */
  lastNumber(): bigint
  /**
   * Put the sender's messages into the outbox, and record `lastNumber` as its last message
   * number, in the group transaction of this turn of the event loop; `done` is called (in
   * order, with the error if the transaction failed) once committed.
   */
  commitLater(put: OutboxChange['put'], lastNumber: bigint, done: (err?: unknown) => void): void
  /**
   * Call `done` once everything queued for the group before it has committed (or failed):
   * a place in the group's order, writing nothing.
   */
  afterGroup(done: () => void): void
  /** Commit the pending group now (its `done` callbacks run before this returns). */
  flush(): void
}

/** A group entry of a sender without state: outbox writes and its message counter. */
interface SenderWrite {
  put: OutboxChange['put']
  /** The sender's last message number, in `__meta__`. */
  counter: { key: Buffer; value: Buffer }
}

/** The layout record's key in `__meta__`: the one record a full clear() keeps. */
const LAYOUT_KEY_BYTES = Buffer.from(LAYOUT_KEY, 'utf8')

/** Upper estimate of the pages one sender's group entry copies (outbox and meta paths). */
const SENDER_SLACK_PAGES = 6

/** Key in `__meta__` of the message counter of a sender without state (`node/<id>`). */
function senderMetaKey(senderKey: string): string {
  return `node/${senderKey}`
}

/** Write a sender's group entry inside the group's transaction. */
function writeSenderOutbox(meta: Bytes, outboxDb: Bytes, txn: OutboxTxn, write: SenderWrite): void {
  for (const put of write.put) txn.put(outboxDb, put)
  meta.putSync(write.counter.key, write.counter.value)
}

/** A line of {@link StateStore.stats}. */
export interface OperatorStats {
  operator: string
  /** Number of state keys. */
  entries: number
  /** Bytes of all keys (UTF-8) and values. */
  bytes: number
}

/**
 * One write waiting for the group transaction: an operator's event (`commit`), outbox entries a
 * receiver consumed (`discard`), or a commit that failed its checks (`error`, kept for order).
 */
interface GroupEntry {
  operatorKey: string
  flags: number
  commit?: EncodedCommit
  discard?: readonly Buffer[]
  /** Outbox writes of no operator event (a custom node's messages, see {@link StateStore.senderOutbox}). */
  outbox?: SenderWrite
  error?: unknown
  done: (err?: unknown) => void
}

/**
 * The state of every operator of one dataflow, in one LMDB environment. Open it once in the
 * supervisor's main thread; hand {@link OperatorState} handles to the operator hosts.
 */
export class StateStore {
  /** Absolute path of the state directory. */
  readonly dir: string
  /** Default durability of {@link operator} handles. */
  readonly durability: Durability
  /** The store's size limit in bytes. */
  readonly mapSizeBytes: number

  /** `dir` with symlinks resolved: released for reopening on close. */
  readonly #realDir: string
  #env: RootDatabase<Buffer, Buffer> | undefined
  readonly #meta: Bytes
  readonly #budget: SizeBudget
  readonly #pageSize: number
  /** Opened operator databases, by operator key. */
  readonly #dbs = new Map<string, Bytes>()
  /** Each operator's meta record key in `__meta__`, encoded once. */
  readonly #metaKeys = new Map<string, Buffer>()
  #outbox: Bytes | undefined
  /** Large payloads kept as files, and how (segments.ts). */
  readonly #segments: SegmentPolicy
  /** Commits waiting for the group transaction of this turn of the event loop. */
  readonly #group: GroupEntry[] = []
  #groupScheduled = false
  readonly #pendingSnapshots = new Set<Promise<void>>()
  #closing = false
  readonly #closed: Promise<void>
  #resolveClosed: () => void = () => {}

  private constructor(dir: string, durability: Durability, mapSizeBytes: number, opened: StateEnvironment, segments: SegmentPolicy) {
    this.dir = dir
    this.#segments = segments
    this.durability = durability
    this.mapSizeBytes = mapSizeBytes
    this.#realDir = opened.realDir
    this.#env = opened.env
    this.#meta = opened.meta
    this.#pageSize = opened.pageSize
    this.#budget = new SizeBudget(mapSizeBytes, opened.pageSize, opened.highWater)
    this.#closed = new Promise((done) => (this.#resolveClosed = done))
  }

  /**
   * Open (or create) the state store in `options.dir`. Never wipes anything: a directory that
   * holds something else, another layout version or a damaged file is refused with a
   * {@link StateError} naming it (DORA_STATE_LAYOUT, DORA_STATE_CORRUPT, DORA_STATE_OPEN).
   */
  static open(options: StateStoreOptions): StateStore {
    const dir = resolve(options.dir)
    const { durability } = options
    checkDurability(durability, dir)
    const mapSizeBytes = options.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES
    const opened = openStateEnvironment(dir, mapSizeBytes)
    const segmentDir = options.segmentDir === false ? undefined : (options.segmentDir ?? segmentDirFor(opened.realDir))
    const threshold = options.segmentThresholdBytes ?? segmentThreshold()
    const files = new SegmentFiles(segmentDir, opened.realDir)
    const store = new StateStore(dir, durability, mapSizeBytes, opened, { files, writable: segmentDir !== undefined && threshold > 0, threshold })
    try {
      store.#adoptSegments()
    } catch (err) {
      store.close()
      throw err
    }
    return store
  }

  /**
   * On open: count the committed entries that reference each segment file, then delete the
   * files none references (written for a commit that never happened, or consumed but not yet
   * unlinked when a process died). Only an owner of the store opens it (owner-lock.ts), so no
   * other process is writing a segment meanwhile.
   */
  #adoptSegments(): void {
    const files = this.#segments.files
    try {
      const outbox = this.#outboxDb()
      for (const key of outbox.getKeys()) {
        if (!isSegmentKey(key)) continue
        const value = outbox.get(key)
        if (value === undefined) continue
        try {
          files.retain(decodeSegmentRef(value).name)
        } catch {
          // A damaged reference: reading its entry says so (pending()), naming it.
        }
      }
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'open' })
    }
    files.sweep()
  }

  /**
   * The state of one operator, key `node/operator` (database `op/node/operator`). The
   * database is created on first use and cached; handles are cheap.
   */
  operator(operatorKey: string, options: OperatorStateOptions = {}): OperatorState {
    this.#requireEnv()
    const problem = operatorKeyProblem(operatorKey)
    if (problem !== undefined) {
      throw new StateBadKeyError(`bad operator key for the state store in ${this.dir}: ${problem}`, {
        dir: this.dir,
        hint: 'pass the operator as "node/operator", as in the dataflow',
      })
    }
    const durability = options.durability ?? this.durability
    checkDurability(durability, this.dir, operatorKey)
    this.#db(operatorKey)
    return {
      operatorKey,
      durability,
      load: () => this.#load(operatorKey),
      commit: (writes, meta, outbox) => this.#commit(operatorKey, COMMIT_FLAGS[durability], writes, meta, outbox),
      commitLater: (writes, meta, outbox, done) => this.#commitLater(operatorKey, COMMIT_FLAGS[durability], writes, meta, outbox, done),
      pending: (dataflowId) => this.#pending(operatorKey, dataflowId),
      payload: (key) => this.#payload(operatorKey, key),
      discard: (keys) => this.#discard(operatorKey, COMMIT_FLAGS[durability], keys),
      discardLater: (keys, done) => this.#discardLater(operatorKey, COMMIT_FLAGS[durability], keys, done),
      flush: () => {
        if (this.#group.length > 0) this.#flushGroup()
      },
    }
  }

  /**
   * The outbox of a receiver that keeps no state of its own (a custom node, key = its node
   * id): the messages committed for it and not yet consumed, and deleting those it consumed.
   * Operators use {@link operator}, which commits the deletion with their event instead.
   */
  receiverOutbox(receiverKey: string): ReceiverOutbox {
    this.#requireEnv()
    return {
      pending: (dataflowId) => this.#pending(receiverKey, dataflowId),
      discard: (keys) => this.#discard(receiverKey, COMMIT_FLAGS[this.durability], keys),
      discardLater: (keys, done) => this.#discardLater(receiverKey, COMMIT_FLAGS[this.durability], keys, done),
      afterGroup: (done) => this.#afterGroup(receiverKey, done),
    }
  }

  /**
   * The outbox of a sender that keeps no state of its own (a custom node, key = its node id):
   * its messages for the receivers that consume through the outbox, committed in the group of
   * this turn of the event loop (see {@link OperatorState.commitLater}) with the number of the
   * sender's last message, so that numbers (the messages' sort keys) keep growing across runs.
   */
  senderOutbox(senderKey: string): SenderOutbox {
    this.#requireEnv()
    const counterKey = Buffer.from(senderMetaKey(senderKey), 'utf8')
    return {
      lastNumber: () => this.#senderNumber(senderKey, counterKey),
      commitLater: (put, lastNumber, done) =>
        this.#senderLater(senderKey, { put, counter: { key: counterKey, value: Buffer.from(lastNumber.toString()) } }, done),
      afterGroup: (done) => this.#afterGroup(senderKey, done),
      flush: () => {
        if (this.#group.length > 0) this.#flushGroup()
      },
    }
  }

  /**
   * Remove everything but the layout record (for --clean-state and `state clear`): every
   * operator's state and meta, every message waiting in the outbox, every custom node's
   * message counter; or only `operatorKey`'s state, meta and the messages waiting for it. In
   * one durable transaction. Never called implicitly. Existing handles stay usable: they
   * start again from empty state.
   */
  clear(operatorKey?: string): void {
    const env = this.#requireEnv()
    const problem = operatorKey === undefined ? undefined : operatorKeyProblem(operatorKey)
    if (problem !== undefined) {
      throw new StateBadKeyError(`cannot clear the state in ${this.dir}: ${problem}`, { dir: this.dir, hint: 'pass the operator as "node/operator"' })
    }
    const context: StateErrorContext = { dir: this.dir, action: 'clear', operator: operatorKey }
    const existing = this.#operatorKeys(context)
    const targets = operatorKey === undefined ? existing : [operatorKey]
    const drops = targets.filter((key) => existing.includes(key)).map((key) => [key, this.#db(key)] as const)
    const outbox = this.#outboxDb()
    const txn = new OutboxTxn(this.#segments)
    try {
      env.transactionSync(() => {
        for (const [key, db] of drops) {
          // mdb_drop closes the handle at once, even if the transaction then fails: forget it
          // first, so the next use of the operator opens (and creates) its database afresh.
          this.#dbs.delete(key)
          db.dropSync()
        }
        for (const key of targets) this.#meta.removeSync(this.#metaKey(key))
        // Messages waiting for a cleared operator go too: it starts from nothing. Clearing the
        // whole store (--clean-state) is clean: every waiting message (custom nodes' included)
        // and every record but the layout (custom nodes' message counters, `node/<id>`) goes,
        // or the next run replayed what --clean-state forgot.
        if (operatorKey === undefined) {
          for (const key of [...this.#meta.getKeys()]) if (!key.equals(LAYOUT_KEY_BYTES)) this.#meta.removeSync(key)
        }
        const ranges = operatorKey === undefined ? [{}] : targets.map((key) => receiverRange(key))
        for (const range of ranges) {
          for (const entry of [...outbox.getKeys(range)]) {
            if (isDataKey(entry) || isSegmentKey(entry)) outbox.removeSync(entry)
            else txn.remove(outbox, entry)
          }
        }
      }, COMMIT_FLAGS.power)
    } catch (err) {
      txn.failed()
      throw stateErrorFrom(err, context)
    }
    txn.committed()
  }

  /** Entries and bytes (keys + values) of every operator with a database, in key order. */
  stats(): OperatorStats[] {
    this.#requireEnv()
    const context: StateErrorContext = { dir: this.dir, action: 'stats' }
    const result: OperatorStats[] = []
    try {
      for (const operator of this.#operatorKeys(context)) {
        const db = this.#db(operator)
        const txn = db.useReadTransaction()
        try {
          let entries = 0
          let bytes = 0
          for (const key of db.getKeys({ transaction: txn })) {
            entries++
            // getBinaryFast does not copy the value (only its length is needed); it reads from
            // the env's current read transaction, which is `txn` until the next commit.
            bytes += key.length + (db.getBinaryFast(key)?.length ?? 0)
          }
          result.push({ operator, entries, bytes })
        } finally {
          txn.done()
        }
      }
    } catch (err) {
      throw stateErrorFrom(err, context)
    }
    return result
  }

  /**
   * Write a consistent copy of the whole store into the directory `targetPath` (created if
   * missing; must not hold a store already), with lmdb-js backup(): LMDB copies from one read
   * transaction on a background thread, so commits go on meanwhile. Never copy data.mdb of a
   * live store by hand (lmdb-js #256). The copy opens with {@link StateStore.open}.
   *
   * Large payloads kept as segment files are copied too, as `segment-<name>` files of the
   * target: no segment is unlinked while the copy runs, and afterwards every segment it may
   * reference is copied (a few more are harmless: the store made from it sweeps them).
   */
  async snapshot(targetPath: string): Promise<void> {
    const env = this.#requireEnv()
    const target = resolve(targetPath)
    const fail = (why: string, cause?: unknown): StateSnapshotError =>
      new StateSnapshotError(`cannot snapshot the state store in ${this.dir} to ${target}: ${why}`, {
        dir: this.dir,
        cause,
        hint: `choose a new, empty directory for the snapshot instead of ${target}`,
      })
    if (target === this.dir) throw fail('the target is the store itself')
    try {
      // 0700: the copy is as private as the store (issue 13).
      mkdirSync(target, { recursive: true, mode: 0o700 })
    } catch (err) {
      throw fail(errorMessage(err), err)
    }
    if (existsSync(join(target, 'data.mdb'))) throw fail('it already holds a store (data.mdb exists)')
    const copy = env.backup(target, true).catch((err: unknown) => {
      throw fail(err instanceof Error ? err.message : String(err), err)
    })
    const pending = copy.then(
      () => undefined,
      () => undefined,
    )
    this.#pendingSnapshots.add(pending)
    const files = this.#segments.files
    files.pin()
    try {
      await copy
      try {
        files.copyAllTo(target)
      } catch (err) {
        throw fail(`could not copy its payload files: ${errorMessage(err)}`, err)
      }
    } finally {
      files.unpin()
      this.#pendingSnapshots.delete(pending)
    }
  }

  /**
   * Close the environment. Idempotent. Later calls on the store or its handles throw
   * DORA_STATE_CLOSED. A snapshot still being copied finishes first (the environment closes
   * when it is done): await `[Symbol.asyncDispose]()` to wait for that.
   */
  close(): void {
    if (this.#closing) return
    // Commits already accepted are committed, not dropped.
    if (this.#group.length > 0) this.#flushGroup()
    this.#closing = true
    const env = this.#env
    this.#env = undefined
    const finish = (): void => {
      this.#dbs.clear()
      this.#outbox = undefined
      this.#segments.files.close()
      try {
        // lmdb-js closes the environment synchronously when no asynchronous write is queued
        // (this store never queues one), so the directory can be reopened right away.
        void env?.close()
      } finally {
        releaseStateDir(this.#realDir)
        this.#resolveClosed()
      }
    }
    if (this.#pendingSnapshots.size === 0) finish()
    else void Promise.allSettled([...this.#pendingSnapshots]).then(finish)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.#closed
  }

  #requireEnv(operator?: string): RootDatabase<Buffer, Buffer> {
    if (this.#env === undefined) {
      throw new StateClosedError(`the state store in ${this.dir} is closed`, {
        dir: this.dir,
        operator,
        hint: 'this is a bug in the caller: it used the state store after close()',
      })
    }
    return this.#env
  }

  #db(operatorKey: string): Bytes {
    const cached = this.#dbs.get(operatorKey)
    if (cached !== undefined) return cached
    const env = this.#requireEnv(operatorKey)
    try {
      const db = env.openDB<Buffer, Buffer>({ name: operatorDbName(operatorKey), keyEncoding: 'binary', encoding: 'binary' })
      this.#dbs.set(operatorKey, db)
      return db
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'open', operator: operatorKey })
    }
  }

  #metaKey(operatorKey: string): Buffer {
    let key = this.#metaKeys.get(operatorKey)
    if (key === undefined) {
      key = Buffer.from(operatorDbName(operatorKey))
      this.#metaKeys.set(operatorKey, key)
    }
    return key
  }

  /** Operator keys of the named databases, read from LMDB's main database. */
  #operatorKeys(context: StateErrorContext): string[] {
    try {
      return listDbNames(this.#requireEnv()).flatMap((name) => operatorKeyOf(name) ?? [])
    } catch (err) {
      throw stateErrorFrom(err, context)
    }
  }

  #load(operatorKey: string): { state: Map<string, Uint8Array>; meta: OperatorMeta } {
    this.#requireEnv(operatorKey)
    const context: StateErrorContext = { dir: this.dir, action: 'load', operator: operatorKey }
    const db = this.#db(operatorKey)
    const state = new Map<string, Uint8Array>()
    let metaBytes: Buffer | undefined
    try {
      const txn = db.useReadTransaction()
      try {
        // Values of a 'binary' database come back as fresh copies, safe to keep.
        for (const { key, value } of db.getRange({ transaction: txn })) state.set(key.toString('utf8'), value)
        metaBytes = this.#meta.get(this.#metaKey(operatorKey), { transaction: txn })
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
      throw new StateCorruptError(`cannot load the state of operator "${operatorKey}" from ${this.dir}: ${errorMessage(err)}`, {
        dir: this.dir,
        operator: operatorKey,
        cause: err,
        hint: corruptHint(this.dir),
      })
    }
  }

  #commitLater(
    operatorKey: string,
    flags: number,
    writes: readonly StateWrite[],
    meta: OperatorMeta,
    outbox: OutboxChange | undefined,
    done: (err?: unknown) => void,
  ): void {
    let commit: EncodedCommit
    try {
      const env = this.#requireEnv(operatorKey)
      const target = { dir: this.dir, operatorKey, metaKey: this.#metaKey(operatorKey), pageSize: this.#pageSize, mapSizeBytes: this.mapSizeBytes }
      commit = encodeCommit(target, writes, meta, outbox, true)
      this.#budget.reserve(env, commit.growth, this.dir, operatorKey)
    } catch (err) {
      // Its place in the group is kept: `done` is called in order, never before earlier ones.
      this.#group.push({ operatorKey, flags, done, error: err })
      this.#scheduleGroup()
      return
    }
    this.#group.push({ operatorKey, flags, commit, done })
    this.#scheduleGroup()
  }

  #scheduleGroup(): void {
    if (this.#groupScheduled) return
    this.#groupScheduled = true
    // After the I/O callbacks of this turn: every 'done' that arrived in it joins the group.
    setImmediate(() => this.#flushGroup())
  }

  /** Commit the pending group in one transaction, then tell each caller, in order. */
  #flushGroup(): void {
    this.#groupScheduled = false
    const group = this.#group.splice(0)
    if (group.length === 0) return
    const env = this.#env
    let failure: unknown
    const txn = new OutboxTxn(this.#segments)
    // Segment files first, complete before the commit that references them (segments.ts).
    for (const g of group) {
      if (g.error !== undefined || env === undefined) continue
      const puts = g.commit?.outbox?.put ?? g.outbox?.put
      if (puts === undefined || puts.length === 0) continue
      try {
        txn.prepare(puts, g.flags === COMMIT_FLAGS.power)
      } catch (err) {
        g.error = stateErrorFrom(err, { dir: this.dir, action: 'commit', operator: g.operatorKey, mapSizeBytes: this.mapSizeBytes })
      }
    }
    const valid = group.filter((g) => g.error === undefined && (g.commit !== undefined || g.outbox !== undefined || g.discard !== undefined))
    if (valid.length > 0) {
      if (env === undefined) failure = this.#closedError()
      else {
        // The strictest durability of the group: a 'power' commit fsyncs the whole group.
        const flags = valid.find((g) => g.flags === COMMIT_FLAGS.power)?.flags ?? (valid[0] as { flags: number }).flags
        const outboxDb = valid.some((g) => g.commit?.outbox !== undefined || g.outbox !== undefined || g.discard !== undefined) ? this.#outboxDb() : undefined
        try {
          const dbs = valid.map((g) => (g.commit === undefined ? undefined : this.#db(g.operatorKey)))
          // Each operator's meta record once, its last event's: the group is one transaction,
          // so the records of its earlier events would only be overwritten in it.
          const lastOf = new Map<string, GroupEntry>()
          for (const g of valid) if (g.commit !== undefined) lastOf.set(g.operatorKey, g)
          for (const g of lastOf.values()) encodeDeferredMeta(g.commit as EncodedCommit)
          const outboxWrites = outboxDb === undefined ? undefined : { db: outboxDb, txn }
          env.transactionSync(() => {
            valid.forEach((g, i) => {
              if (g.commit !== undefined) writeCommit(dbs[i] as Bytes, this.#meta, g.commit, outboxWrites, lastOf.get(g.operatorKey) === g)
              else if (g.outbox !== undefined) writeSenderOutbox(this.#meta, outboxDb as Bytes, txn, g.outbox)
              else for (const key of g.discard ?? []) txn.remove(outboxDb as Bytes, key)
            })
          }, flags)
        } catch (err) {
          failure = stateErrorFrom(err, { dir: this.dir, action: 'commit', operator: valid[0]?.operatorKey, mapSizeBytes: this.mapSizeBytes })
        }
      }
    }
    // Only now, after the commit: unlink the segments no entry references any more.
    if (failure === undefined) txn.committed()
    else txn.failed()
    for (const g of group) g.done(g.error ?? failure)
  }

  /** A place in the group's order that writes nothing: `done` once what is queued before it committed. */
  #afterGroup(key: string, done: () => void): void {
    this.#group.push({ operatorKey: key, flags: COMMIT_FLAGS[this.durability], done })
    this.#scheduleGroup()
  }

  /** The last message number `senderKey` committed (0n if none). */
  #senderNumber(senderKey: string, counterKey: Buffer): bigint {
    this.#requireEnv(senderKey)
    let bytes: Buffer | undefined
    try {
      bytes = this.#meta.get(counterKey)
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'load', operator: senderKey })
    }
    const text = bytes?.toString('utf8') ?? '0'
    if (!/^(0|[1-9][0-9]*)$/.test(text)) {
      throw new StateCorruptError(
        `cannot read the message counter of node "${senderKey}" in ${this.dir}: ${JSON.stringify(text.slice(0, 40))} is not a number`,
        {
          dir: this.dir,
          operator: senderKey,
          hint: corruptHint(this.dir),
        },
      )
    }
    return BigInt(text)
  }

  #senderLater(senderKey: string, write: SenderWrite, done: (err?: unknown) => void): void {
    try {
      const env = this.#requireEnv(senderKey)
      let growth = SENDER_SLACK_PAGES * this.#pageSize
      for (const { key, value, data } of write.put) growth += key.length + value.length + (data === undefined ? 0 : key.length + 2 + data.length) + 32
      this.#budget.reserve(env, growth, this.dir, senderKey)
    } catch (err) {
      this.#group.push({ operatorKey: senderKey, flags: COMMIT_FLAGS[this.durability], done, error: err })
      this.#scheduleGroup()
      return
    }
    this.#group.push({ operatorKey: senderKey, flags: COMMIT_FLAGS[this.durability], outbox: write, done })
    this.#scheduleGroup()
  }

  #closedError(): StateClosedError {
    return new StateClosedError(`the state store in ${this.dir} is closed`, {
      dir: this.dir,
      hint: 'this is a bug in the caller: it used the state store after close()',
    })
  }

  #commit(operatorKey: string, flags: number, writes: readonly StateWrite[], meta: OperatorMeta, outbox: OutboxChange | undefined): void {
    // Commits of one operator stay in order: a pending group goes first.
    if (this.#group.length > 0) this.#flushGroup()
    const env = this.#requireEnv(operatorKey)
    const db = this.#db(operatorKey)
    const target = { dir: this.dir, operatorKey, metaKey: this.#metaKey(operatorKey), pageSize: this.#pageSize, mapSizeBytes: this.mapSizeBytes }
    const commit = encodeCommit(target, writes, meta, outbox)
    this.#budget.reserve(env, commit.growth, this.dir, operatorKey)
    const txn = new OutboxTxn(this.#segments)
    try {
      if (outbox !== undefined) txn.prepare(outbox.put, flags === COMMIT_FLAGS.power)
      applyCommit(env, db, this.#meta, commit, flags, target, outbox === undefined ? undefined : { db: this.#outboxDb(), txn })
    } catch (err) {
      txn.failed()
      throw stateErrorFrom(err, { dir: this.dir, action: 'commit', operator: operatorKey, mapSizeBytes: this.mapSizeBytes })
    }
    txn.committed()
  }

  /** The outbox database, opened (and created) on first use. */
  #outboxDb(): Bytes {
    if (this.#outbox !== undefined) return this.#outbox
    const env = this.#requireEnv()
    try {
      this.#outbox = env.openDB<Buffer, Buffer>({ name: OUTBOX_DB, keyEncoding: 'binary', encoding: 'binary' })
      return this.#outbox
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'open' })
    }
  }

  #pending(operatorKey: string, dataflowId: string): OutboxEntry[] {
    this.#requireEnv(operatorKey)
    const context: StateErrorContext = { dir: this.dir, action: 'load', operator: operatorKey }
    const outbox = this.#outboxDb()
    const raw: Array<{ key: Buffer; value: Buffer }> = []
    try {
      for (const { key, value } of outbox.getRange(receiverRange(operatorKey))) raw.push({ key: Buffer.from(key), value })
    } catch (err) {
      throw stateErrorFrom(err, context)
    }
    try {
      return decodeOutboxEntries(raw, dataflowId, (ref) => this.#readSegment(ref))
    } catch (err) {
      throw new StateCorruptError(`cannot read the messages waiting for operator "${operatorKey}" in ${this.dir}: ${errorMessage(err)}`, {
        dir: this.dir,
        operator: operatorKey,
        cause: err,
        hint: corruptHint(this.dir),
      })
    }
  }

  #payload(operatorKey: string, key: Buffer): Uint8Array | undefined {
    this.#requireEnv(operatorKey)
    const outbox = this.#outboxDb()
    let value: Buffer | undefined
    let data: Buffer | undefined
    let ref: Buffer | undefined
    try {
      // One read transaction: the header and its payload stored apart come from one commit.
      const txn = outbox.useReadTransaction()
      try {
        value = outbox.get(key, { transaction: txn })
        data = value === undefined ? undefined : outbox.get(dataKey(key), { transaction: txn })
        ref = value === undefined || data !== undefined ? undefined : outbox.get(segmentKey(key), { transaction: txn })
      } finally {
        txn.done()
      }
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'load', operator: operatorKey })
    }
    if (value === undefined) return undefined
    try {
      // The segment cannot go meanwhile: only this thread commits, and this entry is not consumed.
      if (ref !== undefined) data = this.#readSegment(ref)
      return decodeOutboxEntry(key, value, '', data).data
    } catch (err) {
      throw new StateCorruptError(`cannot read a message waiting for operator "${operatorKey}" in ${this.dir}: ${errorMessage(err)}`, {
        dir: this.dir,
        operator: operatorKey,
        cause: err,
        hint: corruptHint(this.dir),
      })
    }
  }

  #discardLater(operatorKey: string, flags: number, keys: readonly Buffer[], done: (err?: unknown) => void): void {
    if (keys.length === 0) {
      done()
      return
    }
    try {
      this.#requireEnv(operatorKey)
    } catch (err) {
      this.#group.push({ operatorKey, flags, done, error: err })
      this.#scheduleGroup()
      return
    }
    this.#group.push({ operatorKey, flags, discard: [...keys], done })
    this.#scheduleGroup()
  }

  #discard(operatorKey: string, flags: number, keys: readonly Buffer[]): void {
    if (keys.length === 0) return
    const env = this.#requireEnv(operatorKey)
    const outbox = this.#outboxDb()
    const txn = new OutboxTxn(this.#segments)
    try {
      env.transactionSync(() => {
        for (const key of keys) txn.remove(outbox, key)
      }, flags)
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'commit', operator: operatorKey, mapSizeBytes: this.mapSizeBytes })
    }
    txn.committed()
  }

  /** The payload of a segment reference; throws an Error naming the file when it is not right. */
  #readSegment(ref: Buffer): Buffer {
    const { name, size } = decodeSegmentRef(ref)
    return this.#segments.files.read(name, size)
  }
}
