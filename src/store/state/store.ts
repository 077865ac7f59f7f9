/**
 * Crash-safe operator state on LMDB (lmdb-js). One environment per dataflow state directory,
 * one named database per operator, and a `__meta__` database with the layout record and each
 * operator's event bookkeeping (see layout.ts).
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
 * lmdb-js pitfalls handled here: stale reader slots of SIGKILLed processes (readerCheck() on
 * open), maxDbs defaulting to 12, a path with a dot being taken for a file (noSubdir: false),
 * a live file is never copied (snapshot() uses backup()), a bad data file crashing the process
 * (preflight.ts). Never use a StateStore across fork(), and never call process.exit() inside a
 * transaction (lmdb-js #336): commit() runs no user code inside its transaction.
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

import { existsSync, mkdirSync, realpathSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb'
import type { Durability } from '../../spec/types.js'
import {
  layoutHint,
  mapFullHint,
  corruptHint,
  StateBadKeyError,
  StateBadMetaError,
  StateBadValueError,
  StateClosedError,
  StateCorruptError,
  StateLayoutError,
  StateMapFullError,
  StateOpenError,
  StateSnapshotError,
  StateValueTooLargeError,
  stateErrorFrom,
  type StateErrorContext,
} from './errors.js'
import {
  decodeLayout,
  decodeMeta,
  emptyMeta,
  encodeLayout,
  encodeMeta,
  LAYOUT_FORMAT,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  META_DB,
  metaProblem,
  operatorDbName,
  operatorKeyOf,
  operatorKeyProblem,
  stateKeyProblem,
  type OperatorMeta,
} from './disk-layout.js'
import { preflight } from '../lmdb/preflight.js'
import { errorMessage } from '../../errors.js'

export type { OperatorMeta } from './disk-layout.js'
export type { Durability } from '../../spec/types.js'

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
}

/** One write of an event: set `key` to `value`, or delete `key`. */
export type StateWrite = { key: string; value: Uint8Array } | { key: string; delete: true }

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
  /** Apply writes (in order) and set meta in ONE synchronous transaction. Returns when committed. */
  commit(writes: readonly StateWrite[], meta: OperatorMeta): void
}

/** A line of {@link StateStore.stats}. */
export interface OperatorStats {
  operator: string
  /** Number of state keys. */
  entries: number
  /** Bytes of all keys (UTF-8) and values. */
  bytes: number
}

/** Default {@link StateStoreOptions.mapSizeBytes}: 1 GiB. */
export const DEFAULT_MAP_SIZE_BYTES = 1024 * 1024 * 1024
/** Smallest accepted map size: a few pages for the meta database and one operator. */
export const MIN_MAP_SIZE_BYTES = 256 * 1024
/** Named databases per environment; lmdb-js's default of 12 would cap a dataflow at 11 operators. */
export const MAX_DBS = 1000
/** Concurrent read transactions (LMDB default 126); lmdb-js takes a slot per read txn (MDB_NOTLS). */
export const MAX_READERS = 512
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
const COMMIT_FLAGS: Record<Durability, number> = {
  process: ABORTABLE | SYNCHRONOUS_COMMIT | NO_SYNC_FLUSH,
  power: ABORTABLE | SYNCHRONOUS_COMMIT,
}

// Upper estimate of what one commit adds to the file beyond its keys and values: LMDB copies
// the root-to-leaf path of each database it touches (operator, __meta__, main, free list).
const COMMIT_SLACK_PAGES = 12
const NODE_OVERHEAD_BYTES = 16

type Bytes = Database<Buffer, Buffer>

/** Directories open in this realm: lmdb-js shares one native environment per file, and a
 * second StateStore on it would see dropped database handles of the first. */
const openDirs = new Set<string>()

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

  /** `dir` with symlinks resolved: the key in {@link openDirs}. */
  readonly #realDir: string
  #env: RootDatabase<Buffer, Buffer> | undefined
  readonly #meta: Bytes
  readonly #pageSize: number
  /** Opened operator databases, by operator key. */
  readonly #dbs = new Map<string, Bytes>()
  readonly #metaKeys = new Map<string, Buffer>()
  readonly #pendingSnapshots = new Set<Promise<void>>()
  #closing = false
  readonly #closed: Promise<void>
  #resolveClosed: () => void = () => {}
  /** Data file size (bytes of pages up to the last used one) when last measured. */
  #highWater = 0
  /** Upper estimate of what the commits since that measurement added. */
  #growth = 0

  private constructor(dir: string, realDir: string, durability: Durability, mapSizeBytes: number, env: RootDatabase<Buffer, Buffer>, meta: Bytes) {
    this.dir = dir
    this.#realDir = realDir
    this.durability = durability
    this.mapSizeBytes = mapSizeBytes
    this.#env = env
    this.#meta = meta
    this.#closed = new Promise((done) => (this.#resolveClosed = done))
    const stats = env.getStats() as { pageSize: number; lastPageNumber: number }
    this.#pageSize = stats.pageSize
    this.#highWater = (stats.lastPageNumber + 1) * stats.pageSize
  }

  /**
   * Open (or create) the state store in `options.dir`. Never wipes anything: a directory that
   * holds something else, another layout version or a damaged file is refused with a
   * {@link StateError} naming it (DORA_STATE_LAYOUT, DORA_STATE_CORRUPT, DORA_STATE_OPEN).
   */
  static open(options: StateStoreOptions): StateStore {
    const dir = resolve(options.dir)
    const { durability } = options
    const mapSizeBytes = options.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES
    if (durability !== 'process' && durability !== 'power') {
      throw new StateOpenError(`cannot open the state store in ${dir}: durability must be 'process' or 'power', got ${String(durability)}`, {
        dir,
        hint: "use durability 'process' (survives crashes) or 'power' (also survives power loss)",
      })
    }
    if (!Number.isSafeInteger(mapSizeBytes) || mapSizeBytes < MIN_MAP_SIZE_BYTES) {
      throw new StateOpenError(`cannot open the state store in ${dir}: the map size must be an integer of at least ${MIN_MAP_SIZE_BYTES} bytes, got ${mapSizeBytes}`, {
        dir,
        hint: `set the state map size to ${MIN_MAP_SIZE_BYTES} bytes or more`,
      })
    }
    if (existsSync(dir) && openDirs.has(realpathSync(dir))) {
      throw new StateOpenError(`cannot open the state store in ${dir}: it is already open in this process`, {
        dir,
        hint: 'share the open StateStore, or close() it before opening it again',
      })
    }
    preflight(dir)
    const realDir = realpathSync(dir)

    let env: RootDatabase<Buffer, Buffer>
    try {
      env = openLmdb<Buffer, Buffer>({
        path: dir,
        noSubdir: false, // lmdb-js takes a path whose last part has a dot ("flow.v2") for a file
        maxDbs: MAX_DBS,
        maxReaders: MAX_READERS,
        mapSize: mapSizeBytes,
        noSync: false, // durability is chosen per transaction, see COMMIT_FLAGS
        overlappingSync: false, // it would flush 'power' commits after they become visible
        keyEncoding: 'binary',
        encoding: 'binary',
      })
    } catch (err) {
      throw stateErrorFrom(err, { dir, action: 'open' })
    }
    try {
      // A SIGKILLed supervisor leaves its reader slots behind; lmdb-js also does this on open,
      // but the guarantee is ours, so do not depend on it.
      env.readerCheck()
      const meta = openLayout(env, dir)
      const store = new StateStore(dir, realDir, durability, mapSizeBytes, env, meta)
      openDirs.add(realDir)
      return store
    } catch (err) {
      void env.close()
      throw stateErrorFrom(err, { dir, action: 'open' })
    }
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
    if (durability !== 'process' && durability !== 'power') {
      throw new StateOpenError(`bad durability for operator "${operatorKey}" in ${this.dir}: ${String(durability)}`, {
        dir: this.dir,
        operator: operatorKey,
        hint: "use durability 'process' or 'power'",
      })
    }
    this.#db(operatorKey)
    return {
      operatorKey,
      durability,
      load: () => this.#load(operatorKey),
      commit: (writes, meta) => this.#commit(operatorKey, COMMIT_FLAGS[durability], writes, meta),
    }
  }

  /**
   * Remove every operator's state and meta (for --clean-state), or only `operatorKey`'s, in
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
    try {
      env.transactionSync(() => {
        for (const [key, db] of drops) {
          // mdb_drop closes the handle at once, even if the transaction then fails: forget it
          // first, so the next use of the operator opens (and creates) its database afresh.
          this.#dbs.delete(key)
          db.dropSync()
        }
        for (const key of targets) this.#meta.removeSync(this.#metaKey(key))
      }, COMMIT_FLAGS.power)
    } catch (err) {
      throw stateErrorFrom(err, context)
    }
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
      mkdirSync(target, { recursive: true })
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
    try {
      await copy
    } finally {
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
    this.#closing = true
    const env = this.#env
    this.#env = undefined
    const finish = (): void => {
      this.#dbs.clear()
      try {
        // lmdb-js closes the environment synchronously when no asynchronous write is queued
        // (this store never queues one), so the directory can be reopened right away.
        void env?.close()
      } finally {
        openDirs.delete(this.#realDir)
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

  #commit(operatorKey: string, flags: number, writes: readonly StateWrite[], meta: OperatorMeta): void {
    const env = this.#requireEnv(operatorKey)
    const dir = this.dir
    const db = this.#db(operatorKey)
    const metaIssue = metaProblem(meta)
    if (metaIssue !== undefined) {
      throw new StateBadMetaError(`cannot commit the state of operator "${operatorKey}" in ${dir}: ${metaIssue}`, {
        dir,
        operator: operatorKey,
        hint: 'this is a bug in the operator host: it must pass the event number and dedup ids as bigints',
      })
    }
    const metaBytes = encodeMeta(meta)
    const metaKey = this.#metaKey(operatorKey)

    // Validate and encode everything before the transaction, so a bad write aborts nothing.
    const keys = new Array<Buffer>(writes.length)
    const values = new Array<Buffer | undefined>(writes.length)
    let growth = metaKey.length + metaBytes.length + COMMIT_SLACK_PAGES * this.#pageSize
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
      const value = (write as { value?: unknown }).value
      if (!(value instanceof Uint8Array)) {
        throw new StateBadValueError(`cannot commit the state of operator "${operatorKey}" in ${dir}: the value of key ${JSON.stringify(write.key)} is not a Uint8Array`, {
          dir,
          operator: operatorKey,
          hint: 'serialize state values to bytes (Uint8Array) before saving them',
        })
      }
      if (value.byteLength > MAX_VALUE_BYTES || value.byteLength + COMMIT_SLACK_PAGES * this.#pageSize > this.mapSizeBytes) {
        const limit = value.byteLength > MAX_VALUE_BYTES ? `the limit is ${MAX_VALUE_BYTES}` : `a store of ${this.mapSizeBytes} bytes can never hold it`
        throw new StateValueTooLargeError(
          `cannot commit the state of operator "${operatorKey}" in ${dir}: the value of key ${JSON.stringify(write.key)} is ${value.byteLength} bytes, ${limit}`,
          { dir, operator: operatorKey, hint: 'split the value across several keys, or raise the state map size' },
        )
      }
      values[i] = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      growth += key.length + value.byteLength + NODE_OVERHEAD_BYTES
    }
    if (growth > this.mapSizeBytes) {
      throw new StateValueTooLargeError(
        `cannot commit the state of operator "${operatorKey}" in ${dir}: the writes of this event need up to ${growth} bytes, a store of ${this.mapSizeBytes} bytes can never hold them`,
        { dir, operator: operatorKey, hint: 'save less state per event, or raise the state map size' },
      )
    }
    this.#reserve(growth, operatorKey)

    try {
      env.transactionSync(() => {
        for (let i = 0; i < keys.length; i++) {
          const value = values[i]
          if (value === undefined) db.removeSync(keys[i] as Buffer)
          else db.putSync(keys[i] as Buffer, value)
        }
        this.#meta.putSync(metaKey, metaBytes)
      }, flags)
    } catch (err) {
      throw stateErrorFrom(err, { dir, action: 'commit', operator: operatorKey, mapSizeBytes: this.mapSizeBytes })
    }
  }

  /**
   * Enforce {@link StateStoreOptions.mapSizeBytes}. Measuring the file costs a few
   * microseconds, so it is done only when the last measurement plus the upper estimates of the
   * commits since then could exceed the limit.
   */
  #reserve(growth: number, operatorKey: string): void {
    if (this.#highWater + this.#growth + growth > this.mapSizeBytes) {
      const stats = this.#requireEnv(operatorKey).getStats() as { lastPageNumber: number }
      this.#highWater = (stats.lastPageNumber + 1) * this.#pageSize
      this.#growth = 0
      if (this.#highWater + growth > this.mapSizeBytes) {
        throw new StateMapFullError(
          `cannot commit the state of operator "${operatorKey}" in ${this.dir}: the store is full (${this.#highWater} of ${this.mapSizeBytes} bytes used, this event needs up to ${growth} more)`,
          { dir: this.dir, operator: operatorKey, hint: mapFullHint(this.mapSizeBytes) },
        )
      }
    }
    this.#growth += growth
  }
}

/** Names of the named databases: the keys of LMDB's main database, minus lmdb-js's trailing NUL. */
function listDbNames(env: RootDatabase<Buffer, Buffer>): string[] {
  const names: string[] = []
  for (const raw of env.getKeys()) {
    const name = Buffer.from(raw).toString('utf8')
    names.push(name.endsWith('\0') ? name.slice(0, -1) : name)
  }
  return names
}

/**
 * Check the layout record of an existing store, or write it into a new one. Refuses, never
 * wipes: an environment with databases but no layout record is not dora-ts state.
 */
function openLayout(env: RootDatabase<Buffer, Buffer>, dir: string): Bytes {
  const names = listDbNames(env)
  if (names.length > 0 && !names.includes(META_DB)) {
    throw new StateLayoutError(`cannot open the state store in ${dir}: it holds an LMDB environment that is not dora-ts state (no ${META_DB} database)`, {
      dir,
      hint: layoutHint(dir),
    })
  }
  const meta = env.openDB<Buffer, Buffer>({ name: META_DB, keyEncoding: 'binary', encoding: 'binary' })
  const layoutKey = Buffer.from(LAYOUT_KEY)
  const bytes = meta.get(layoutKey)
  if (bytes === undefined) {
    // A new store, or one whose creation was cut short between creating __meta__ and writing
    // the layout record (nothing else can be in it yet): write the record.
    const fresh = names.every((name) => name === META_DB) && meta.getCount() === 0
    if (!fresh) {
      throw new StateLayoutError(`cannot open the state store in ${dir}: its ${META_DB} database has no layout record`, { dir, hint: layoutHint(dir) })
    }
    env.transactionSync(() => meta.putSync(layoutKey, encodeLayout()), COMMIT_FLAGS.power)
    return meta
  }
  const layout = decodeLayout(bytes)
  if (layout === undefined) {
    throw new StateCorruptError(`cannot open the state store in ${dir}: its layout record does not decode`, { dir, hint: corruptHint(dir) })
  }
  if (layout.format !== LAYOUT_FORMAT) {
    throw new StateLayoutError(`cannot open the state store in ${dir}: it holds "${layout.format}" data, not ${LAYOUT_FORMAT}`, { dir, hint: layoutHint(dir) })
  }
  if (layout.version !== LAYOUT_VERSION) {
    const by = layout.version > LAYOUT_VERSION ? 'a newer' : 'an older'
    throw new StateLayoutError(
      `cannot open the state store in ${dir}: it has layout version ${layout.version}, written by ${by} dora-ts; this one reads version ${LAYOUT_VERSION}`,
      { dir, hint: layoutHint(dir) },
    )
  }
  return meta
}
