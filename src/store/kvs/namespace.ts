/**
 * One namespace (pool) of the KVS in this thread: {@link KvsNamespace}, handed out by
 * {@link KvsStore.namespace}. Every write is one synchronous, fsync'ed LMDB write transaction
 * that also appends to the namespace's change log (change-log.ts); see store.ts for the
 * consistency this gives.
 *
 * @module
 */
import type { Key } from 'lmdb'
import { SEAL_BYTES } from '../lmdb/checksum.js'
import { errorMessage } from '../../errors.js'
import {
  describeKvsAction,
  kvsCorruptHint,
  KvsCorruptError,
  kvsErrorFrom,
  previewKey,
  KvsBadValueError,
  KvsError,
  KvsMapFullError,
  type KvsErrorContext,
} from './errors.js'
import { listDbNames } from '../lmdb/db-names.js'
import { checkKvsKey, checkKvsPrefix, UTF8_KEYS } from './keys.js'
import { dbExists, freshReadTxn, KVS_COMMIT_FLAGS, type AnyDb, type Bytes, type NamespaceDb, type OpenTxn, type SharedEnv } from './environment.js'
import { DROPPED_KEY_PREFIX, LOG_DB_PREFIX, NAMESPACE_DB_PREFIX, TRIM_KEY_PREFIX } from './disk-layout.js'
import { checkKvsValue, reserveRoom } from './limits.js'
import { appendChange, dropAllLogs, logEnd, raiseLogFloor, readChanges, type LogPosition, type NamespaceLog } from './change-log.js'
import { MAX_BASE_REPAIRS, repairWriteBase, StaleWriteBase, writeBaseIsNewest } from './write-base.js'
import { withWriteTurnstile } from './write-turnstile.js'
import { createKvsWatch, watchInterval, type KvsChange, type KvsWatch, type KvsWatchOptions } from './watch.js'
import type { KvsEntry, KvsListOptions, KvsPool } from './pool.js'
import type { KvsStore } from './store.js'

/**
 * @internal What a namespace needs of its store, which keeps it private: the shared
 * environment (throws DORA_KVS_CLOSED once the store is closed) and the store's watches, which
 * end when it closes.
 */
export interface NamespaceAccess {
  shared(context?: KvsErrorContext): SharedEnv
  addWatch(watch: KvsWatch): void
  removeWatch(watch: KvsWatch): void
}

/**
 * One namespace (pool) of the KVS. Keys are non-empty strings of at most 511 UTF-8 bytes;
 * values are bytes (Uint8Array) of at most 64 MiB (MAX_KVS_VALUE_BYTES).
 */
export class KvsNamespace implements KvsPool {
  readonly store: KvsStore
  /** The namespace's name. */
  readonly name: string
  readonly #access: NamespaceAccess
  readonly #dbName: string
  readonly #logName: string
  readonly #trimKey: Buffer
  readonly #droppedKey: Buffer

  /** @internal Use {@link KvsStore.namespace}. */
  constructor(store: KvsStore, name: string, access: NamespaceAccess) {
    this.store = store
    this.name = name
    this.#access = access
    this.#dbName = NAMESPACE_DB_PREFIX + name
    this.#logName = LOG_DB_PREFIX + name
    this.#trimKey = Buffer.from(TRIM_KEY_PREFIX + name)
    this.#droppedKey = Buffer.from(DROPPED_KEY_PREFIX + name)
  }

  /** The value of `key`, or undefined. Sees every write that returned before, in any process. */
  read(key: string): Uint8Array | undefined {
    const context = this.#context('read', key)
    checkKvsKey(key, context)
    const shared = this.#access.shared(context)
    try {
      const db = this.#ns(shared, false)
      if (db === undefined) return undefined
      // Inside an update function: read through its write transaction (lmdb-js does that
      // whenever one is open), so it sees its own writes.
      if (shared.txn !== undefined) return this.#opened(shared, context, key, db.get(key))
      // lmdb-js keeps one read snapshot until the next event-loop turn; a read must not see an
      // older snapshot than the last write that returned in any process: start a fresh one.
      db.resetReadTxn()
      return this.#opened(shared, context, key, db.get(key))
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
  }

  /** Set `key` to `value`. Returns once committed: every later read in any process sees it. */
  write(key: string, value: Uint8Array): void {
    const context = this.#context('write', key)
    const k = checkKvsKey(key, context)
    const v = this.#value(value, context)
    // The value is stored twice: in the namespace and in its change log (change-log.ts).
    this.#transact(context, k + 2 * (v.length + SEAL_BYTES), (shared, txn) => {
      this.#revive(shared)
      this.#ns(shared, true, txn)!.putSync(key, shared.seal.sealTransient(key, v))
      appendChange(shared, txn, this.#changeLog(shared, txn), key, k, v)
    })
  }

  /** Delete `key`; true when it existed. */
  delete(key: string): boolean {
    const context = this.#context('delete', key)
    const k = checkKvsKey(key, context)
    const shared = this.#access.shared(context)
    if (shared.txn === undefined && !this.#exists(shared, context)) return false
    // A delete is never refused for want of room: the limit is the store's own (lmdb-js grows
    // the map on demand), a delete needs only the few pages of its copied path, and deleting
    // is how a full KVS is made usable again (issue 12: `kvs rm` was refused on a full KVS).
    return this.#transact(context, undefined, (shared, txn) => {
      const existed = this.#ns(shared, true, txn)!.removeSync(key)
      if (existed) appendChange(shared, txn, this.#changeLog(shared, txn), key, k, undefined)
      return existed
    })
  }

  /** Every key starting with `prefix` and its value, in key order (UTF-8 byte order), from one snapshot. */
  list(prefix = '', options: KvsListOptions = {}): KvsEntry[] {
    const context = this.#context('list')
    checkKvsPrefix(prefix, context)
    const limit = options.limit ?? Infinity
    if (!(limit >= 0))
      throw new KvsBadValueError(`${describeKvsAction(context)}: limit must be a number >= 0, got ${String(options.limit)}`, {
        dir: this.store.dir,
        namespace: this.name,
        hint: 'pass { limit: n } with n >= 0',
      })
    const shared = this.#access.shared(context)
    const entries: KvsEntry[] = []
    try {
      const db = this.#ns(shared, false)
      if (db === undefined || limit === 0) return entries
      const txn = shared.txn === undefined ? freshReadTxn(db) : undefined
      try {
        for (const { key, value } of db.getRange({ ...(prefix === '' ? {} : { start: prefix }), ...(txn === undefined ? {} : { transaction: txn }) })) {
          // Byte order and string prefixes agree for well-formed UTF-16 (lone surrogates are refused).
          if (!key.startsWith(prefix)) break
          entries.push({ key, value: this.#opened(shared, context, key, value) as Uint8Array })
          if (entries.length >= limit) break
        }
      } finally {
        txn?.done()
      }
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
    return entries
  }

  /**
   * Atomic read-modify-write: `fn` gets the current value (undefined when absent) and returns
   * the new one (undefined deletes the key). It runs inside the write transaction, holding the
   * KVS's machine-wide write turnstile (write-turnstile.ts), so concurrent updaters in any
   * process never lose an update. Keep `fn` short and synchronous: every other writer on the
   * machine waits for it (and fails with DORA_KVS_STALLED after the turnstile's bound). It may
   * read and write other keys (also of other namespaces): they commit together. If it throws,
   * nothing is written and the error is rethrown. A process.exit() in it ends the process, and
   * the next writer takes over the turnstile as after a kill (nothing of `fn` is committed).
   * Returns the new value.
   */
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined {
    const context = this.#context('update', key)
    const k = checkKvsKey(key, context)
    if (typeof fn !== 'function') {
      throw new KvsBadValueError(
        `${describeKvsAction(context)}: the update function is a ${typeof fn}`,
        this.#options(context, 'pass a function (current) => next'),
      )
    }
    // Room is made below, once `fn` has said whether it writes or deletes.
    return this.#transact(context, undefined, (shared, txn) => {
      const db = this.#ns(shared, true, txn)!
      const current = this.#opened(shared, context, key, db.get(key))
      const next: unknown = fn(current)
      if (next === undefined) {
        if (current !== undefined && db.removeSync(key)) appendChange(shared, txn, this.#changeLog(shared, txn), key, k, undefined)
        return undefined
      }
      if (typeof (next as { then?: unknown } | null)?.then === 'function') {
        throw new KvsBadValueError(
          `${describeKvsAction(context)}: the update function returned a Promise; it runs inside the write transaction and must be synchronous`,
          this.#options(context, 'compute the new value synchronously from the current one; do any waiting before calling update()'),
        )
      }
      const v = this.#value(next, context)
      this.#makeRoom(shared, k + 2 * (v.length + SEAL_BYTES), context)
      this.#revive(shared)
      db.putSync(key, shared.seal.sealTransient(key, v))
      appendChange(shared, txn, this.#changeLog(shared, txn), key, k, v)
      return next as Uint8Array
    })
  }

  /**
   * Set `key` to `next` (undefined: delete it) only if its value is byte-equal to `expected`
   * (undefined: only if absent), atomically. True when it was set.
   */
  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean {
    const context = this.#context('compare-and-set', key)
    const k = checkKvsKey(key, context)
    if (expected !== undefined && !(expected instanceof Uint8Array)) {
      throw new KvsBadValueError(
        `${describeKvsAction(context)}: the expected value is a ${typeof expected}, not a Uint8Array or undefined`,
        this.#options(context, 'pass the bytes you read, or undefined for "absent"'),
      )
    }
    const v = next === undefined ? undefined : this.#value(next, context)
    return this.#transact(context, v === undefined ? undefined : k + 2 * (v.length + SEAL_BYTES), (shared, txn) => {
      const db = this.#ns(shared, true, txn)!
      // A view of the current value (no copy), checked and compared at once, before the next
      // LMDB call. lmdb-js hands out its reusable buffer with a `length` override: view just it.
      const fast = db.getBinaryFast(key)
      const current = fast === undefined ? undefined : this.#opened(shared, context, key, fast.subarray(0, fast.length))
      const equal = expected === undefined ? current === undefined : current !== undefined && Buffer.compare(current, expected) === 0
      if (!equal) return false
      if (v === undefined) {
        if (current !== undefined && db.removeSync(key)) appendChange(shared, txn, this.#changeLog(shared, txn), key, k, undefined)
      } else {
        this.#revive(shared)
        db.putSync(key, shared.seal.sealTransient(key, v))
        appendChange(shared, txn, this.#changeLog(shared, txn), key, k, v)
      }
      return true
    })
  }

  /**
   * Changes of keys starting with `prefix` made after this call, by any process, in commit
   * order, as an async iterator. It looks for new changes every `intervalMs` (default 10 ms)
   * with an unref'd timer: a watch alone does not keep the process alive. It ends cleanly on
   * `break`/`return()`, on `options.signal`, and when the store is closed.
   */
  watch(prefix = '', options: KvsWatchOptions = {}): KvsWatch {
    const intervalMs = watchInterval(options, this.store.dir, this.name)
    const start = this.watchStart(prefix)
    const watch = createKvsWatch({
      start,
      intervalMs,
      signal: options.signal,
      poll: (from, limit) => this.changesSince(from, prefix, limit),
      detach: (w) => this.#access.removeWatch(w),
    })
    this.#access.addWatch(watch)
    return watch
  }

  /**
   * Where a watch of `prefix` starting now begins in the log (checks the prefix).
   * @internal For {@link watch} and the KVS thread.
   */
  watchStart(prefix: string): LogPosition {
    const context = this.#context('watch')
    checkKvsPrefix(prefix, context)
    const shared = this.#access.shared(context)
    try {
      return logEnd(shared.env)
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
  }

  /**
   * The changes of keys with `prefix` in the log from position `from` (at most `limit` entries
   * read), and the position after the last one read.
   * @internal For {@link watch} and the KVS thread.
   */
  changesSince(from: LogPosition, prefixText: string, limit: number): { changes: KvsChange[]; next: LogPosition } {
    const context = this.#context('watch')
    checkKvsPrefix(prefixText, context)
    const prefix = Buffer.from(prefixText, 'utf8')
    const shared = this.#access.shared(context)
    try {
      const log = this.#db(shared, this.#logName, false)
      if (log === undefined) return { changes: [], next: from }
      return readChanges(shared, { name: this.name, log, trimKey: this.#trimKey }, this.#ns(shared, false), from, prefix, limit)
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
  }

  /**
   * Drop the namespace: delete every key and its change log, and mark it dropped, in ONE write
   * transaction, so a kill at any moment leaves the namespace whole or dropped, never half. The
   * databases are emptied (LMDB's `mdb_drop` with del=0), not deleted: another process may hold
   * a handle on them, and a handle on a database deleted under it is undefined behaviour in
   * LMDB (its next write builds on freed pages). Emptied, every handle stays valid: readers
   * anywhere see an empty namespace from the next read on, and a write creates it again (and
   * removes the mark). drop.ts deletes the databases once no other process has the KVS open.
   * A watch that started before gets `lagged`. Returns how many keys went, or undefined when
   * there is no such namespace (never written, or already dropped).
   * @internal For {@link KvsStore.dropNamespace}.
   */
  dropContents(): number | undefined {
    const context = this.#context('drop')
    return this.#transact(context, undefined, (shared, txn) => {
      if (!dbExists(shared.env, this.#dbName, false) || shared.meta.get(this.#droppedKey) !== undefined) return undefined
      const db = this.#ns(shared, true, txn)!
      const keys = db.getCount()
      db.clearSync()
      this.#db(shared, this.#logName, false, txn)?.clearSync()
      const mark = Buffer.alloc(8)
      mark.writeBigUInt64BE(BigInt(txn.seq))
      shared.meta.putSync(this.#droppedKey, mark)
      raiseLogFloor(shared, this.name, this.#trimKey, txn.seq + 1)
      return keys
    })
  }

  /** A write into a dropped namespace creates it again: remove its mark (in the write transaction). */
  #revive(shared: SharedEnv): void {
    shared.meta.removeSync(this.#droppedKey)
  }

  /**
   * Run `body` in one synchronous write transaction (or in the one already open in this
   * realm), after making room for `bytes` (undefined: a delete, which needs no room).
   */
  #transact<T>(context: KvsErrorContext, bytes: number | undefined, body: (shared: SharedEnv, txn: OpenTxn) => T): T {
    const shared = this.#access.shared(context)
    if (bytes !== undefined) this.#makeRoom(shared, bytes, context)
    // Nested in an update function: join its transaction, commit with it.
    if (shared.txn !== undefined) return body(shared, shared.txn)
    // The turnstile (write-turnstile.ts) is held around the transaction and its repairs, so
    // LMDB's write mutex never has more than one live taker.
    return withWriteTurnstile(shared.realDir, context, () => this.#transactHolding(shared, context, body))
  }

  #transactHolding<T>(shared: SharedEnv, context: KvsErrorContext, body: (shared: SharedEnv, txn: OpenTxn) => T): T {
    let result: T | undefined
    for (let repairsLeft = MAX_BASE_REPAIRS; ; repairsLeft--) {
      let thrown: { error: unknown } | undefined
      let opened: string[] = []
      try {
        shared.env.transactionSync(() => {
          // Never build on a stale state: another process's open can set LMDB's record of the
          // last commit back by one (write-base.ts). Aborted before anything is written.
          if (!writeBaseIsNewest(shared.env)) throw new StaleWriteBase()
          const txn: OpenTxn = { seq: shared.env.getWriteTxnId(), index: 0, opened: [] }
          opened = txn.opened
          shared.txn = txn
          try {
            result = body(shared, txn)
          } catch (err) {
            thrown = { error: err }
            throw err
          } finally {
            shared.txn = undefined
          }
        }, KVS_COMMIT_FLAGS)
        break
      } catch (err) {
        // LMDB closes the handles of databases opened in an aborted transaction.
        for (const name of opened) shared.dbs.delete(name)
        if (err instanceof StaleWriteBase && repairsLeft > 0) {
          try {
            repairWriteBase(shared.realDir)
          } catch (repairErr) {
            throw kvsErrorFrom(repairErr, context)
          }
          continue
        }
        // What the user's update function threw, and our own errors, pass through unchanged.
        if (thrown !== undefined && thrown.error === err && !(err instanceof KvsError) && !isLmdbError(err)) throw err
        throw kvsErrorFrom(err, context)
      }
    }
    shared.writesSinceMeasure++
    return result as T
  }

  /**
   * Make room for a write of `bytes`, or throw DORA_KVS_MAP_FULL. When the KVS is full, the
   * change logs, which keep a copy of each recent value, are emptied first (change-log.ts
   * dropAllLogs) and the check made again: so deleting keys always makes room.
   */
  #makeRoom(shared: SharedEnv, bytes: number, context: KvsErrorContext): void {
    try {
      reserveRoom(shared, bytes, this.store.mapSizeBytes, context)
      return
    } catch (err) {
      if (!(err instanceof KvsMapFullError)) throw err
      if (this.#dropLogs(shared, context) === 0) throw err
    }
    reserveRoom(shared, bytes, this.store.mapSizeBytes, context)
  }

  /** Empty every change log (in the open write transaction, or in one of its own); how many entries went. */
  #dropLogs(shared: SharedEnv, context: KvsErrorContext): number {
    const drop = (txn: OpenTxn): number => {
      const names = listDbNames(shared.env).filter((n) => n.startsWith(LOG_DB_PREFIX))
      const logs = names.map((dbName) => {
        const name = dbName.slice(LOG_DB_PREFIX.length)
        return { name, log: this.#db(shared, dbName, true, txn)!, trimKey: Buffer.from(TRIM_KEY_PREFIX + name) }
      })
      return dropAllLogs(shared, txn, logs)
    }
    if (shared.txn !== undefined) return drop(shared.txn)
    return this.#transact(context, undefined, (_shared, txn) => drop(txn))
  }

  /** The namespace's change log, opened (created) in the write transaction `txn`. */
  #changeLog(shared: SharedEnv, txn: OpenTxn): NamespaceLog {
    return { name: this.name, log: this.#db(shared, this.#logName, true, txn)!, trimKey: this.#trimKey }
  }

  /** The database `name` (binary keys), opened (created when `create`) and cached; undefined when absent and not created. */
  #db(shared: SharedEnv, name: string, create: boolean, txn?: OpenTxn): Bytes | undefined {
    return this.#open(shared, name, create, txn, { keyEncoding: 'binary' }) as Bytes | undefined
  }

  /** The namespace's own database: string keys stored as their plain UTF-8 bytes. */
  #ns(shared: SharedEnv, create: boolean, txn?: OpenTxn): NamespaceDb | undefined {
    return this.#open(shared, this.#dbName, create, txn, { keyEncoder: UTF8_KEYS }) as NamespaceDb | undefined
  }

  #open(
    shared: SharedEnv,
    name: string,
    create: boolean,
    txn: OpenTxn | undefined,
    keys: { keyEncoding: 'binary' } | { keyEncoder: typeof UTF8_KEYS },
  ): AnyDb | undefined {
    const cached = shared.dbs.get(name)
    if (cached !== undefined) return cached
    if (!create && !dbExists(shared.env, name, shared.txn === undefined)) return undefined
    // lmdb-js opens (and creates) a database in a write transaction, or in the one already
    // open; a write transaction of its own takes the turnstile like any other.
    const open = (): AnyDb => shared.env.openDB<Buffer, Key>({ name, encoding: 'binary', ...keys })
    const db = shared.txn !== undefined ? open() : withWriteTurnstile(shared.realDir, this.#context('open'), open)
    shared.dbs.set(name, db)
    txn?.opened.push(name)
    return db
  }

  #exists(shared: SharedEnv, context: KvsErrorContext): boolean {
    try {
      return shared.dbs.has(this.#dbName) || dbExists(shared.env, this.#dbName, true)
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
  }

  #context(action: KvsErrorContext['action'], key?: unknown): KvsErrorContext {
    return {
      dir: this.store.dir,
      action,
      namespace: this.name,
      key: typeof key === 'string' ? key : undefined,
      mapSizeBytes: this.store.mapSizeBytes,
    }
  }

  #options(context: KvsErrorContext, hint: string): { dir: string; namespace: string; key: string | undefined; hint: string } {
    return { dir: this.store.dir, namespace: this.name, key: context.key, hint }
  }

  /** The value stored under `key` as read (`stored`), its seal checked (DORA_KVS_CORRUPT when damaged). */
  #opened(shared: SharedEnv, context: KvsErrorContext, key: string, stored: Buffer | undefined): Buffer | undefined {
    if (stored === undefined) return undefined
    try {
      return shared.seal.open(key, stored, () => `key ${previewKey(key)} of namespace "${this.name}"`)
    } catch (err) {
      // A KvsError (so that it leaves an update function's transaction as what it is), with
      // the way out for one key: the rest of the KVS reads, and a delete or put replaces it.
      throw new KvsCorruptError(`${describeKvsAction(context)}: the KVS files are damaged (${errorMessage(err)})`, {
        dir: this.store.dir,
        namespace: this.name,
        key,
        cause: err,
        hint: `the other keys read as before: delete or rewrite this one (dora-ts kvs rm -n ${this.name} ${JSON.stringify(key)}, or kvs put), or ${kvsCorruptHint(this.store.dir)}`,
      })
    }
  }

  #value(value: unknown, context: KvsErrorContext): Buffer {
    return checkKvsValue(value, this.#access.shared(context).pageSize, this.store.mapSizeBytes, context)
  }
}

/** lmdb-js errors carry a numeric code (LMDB return code or errno). */
function isLmdbError(err: unknown): boolean {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number'
}
