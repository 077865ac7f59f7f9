/**
 * The node-local shared key-value store (KVS): dora's `kvs_read`/`kvs_write`, with the
 * consistency its design left as a TODO. One LMDB environment per user and machine (see
 * {@link defaultKvsDir}); every process that uses it (custom nodes, operator worker threads,
 * the CLI) opens it itself with lmdb-js, which is safe for many processes on one machine.
 *
 * ```
 * <kvs dir>/data.mdb, lock.mdb
 *   __meta__        layout {"format":"dora-ts-kvs","version":1}; trim/<ns> -> log floor (u64 BE)
 *   ns/<name>       one named database per namespace (pool): UTF-8 key -> raw value bytes
 *   log/<name>      its change log: [txn id u64 BE][index u32 BE] -> [kind][key length u16][key][value]
 * ```
 *
 * Consistency, per namespace and key:
 * - Every write (write, delete, update, compareAndSet) is one synchronous LMDB write
 *   transaction (`transactionSync`): when the call returns it is committed, and visible to
 *   every later read in any process. Reads start a fresh read snapshot each time (about
 *   1 µs), so a read never sees an older snapshot than the last write that returned.
 * - Values are replaced atomically (LMDB copy-on-write pages): a reader sees the old value or
 *   the new one, never a mix.
 * - update and compareAndSet read and write inside one write transaction. LMDB's write lock is
 *   a robust cross-process mutex, so they are linearizable per key: concurrent updaters in any
 *   number of processes never lose an update, and a process killed while holding the lock
 *   releases it (the next writer recovers it).
 * - Durability: every commit is fsync'ed before the call returns, so it survives SIGKILL of
 *   the writer and of the supervisor, and power loss too. Not by choice of durability but of
 *   correctness: lmdb-js 3.5.6 loses whole transactions committed without fsync (MDB_NOSYNC,
 *   per transaction or per environment) when another process opens the environment, even
 *   read-only, while they are made (reproduced with bare lmdb-js: a process's commit vanishes
 *   and its next write transaction gets the same id; never with fsync'ed commits, nor when no
 *   process opens the environment meanwhile). Processes open and close the KVS all the time (nodes restart, the
 *   CLI), so the KVS pays the fsync: a write costs about 0.3 to 1 ms instead of 10 µs.
 *
 * Watch: LMDB has no notifications, so every write also appends to the namespace's change log
 * in the same transaction, keyed by the LMDB transaction id (monotonic for the whole
 * environment) and the write's index in it. A {@link KvsWatch} polls the log every
 * {@link DEFAULT_WATCH_INTERVAL_MS} ms with an unref'd timer. The log keeps the changes of the
 * last {@link KVS_LOG_KEEP_TXNS} write transactions of the environment; it is trimmed inside
 * write transactions. A watcher that falls further behind gets a `lagged` change.
 *
 * lmdb-js pitfalls handled as in the state store: a damaged data file would crash the process
 * (preflight.ts), stale reader slots of killed processes (readerCheck() on open), maxDbs
 * defaulting to 12, a path with a dot taken for a file (noSubdir: false), one lmdb-js
 * environment per file and realm (shared here, reference-counted). Never call process.exit()
 * inside an `update` function (lmdb-js #336: it hangs with the write lock held).
 *
 * @example
 * ```ts
 * const store = KvsStore.open({ dir: defaultKvsDir() })
 * const robot = store.namespace('robot')
 * robot.update('count', (old) => encode(decode(old) + 1))
 * for await (const change of robot.watch('settings/')) console.log(change.key)
 * store.close()
 * ```
 *
 * @module
 */

import { mkdirSync, realpathSync } from 'node:fs'
import { endianness, homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { open as openLmdb, type Database, type Key, type RootDatabase, type Transaction } from 'lmdb'
import { decodeLayout, LAYOUT_KEY, MAX_KEY_BYTES, META_DB } from '../state/disk-layout.js'
import { preflight } from '../lmdb/preflight.js'
import { withEnvOpenLock } from '../lmdb/open-lock.js'
import {
  describeKvsAction,
  kvsCorruptHint,
  kvsErrorFrom,
  kvsMapFullHint,
  previewKey,
  KvsBadKeyError,
  KvsBadNamespaceError,
  KvsBadValueError,
  KvsClosedError,
  KvsCorruptError,
  KvsError,
  KvsLayoutError,
  KvsMapFullError,
  KvsOpenError,
  KvsValueTooLargeError,
  type KvsErrorContext,
} from './errors.js'

/** Environment variable naming the KVS directory (wins over the XDG default). */
export const ENV_KVS_DIR = 'DORA_TS_KVS_DIR'
/** Default size limit of the KVS: 1 GiB (a sparse mapping: costs nothing until used). */
export const DEFAULT_KVS_MAP_SIZE_BYTES = 1024 * 1024 * 1024
/** Smallest accepted map size. */
export const MIN_KVS_MAP_SIZE_BYTES = 1024 * 1024
/** Longest key in UTF-8 bytes: LMDB's classic MDB_MAXKEYSIZE, as for operator state. */
export const MAX_KVS_KEY_BYTES = MAX_KEY_BYTES
/** Largest value: 64 MiB (and never more than fits in the map). Share bigger blobs by path. */
export const MAX_KVS_VALUE_BYTES = 64 * 1024 * 1024
/** Longest namespace name in UTF-8 bytes. */
export const MAX_NAMESPACE_BYTES = 255
/** The change log keeps the changes of this many most recent write transactions. */
export const KVS_LOG_KEEP_TXNS = 10_000
/** Values up to this size are kept in the change log; a watcher reads bigger ones from the namespace. */
export const KVS_LOG_INLINE_BYTES = 4096
/** How often a watcher looks for new changes. */
export const DEFAULT_WATCH_INTERVAL_MS = 10
/** Format and version of the layout record in `__meta__`. */
export const KVS_LAYOUT_FORMAT = 'dora-ts-kvs'
export const KVS_LAYOUT_VERSION = 1

const NAMESPACE_DB_PREFIX = 'ns/'
const LOG_DB_PREFIX = 'log/'
const TRIM_KEY_PREFIX = 'trim/'
/** Named databases: two per namespace plus __meta__. */
const MAX_DBS = 1000
/** Concurrent read transactions across every process that uses the KVS. */
const MAX_READERS = 1024
/** Trim the log in batches, so most writes only compare two numbers: it holds up to KEEP + BATCH entries. */
export const KVS_LOG_TRIM_BATCH_TXNS = 256

// lmdb-js transactionSync flags (index.d.ts TransactionFlags): a synchronous, abortable commit,
// fsync'ed (never NO_SYNC_FLUSH, 0x10000: see "Durability" above).
const ABORTABLE = 0x1
const SYNCHRONOUS_COMMIT = 0x2
/** The flags of every KVS write transaction. */
export const KVS_COMMIT_FLAGS = ABORTABLE | SYNCHRONOUS_COMMIT
const WRITE_FLAGS = KVS_COMMIT_FLAGS
const DURABLE_FLAGS = KVS_COMMIT_FLAGS

// Change log entry kinds.
const LOG_PUT = 1
/** A put whose value is over KVS_LOG_INLINE_BYTES: the watcher reads the value from the namespace. */
const LOG_PUT_EXTERNAL = 2
const LOG_DELETE = 3

// Upper estimate of what one write adds to the file beyond its key and value: LMDB copies the
// root-to-leaf path of each database it touches (namespace, log, __meta__, main, free list).
const WRITE_SLACK_PAGES = 16
const NODE_OVERHEAD_BYTES = 16
/** Measure the data file at least this often, since other processes write too. */
const MEASURE_EVERY_WRITES = 256
const MEASURE_EVERY_MS = 100

const LONE_SURROGATE = /[\uD800-\uDFFF]/u

type Bytes = Database<Buffer, Buffer>
// Node's own fast UTF-8 paths of Buffer (lmdb-js uses them too); not in @types/node.
const { utf8Write, utf8Slice } = Buffer.prototype as unknown as {
  utf8Write(this: Buffer, text: string, offset: number, length?: number): number
  utf8Slice(this: Buffer, start: number, end: number): string
}
type NamespaceDb = Database<Buffer, string>
type AnyDb = Database<Buffer, Key>

/**
 * Keys of a namespace's database: JS strings written straight into lmdb-js's key buffer as
 * UTF-8 (no intermediate Buffer: a third of a read's cost) and read back as strings. On disk
 * they are the plain UTF-8 bytes, so `mdb_dump -p` shows them as they are.
 */
const UTF8_KEYS = {
  writeKey: (key: string | Uint8Array, target: Buffer, start: number): number => {
    if (typeof key === 'string') return start + utf8Write.call(target, key, start)
    // lmdb-js's own range bounds (an unbounded range starts at a byte string).
    target.set(key, start)
    return start + key.length
  },
  readKey: (target: Buffer, start: number, end: number): string => utf8Slice.call(target, start, end),
}

/** One key and its value, as {@link KvsNamespace.list} returns them. */
export interface KvsEntry {
  key: string
  value: Uint8Array
}

/**
 * A change seen by {@link KvsNamespace.watch}. The union is open: ignore kinds you do not
 * know. `seq` orders changes across the whole KVS (the LMDB transaction id; several changes
 * made in one transaction share it).
 * - `put`: `key` was set to `value`.
 * - `delete`: `key` was deleted.
 * - `lagged`: the watcher fell so far behind that the log no longer holds some changes it had
 *   not seen; re-read what you need with `list(prefix)`.
 */
export type KvsChange =
  | { type: 'put'; key: string; value: Uint8Array; seq: number }
  | { type: 'delete'; key: string; seq: number }
  | { type: 'lagged'; seq: number }

/** Options of {@link KvsNamespace.watch}. */
export interface KvsWatchOptions {
  /** How often to look for new changes, in ms (default {@link DEFAULT_WATCH_INTERVAL_MS}). */
  intervalMs?: number
  /** Ends the iterator (cleanly, as `return()` does) when aborted. */
  signal?: AbortSignal
}

/** Options of {@link KvsNamespace.list}. */
export interface KvsListOptions {
  /** Return at most this many entries (the first ones in key order). */
  limit?: number
}

/** Options of {@link KvsStore.open}. */
export interface KvsStoreOptions {
  /** The KVS directory; created (mode 0700) if missing. Default {@link defaultKvsDir}. */
  dir?: string
  /**
   * Size limit in bytes (default {@link DEFAULT_KVS_MAP_SIZE_BYTES}). lmdb-js grows the map on
   * demand, so the store enforces the limit itself: a write that could push the data file
   * past it is refused with DORA_KVS_MAP_FULL. Other processes' writes are seen at the next
   * measurement (every 256 writes or 100 ms), so the limit is exact to within that.
   */
  mapSizeBytes?: number
}

/**
 * The machine's KVS directory: `$DORA_TS_KVS_DIR`, else `$XDG_STATE_HOME/dora-ts/kvs`, else
 * `~/.local/state/dora-ts/kvs`. The supervisor resolves it and hands it to its nodes; the CLI
 * resolves it the same way.
 */
export function defaultKvsDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ENV_KVS_DIR]
  if (explicit !== undefined && explicit !== '') return resolve(explicit)
  const xdg = env['XDG_STATE_HOME']
  // The XDG spec says relative paths are invalid and must be ignored.
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'dora-ts', 'kvs')
  return join(homedir(), '.local', 'state', 'dora-ts', 'kvs')
}

/** Why `name` cannot name a namespace, or undefined when it can. */
export function namespaceProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a namespace name must be a string, got ${name === null ? 'null' : typeof name}`
  if (name.length === 0) return 'a namespace name must not be empty'
  // LMDB database names are C strings in the tools (and lmdb-js appends a NUL).
  if (name.includes('\0')) return `namespace ${JSON.stringify(name)} contains a NUL character`
  if (LONE_SURROGATE.test(name)) return `namespace ${JSON.stringify(name)} is not well-formed Unicode`
  const bytes = Buffer.byteLength(name)
  if (bytes > MAX_NAMESPACE_BYTES) return `namespace ${previewKey(name)} is ${bytes} UTF-8 bytes long, the limit is ${MAX_NAMESPACE_BYTES}`
  return undefined
}

/** The error for a namespace with `problem` (from {@link namespaceProblem}); `dir` '' when not known yet. */
export function badNamespaceError(problem: string, dir: string): KvsBadNamespaceError {
  return new KvsBadNamespaceError(`bad KVS namespace${dir === '' ? '' : ` in ${dir}`}: ${problem}`, {
    dir,
    hint: `use a non-empty name of at most ${MAX_NAMESPACE_BYTES} UTF-8 bytes without NUL characters`,
  })
}

/** Throw {@link badNamespaceError} unless `name` can name a namespace of the KVS in `dir`. */
export function checkKvsNamespace(name: unknown, dir: string): void {
  const problem = namespaceProblem(name)
  if (problem !== undefined) throw badNamespaceError(problem, dir)
}

/** Why `key` cannot be a KVS key (`bytes` is its UTF-8 length), or undefined when it can. */
export function kvsKeyProblem(key: unknown, bytes: number, what = 'key'): string | undefined {
  if (typeof key !== 'string') return `a ${what} must be a string, got ${key === null ? 'null' : typeof key}`
  if (what === 'key' && key.length === 0) return 'a key must not be empty'
  if (LONE_SURROGATE.test(key)) return `${what} ${previewKey(key)} is not well-formed Unicode (it has a lone surrogate)`
  if (bytes > MAX_KVS_KEY_BYTES) return `${what} ${previewKey(key)} is ${bytes} UTF-8 bytes long, the limit is ${MAX_KVS_KEY_BYTES} (LMDB's key size limit)`
  return undefined
}

/** Check a key for `context` (the operation, namespace and directory the message names); its UTF-8 length. */
export function checkKvsKey(key: unknown, context: KvsErrorContext): number {
  const bytes = typeof key === 'string' ? Buffer.byteLength(key, 'utf8') : undefined
  const problem = kvsKeyProblem(key, bytes ?? 0)
  if (problem !== undefined || bytes === undefined) {
    throw new KvsBadKeyError(`${describeKvsAction({ ...context, key: undefined })}: ${problem ?? 'bad key'}`, {
      dir: context.dir,
      namespace: context.namespace,
      hint: `use non-empty string keys of at most ${MAX_KVS_KEY_BYTES} UTF-8 bytes, e.g. "robot/pose"`,
    })
  }
  return bytes
}

/**
 * One namespace's operations, as a `Kvs` handle uses them: a {@link KvsNamespace} in this
 * thread, or the operators' client of the supervisor's KVS thread (kvs-service.ts).
 */
export interface KvsPool {
  readonly name: string
  read(key: string): Uint8Array | undefined
  write(key: string, value: Uint8Array): void
  delete(key: string): boolean
  list(prefix?: string, options?: KvsListOptions): KvsEntry[]
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined
  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean
  watch(prefix?: string, options?: KvsWatchOptions): KvsWatch
}

/** Hands out {@link KvsPool}s: a {@link KvsStore}, or the client of the KVS thread. */
export interface KvsProvider {
  namespace(name: string): KvsPool
  close(): void
}

/** The write transaction this realm is running, if any (update functions may write too). */
interface OpenTxn {
  seq: number
  index: number
  /** Databases opened inside it: their handles die if it aborts. */
  opened: string[]
}

/** One lmdb-js environment per directory and realm, shared by every KvsStore on it. */
interface SharedEnv {
  env: RootDatabase<Buffer, Buffer>
  meta: Bytes
  realDir: string
  refs: number
  dbs: Map<string, AnyDb>
  pageSize: number
  txn: OpenTxn | undefined
  /** Trim floors known to this realm, per namespace (only ever lower than the real ones). */
  floors: Map<string, number>
  /** Data file size when last measured, and the upper estimate of this realm's writes since. */
  highWater: number
  growth: number
  measuredAt: number
  writesSinceMeasure: number
}

const environments = new Map<string, SharedEnv>()

/** Private access from KvsNamespace to its store (set by KvsStore's static block). */
interface Internals {
  shared(store: KvsStore, context?: KvsErrorContext): SharedEnv
  addWatch(store: KvsStore, watch: KvsWatch): void
  removeWatch(store: KvsStore, watch: KvsWatch): void
}
let internals!: Internals

/**
 * The machine's shared KVS. Open it once per process (or thread); {@link namespace} hands out
 * cheap per-namespace handles.
 */
export class KvsStore implements KvsProvider {
  /** Absolute path of the KVS directory. */
  readonly dir: string
  /** The store's size limit in bytes. */
  readonly mapSizeBytes: number

  #shared: SharedEnv | undefined
  readonly #namespaces = new Map<string, KvsNamespace>()
  readonly #watches = new Set<KvsWatch>()

  private constructor(dir: string, mapSizeBytes: number, shared: SharedEnv) {
    this.dir = dir
    this.mapSizeBytes = mapSizeBytes
    this.#shared = shared
  }

  /**
   * Open (or create) the KVS. Never wipes anything: a directory that holds something else, or
   * a damaged file, is refused with a {@link KvsError} naming it (DORA_KVS_LAYOUT,
   * DORA_KVS_CORRUPT, DORA_KVS_OPEN).
   */
  static open(options: KvsStoreOptions = {}): KvsStore {
    const dir = resolve(options.dir ?? defaultKvsDir())
    const mapSizeBytes = options.mapSizeBytes ?? DEFAULT_KVS_MAP_SIZE_BYTES
    const context: KvsErrorContext = { dir, action: 'open' }
    if (!Number.isSafeInteger(mapSizeBytes) || mapSizeBytes < MIN_KVS_MAP_SIZE_BYTES) {
      throw new KvsOpenError(`${describeKvsAction(context)}: the map size must be an integer of at least ${MIN_KVS_MAP_SIZE_BYTES} bytes, got ${mapSizeBytes}`, {
        dir,
        hint: `give the KVS a map size of ${MIN_KVS_MAP_SIZE_BYTES} bytes or more`,
      })
    }
    let shared: SharedEnv
    try {
      // A new KVS is private to its user: robot settings are nobody else's business.
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      const realDir = realpathSync(dir)
      shared = environments.get(realDir) ?? withEnvOpenLock(dir, () => openEnvironment(dir, realDir, mapSizeBytes))
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
    shared.refs++
    return new KvsStore(dir, mapSizeBytes, shared)
  }

  /** A handle on namespace `name` (a pool); cached, cheap. Its databases are created on first write. */
  namespace(name: string): KvsNamespace {
    this.#require()
    checkKvsNamespace(name, this.dir)
    let ns = this.#namespaces.get(name)
    if (ns === undefined) {
      ns = new KvsNamespace(this, name, internals)
      this.#namespaces.set(name, ns)
    }
    return ns
  }

  /** Names of the namespaces that exist (have been written to), in order. */
  namespaces(): string[] {
    const shared = this.#require()
    try {
      return listDbNames(shared.env)
        .filter((name) => name.startsWith(NAMESPACE_DB_PREFIX))
        .map((name) => name.slice(NAMESPACE_DB_PREFIX.length))
    } catch (err) {
      throw kvsErrorFrom(err, { dir: this.dir, action: 'list' })
    }
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#shared !== undefined
  }

  /**
   * Close this handle: its watches end, later calls throw DORA_KVS_CLOSED. The environment
   * closes when the last store on it in this thread closes. Idempotent.
   */
  close(): void {
    const shared = this.#shared
    if (shared === undefined) return
    this.#shared = undefined
    for (const watch of [...this.#watches]) watch.close()
    this.#namespaces.clear()
    shared.refs--
    if (shared.refs > 0) return
    closeEnvironment(shared)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #require(context?: KvsErrorContext): SharedEnv {
    if (this.#shared === undefined) {
      const what = context === undefined ? `the KVS in ${this.dir} is closed` : `${describeKvsAction(context)}: the KVS handle is closed`
      throw new KvsClosedError(what, { dir: this.dir, namespace: context?.namespace, key: context?.key, hint: 'this is a bug in the caller: it used the KVS after close()' })
    }
    return this.#shared
  }

  static {
    internals = {
      shared: (store, context) => store.#require(context),
      addWatch: (store, watch) => store.#watches.add(watch),
      removeWatch: (store, watch) => store.#watches.delete(watch),
    }
  }
}

/**
 * One namespace (pool) of the KVS. Keys are non-empty strings of at most 511 UTF-8 bytes;
 * values are bytes (Uint8Array) of at most {@link MAX_KVS_VALUE_BYTES}.
 */
export class KvsNamespace implements KvsPool {
  readonly store: KvsStore
  /** The namespace's name. */
  readonly name: string
  readonly #internals: Internals
  readonly #dbName: string
  readonly #logName: string
  readonly #trimKey: Buffer

  /** @internal Use {@link KvsStore.namespace}. */
  constructor(store: KvsStore, name: string, access: Internals) {
    this.store = store
    this.name = name
    this.#internals = access
    this.#dbName = NAMESPACE_DB_PREFIX + name
    this.#logName = LOG_DB_PREFIX + name
    this.#trimKey = Buffer.from(TRIM_KEY_PREFIX + name)
  }

  /** The value of `key`, or undefined. Sees every write that returned before, in any process. */
  read(key: string): Uint8Array | undefined {
    const context = this.#context('read', key)
    this.#key(key, context)
    const shared = this.#internals.shared(this.store, context)
    try {
      const db = this.#ns(shared, false)
      if (db === undefined) return undefined
      // Inside an update function: read through its write transaction (lmdb-js does that
      // whenever one is open), so it sees its own writes.
      if (shared.txn !== undefined) return db.get(key)
      // lmdb-js keeps one read snapshot until the next event-loop turn; a read must not see an
      // older snapshot than the last write that returned in any process: start a fresh one.
      db.resetReadTxn()
      return db.get(key)
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
  }

  /** Set `key` to `value`. Returns once committed: every later read in any process sees it. */
  write(key: string, value: Uint8Array): void {
    const context = this.#context('write', key)
    const k = this.#key(key, context)
    const v = this.#value(value, context)
    this.#transact(context, k + v.length, (shared, txn) => {
      this.#ns(shared, true, txn)!.putSync(key, v)
      this.#log(shared, txn, key, k, v)
    })
  }

  /** Delete `key`; true when it existed. */
  delete(key: string): boolean {
    const context = this.#context('delete', key)
    const k = this.#key(key, context)
    const shared = this.#internals.shared(this.store, context)
    if (shared.txn === undefined && !this.#exists(shared, context)) return false
    return this.#transact(context, k, (shared, txn) => {
      const existed = this.#ns(shared, true, txn)!.removeSync(key)
      if (existed) this.#log(shared, txn, key, k, undefined)
      return existed
    })
  }

  /** Every key starting with `prefix` and its value, in key order (UTF-8 byte order), from one snapshot. */
  list(prefix = '', options: KvsListOptions = {}): KvsEntry[] {
    const context = this.#context('list')
    this.#prefix(prefix, context)
    const limit = options.limit ?? Infinity
    if (!(limit >= 0)) throw new KvsBadValueError(`${describeKvsAction(context)}: limit must be a number >= 0, got ${String(options.limit)}`, { dir: this.store.dir, namespace: this.name, hint: 'pass { limit: n } with n >= 0' })
    const shared = this.#internals.shared(this.store, context)
    const entries: KvsEntry[] = []
    try {
      const db = this.#ns(shared, false)
      if (db === undefined || limit === 0) return entries
      const txn = shared.txn === undefined ? freshReadTxn(db) : undefined
      try {
        for (const { key, value } of db.getRange({ ...(prefix === '' ? {} : { start: prefix }), ...(txn === undefined ? {} : { transaction: txn }) })) {
          // Byte order and string prefixes agree for well-formed UTF-16 (lone surrogates are refused).
          if (!key.startsWith(prefix)) break
          entries.push({ key, value })
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
   * KVS's machine-wide write lock, so concurrent updaters in any process never lose an update.
   * Keep `fn` short and synchronous; it may read and write other keys (also of other
   * namespaces): they commit together. If it throws, nothing is written and the error is
   * rethrown. Never call process.exit() in it. Returns the new value.
   */
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined {
    const context = this.#context('update', key)
    const k = this.#key(key, context)
    if (typeof fn !== 'function') {
      throw new KvsBadValueError(`${describeKvsAction(context)}: the update function is a ${typeof fn}`, this.#options(context, 'pass a function (current) => next'))
    }
    return this.#transact(context, k, (shared, txn) => {
      const db = this.#ns(shared, true, txn)!
      const current = db.get(key)
      const next: unknown = fn(current)
      if (next === undefined) {
        if (current !== undefined && db.removeSync(key)) this.#log(shared, txn, key, k, undefined)
        return undefined
      }
      if (typeof (next as { then?: unknown } | null)?.then === 'function') {
        throw new KvsBadValueError(
          `${describeKvsAction(context)}: the update function returned a Promise; it runs inside the write transaction and must be synchronous`,
          this.#options(context, 'compute the new value synchronously from the current one; do any waiting before calling update()'),
        )
      }
      const v = this.#value(next, context)
      this.#reserve(shared, k + v.length, context)
      db.putSync(key, v)
      this.#log(shared, txn, key, k, v)
      return next as Uint8Array
    })
  }

  /**
   * Set `key` to `next` (undefined: delete it) only if its value is byte-equal to `expected`
   * (undefined: only if absent), atomically. True when it was set.
   */
  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean {
    const context = this.#context('compare-and-set', key)
    const k = this.#key(key, context)
    if (expected !== undefined && !(expected instanceof Uint8Array)) {
      throw new KvsBadValueError(`${describeKvsAction(context)}: the expected value is a ${typeof expected}, not a Uint8Array or undefined`, this.#options(context, 'pass the bytes you read, or undefined for "absent"'))
    }
    const v = next === undefined ? undefined : this.#value(next, context)
    return this.#transact(context, k + (v?.length ?? 0), (shared, txn) => {
      const db = this.#ns(shared, true, txn)!
      // A view of the current value (no copy), compared at once, before the next LMDB call.
      // lmdb-js hands out its reusable buffer with a `length` override: view just the value.
      const fast = db.getBinaryFast(key)
      const current = fast === undefined ? undefined : fast.subarray(0, fast.length)
      const equal = expected === undefined ? current === undefined : current !== undefined && Buffer.compare(current, expected) === 0
      if (!equal) return false
      if (v === undefined) {
        if (current !== undefined && db.removeSync(key)) this.#log(shared, txn, key, k, undefined)
      } else {
        db.putSync(key, v)
        this.#log(shared, txn, key, k, v)
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
      detach: (w) => this.#internals.removeWatch(this.store, w),
    })
    this.#internals.addWatch(this.store, watch)
    return watch
  }

  /**
   * Where a watch of `prefix` starting now begins in the log (checks the prefix).
   * @internal For {@link watch} and the KVS thread.
   */
  watchStart(prefix: string): LogPosition {
    const context = this.#context('watch')
    this.#prefix(prefix, context)
    const shared = this.#internals.shared(this.store, context)
    try {
      return { seq: (shared.env.getStats() as { lastTxnId: number }).lastTxnId + 1, index: 0 }
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
    this.#prefix(prefixText, context)
    const prefix = Buffer.from(prefixText, 'utf8')
    const shared = this.#internals.shared(this.store, context)
    const changes: KvsChange[] = []
    let next = from
    try {
      const log = this.#db(shared, this.#logName, false)
      if (log === undefined) return { changes, next }
      const db = this.#ns(shared, false)
      const txn = freshReadTxn(log)
      try {
        const floorBytes = shared.meta.get(this.#trimKey, { transaction: txn })
        const floor = floorBytes === undefined ? 0 : readSeq(floorBytes)
        if (floor > next.seq) {
          changes.push({ type: 'lagged', seq: floor })
          next = { seq: floor, index: 0 }
        }
        let read = 0
        for (const { key, value } of log.getRange({ start: logKey(next.seq, next.index), transaction: txn })) {
          const seq = readSeq(key)
          next = { seq, index: key.readUInt32BE(8) + 1 }
          const change = decodeLogEntry(value, seq, prefix, (key) => db?.get(key, { transaction: txn }))
          if (change !== undefined) changes.push(change)
          if (++read >= limit) break
        }
      } finally {
        txn.done()
      }
    } catch (err) {
      throw kvsErrorFrom(err, context)
    }
    return { changes, next }
  }

  /** Run `body` in one synchronous write transaction (or in the one already open in this realm). */
  #transact<T>(context: KvsErrorContext, bytes: number, body: (shared: SharedEnv, txn: OpenTxn) => T): T {
    const shared = this.#internals.shared(this.store, context)
    this.#reserve(shared, bytes, context)
    // Nested in an update function: join its transaction, commit with it.
    if (shared.txn !== undefined) return body(shared, shared.txn)
    let result: T | undefined
    let thrown: { error: unknown } | undefined
    let opened: string[] = []
    try {
      shared.env.transactionSync(() => {
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
      }, WRITE_FLAGS)
    } catch (err) {
      // LMDB closes the handles of databases opened in an aborted transaction.
      for (const name of opened) shared.dbs.delete(name)
      // What the user's update function threw, and our own errors, pass through unchanged.
      if (thrown !== undefined && thrown.error === err && !(err instanceof KvsError) && !isLmdbError(err)) throw err
      throw kvsErrorFrom(err, context)
    }
    shared.writesSinceMeasure++
    return result as T
  }

  /** Append one change to the log in the open transaction, and trim the log when due. */
  #log(shared: SharedEnv, txn: OpenTxn, key: string, keyBytes: number, value: Buffer | undefined): void {
    const log = this.#db(shared, this.#logName, true, txn)!
    log.putSync(logKey(txn.seq, txn.index++), encodeLogEntry(key, keyBytes, value))
    const horizon = txn.seq - KVS_LOG_KEEP_TXNS
    const known = shared.floors.get(this.name) ?? 0
    if (horizon - known < KVS_LOG_TRIM_BATCH_TXNS) return
    const stored = shared.meta.get(this.#trimKey)
    const floor = Math.max(known, stored === undefined ? 0 : readSeq(stored))
    if (horizon - floor >= KVS_LOG_TRIM_BATCH_TXNS) {
      // Collect first: removing under a live cursor is not safe in lmdb-js.
      const old = [...log.getKeys({ end: logKey(horizon, 0) })]
      for (const k of old) log.removeSync(k)
      shared.meta.putSync(this.#trimKey, seqBytes(horizon))
      shared.floors.set(this.name, horizon)
    } else {
      shared.floors.set(this.name, floor)
    }
  }

  /**
   * Enforce the map size. Measuring the data file costs a few microseconds, so it is done when
   * the last measurement plus this realm's writes since could exceed the limit, and at least
   * every 256 writes or 100 ms (other processes write too). The file never shrinks, but LMDB
   * reuses the pages that deletes free: so when the file is near the limit, the pages actually
   * in use decide, and a full KVS takes writes again once keys are deleted.
   */
  #reserve(shared: SharedEnv, bytes: number, context: KvsErrorContext): void {
    const growth = bytes + NODE_OVERHEAD_BYTES * 2 + WRITE_SLACK_PAGES * shared.pageSize
    const limit = this.store.mapSizeBytes
    const now = Date.now()
    if (
      shared.highWater + shared.growth + growth > limit ||
      shared.writesSinceMeasure >= MEASURE_EVERY_WRITES ||
      now - shared.measuredAt >= MEASURE_EVERY_MS
    ) {
      const stats = shared.env.getStats() as { lastPageNumber: number }
      shared.highWater = (stats.lastPageNumber + 1) * shared.pageSize
      shared.growth = 0
      shared.writesSinceMeasure = 0
      shared.measuredAt = now
      if (shared.highWater + growth > limit) {
        const used = usedBytes(shared.env, shared.pageSize) ?? shared.highWater
        if (used + growth > limit) {
          throw new KvsMapFullError(
            `${describeKvsAction(context)}: the KVS is full (${used} of ${limit} bytes in use, this write needs up to ${growth} more)`,
            this.#options(context, kvsMapFullHint(limit)),
          )
        }
        // Room in freed pages: measure again at the next write.
        shared.measuredAt = 0
      }
    }
    shared.growth += growth
  }

  /** The database `name` (binary keys), opened (created when `create`) and cached; undefined when absent and not created. */
  #db(shared: SharedEnv, name: string, create: boolean, txn?: OpenTxn): Bytes | undefined {
    return this.#open(shared, name, create, txn, { keyEncoding: 'binary' }) as Bytes | undefined
  }

  /** The namespace's own database: string keys stored as their plain UTF-8 bytes. */
  #ns(shared: SharedEnv, create: boolean, txn?: OpenTxn): NamespaceDb | undefined {
    return this.#open(shared, this.#dbName, create, txn, { keyEncoder: UTF8_KEYS }) as NamespaceDb | undefined
  }

  #open(shared: SharedEnv, name: string, create: boolean, txn: OpenTxn | undefined, keys: { keyEncoding: 'binary' } | { keyEncoder: typeof UTF8_KEYS }): AnyDb | undefined {
    const cached = shared.dbs.get(name)
    if (cached !== undefined) return cached
    if (!create && !dbExists(shared.env, name, shared.txn === undefined)) return undefined
    // lmdb-js opens (and creates) a database in a write transaction, or in the one already open.
    const db = shared.env.openDB<Buffer, Key>({ name, encoding: 'binary', ...keys })
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

  /** Check `key`; its length in UTF-8 bytes. */
  #key(key: unknown, context: KvsErrorContext): number {
    return checkKvsKey(key, context)
  }

  #prefix(prefix: unknown, context: KvsErrorContext): number {
    const bytes = typeof prefix === 'string' ? Buffer.byteLength(prefix, 'utf8') : undefined
    const problem = kvsKeyProblem(prefix, bytes ?? 0, 'prefix')
    if (problem !== undefined || bytes === undefined) {
      throw new KvsBadKeyError(`${describeKvsAction(context)}: ${problem ?? 'bad prefix'}`, this.#options(context, 'pass a string prefix ("" for every key)'))
    }
    return bytes
  }

  #value(value: unknown, context: KvsErrorContext): Buffer {
    if (!(value instanceof Uint8Array)) {
      const what = value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
      throw new KvsBadValueError(`${describeKvsAction(context)}: the value is a ${what}, not a Uint8Array`, this.#options(context, 'encode values to bytes first, or use writeJson()/writeTyped()'))
    }
    const pageSize = this.#internals.shared(this.store, context).pageSize
    const limit = Math.min(MAX_KVS_VALUE_BYTES, this.store.mapSizeBytes - WRITE_SLACK_PAGES * pageSize)
    if (value.byteLength > limit) {
      const why = value.byteLength > MAX_KVS_VALUE_BYTES ? `the limit is ${MAX_KVS_VALUE_BYTES} bytes (64 MiB)` : `a KVS of ${this.store.mapSizeBytes} bytes can never hold it`
      throw new KvsValueTooLargeError(
        `${describeKvsAction(context)}: the value is ${value.byteLength} bytes, ${why}`,
        this.#options(context, 'split the value across several keys, or share large data by file path and keep the path in the KVS'),
      )
    }
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  }
}

/** A position in a change log: the next entry to read. */
export interface LogPosition {
  seq: number
  index: number
}

/** Where a {@link KvsWatch} gets its changes: a namespace in this thread, or the KVS thread. */
export interface WatchSource {
  start: LogPosition
  intervalMs: number
  signal: AbortSignal | undefined
  poll(from: LogPosition, limit: number): { changes: KvsChange[]; next: LogPosition }
  detach(watch: KvsWatch): void
}

/** @internal A watch over `source` (KvsNamespace.watch, and the operators' client of the KVS thread). */
export function createKvsWatch(source: WatchSource): KvsWatch {
  return new KvsWatch(source, watchToken)
}

/** The checked `intervalMs` of watch options. */
export function watchInterval(options: KvsWatchOptions, dir: string, namespace: string): number {
  const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new KvsBadValueError(`${describeKvsAction({ dir, action: 'watch', namespace })}: intervalMs must be a positive number of milliseconds, got ${String(options.intervalMs)}`, {
      dir,
      namespace,
      hint: 'omit intervalMs for the default of 10 ms',
    })
  }
  return intervalMs
}

const watchToken = Symbol('KvsWatch')
/** Log entries read per poll; the rest wait for the next call to next(). */
const POLL_BATCH = 1024

/**
 * An async iterator of {@link KvsChange}s (from {@link KvsNamespace.watch}). Iterate it with
 * `for await`; `break`, {@link return} or {@link close} end it.
 */
export class KvsWatch implements AsyncIterableIterator<KvsChange>, AsyncDisposable {
  readonly #source: WatchSource
  #position: LogPosition
  readonly #buffer: KvsChange[] = []
  #closed = false
  #error: unknown
  #timer: NodeJS.Timeout | undefined
  #wake: (() => void) | undefined
  readonly #onAbort = (): void => this.close()

  /** @internal Use {@link KvsNamespace.watch}. */
  constructor(source: WatchSource, token: symbol) {
    if (token !== watchToken) throw new TypeError('use KvsNamespace.watch() to watch a namespace')
    this.#source = source
    this.#position = source.start
    if (source.signal?.aborted === true) this.#closed = true
    source.signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** The next change; waits (polling the log) until there is one or the watch is closed. */
  async next(): Promise<IteratorResult<KvsChange, undefined>> {
    for (;;) {
      const change = this.#buffer.shift()
      if (change !== undefined) return { value: change, done: false }
      if (this.#error !== undefined) {
        const error = this.#error
        this.#error = undefined
        this.close()
        throw error
      }
      if (this.#closed) return { value: undefined, done: true }
      if (this.#poll()) continue
      await new Promise<void>((wake) => {
        this.#wake = wake
        this.#timer = setTimeout(wake, this.#source.intervalMs)
        this.#timer.unref()
      })
      this.#wake = undefined
    }
  }

  /** End the watch (what `break` in a `for await` calls). */
  async return(): Promise<IteratorResult<KvsChange, undefined>> {
    this.close()
    return { value: undefined, done: true }
  }

  /** End the watch; a pending {@link next} resolves as done. Idempotent. */
  close(): void {
    if (this.#closed && this.#wake === undefined) return
    this.#closed = true
    this.#buffer.length = 0
    this.#source.signal?.removeEventListener('abort', this.#onAbort)
    this.#source.detach(this)
    clearTimeout(this.#timer)
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  /** Read new log entries into the buffer; true when there is something to hand out. */
  #poll(): boolean {
    try {
      const { changes, next } = this.#source.poll(this.#position, POLL_BATCH)
      this.#position = next
      this.#buffer.push(...changes)
      return changes.length > 0
    } catch (err) {
      this.#error = err
      return true
    }
  }
}

/**
 * Close an environment this thread no longer uses, under the open lock (env-open-lock.ts). Never
 * throws: closing releases memory, and a lock that cannot be had must not keep it open.
 */
function closeEnvironment(shared: SharedEnv): void {
  environments.delete(shared.realDir)
  shared.dbs.clear()
  // No asynchronous write is ever queued, so lmdb-js closes synchronously.
  const close = (): void => void shared.env.close()
  try {
    withEnvOpenLock(shared.realDir, close)
  } catch {
    try {
      close()
    } catch {
      // Nothing to report.
    }
  }
}

// A process that exits without closing its stores would close the environments in lmdb-js's
// exit hook, outside the open lock: close them here first ('exit' handlers run before it).
process.once('exit', () => {
  for (const shared of [...environments.values()]) closeEnvironment(shared)
})

/** Open the lmdb-js environment of `dir`, check or write its layout record. */
function openEnvironment(dir: string, realDir: string, mapSizeBytes: number): SharedEnv {
  preflight(dir)
  const env = openLmdb<Buffer, Buffer>({
    path: dir,
    noSubdir: false, // lmdb-js takes a path whose last part has a dot for a file
    maxDbs: MAX_DBS,
    maxReaders: MAX_READERS,
    mapSize: mapSizeBytes,
    noSync: false, // every commit is fsync'ed: see "Durability" in the module comment
    overlappingSync: false,
    keyEncoding: 'binary',
    encoding: 'binary',
  })
  try {
    // SIGKILLed processes leave their reader slots behind; free them.
    env.readerCheck()
    const meta = openLayout(env, dir)
    const stats = env.getStats() as { pageSize: number; lastPageNumber: number }
    const shared: SharedEnv = {
      env,
      meta,
      realDir,
      refs: 0,
      dbs: new Map<string, AnyDb>([[META_DB, meta]]),
      pageSize: stats.pageSize,
      txn: undefined,
      floors: new Map(),
      highWater: (stats.lastPageNumber + 1) * stats.pageSize,
      growth: 0,
      measuredAt: Date.now(),
      writesSinceMeasure: 0,
    }
    environments.set(realDir, shared)
    return shared
  } catch (err) {
    void env.close()
    throw err
  }
}

/** Check the layout record of an existing KVS, or write it into a new one. Refuses, never wipes. */
function openLayout(env: RootDatabase<Buffer, Buffer>, dir: string): Bytes {
  const names = listDbNames(env)
  const layoutHint = `point --kvs-dir (or ${ENV_KVS_DIR}) at a KVS directory, or at an empty one`
  if (names.length > 0 && !names.includes(META_DB)) {
    throw new KvsLayoutError(`cannot open the KVS in ${dir}: it holds an LMDB environment that is not a dora-ts KVS (no ${META_DB} database)`, { dir, hint: layoutHint })
  }
  const meta = env.openDB<Buffer, Buffer>({ name: META_DB, keyEncoding: 'binary', encoding: 'binary' })
  const layoutKey = Buffer.from(LAYOUT_KEY)
  let bytes = meta.get(layoutKey)
  if (bytes === undefined) {
    // A new KVS (several processes may create it at once: check again under the write lock).
    env.transactionSync(() => {
      bytes = meta.get(layoutKey)
      if (bytes !== undefined) return
      const fresh = listDbNames(env).every((name) => name === META_DB) && meta.getCount() === 0
      if (!fresh) throw new KvsLayoutError(`cannot open the KVS in ${dir}: its ${META_DB} database has no layout record`, { dir, hint: layoutHint })
      meta.putSync(layoutKey, Buffer.from(JSON.stringify({ format: KVS_LAYOUT_FORMAT, version: KVS_LAYOUT_VERSION })))
    }, DURABLE_FLAGS)
    if (bytes === undefined) return meta
  }
  const layout = decodeLayout(bytes)
  if (layout === undefined) throw new KvsCorruptError(`cannot open the KVS in ${dir}: its layout record does not decode`, { dir, hint: kvsCorruptHint(dir) })
  if (layout.format !== KVS_LAYOUT_FORMAT) {
    const what = layout.format === 'dora-ts-state' ? 'the operator state of a dataflow' : `"${layout.format}" data`
    throw new KvsLayoutError(`cannot open the KVS in ${dir}: it holds ${what}, not a KVS`, { dir, hint: layoutHint })
  }
  if (layout.version !== KVS_LAYOUT_VERSION) {
    const by = layout.version > KVS_LAYOUT_VERSION ? 'a newer' : 'an older'
    throw new KvsLayoutError(`cannot open the KVS in ${dir}: it was written by ${by} dora-ts (KVS layout ${layout.version}, this one reads ${KVS_LAYOUT_VERSION})`, {
      dir,
      hint: `use a dora-ts that matches the KVS in ${dir}, or choose another directory with --kvs-dir`,
    })
  }
  return meta
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

/** Offsets in an MDB_db record (the value of a named database in LMDB's main database) on 64-bit builds. */
const MDB_DB_RECORD_BYTES = 48
const MDB_DB_PAGE_COUNTS = [8, 16, 24] // md_branch_pages, md_leaf_pages, md_overflow_pages
const DB_RECORD_LAYOUT_KNOWN = endianness() === 'LE' && ['x64', 'arm64', 'ppc64', 'riscv64', 'loong64'].includes(process.arch)

/**
 * Bytes of the pages in use (every database's branch, leaf and overflow pages, the free list's
 * own, the two meta pages), as opposed to the file's high-water mark which also counts free
 * pages. Undefined where the record layout is not known.
 */
function usedBytes(env: RootDatabase<Buffer, Buffer>, pageSize: number): number | undefined {
  if (!DB_RECORD_LAYOUT_KNOWN) return undefined
  type PageCounts = { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
  const stats = env.getStats() as PageCounts & { free: PageCounts }
  let pages = 2
  for (const s of [stats, stats.free]) pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages
  const txn = freshReadTxn(env)
  try {
    for (const { value } of env.getRange({ transaction: txn })) {
      if (value.length !== MDB_DB_RECORD_BYTES) continue
      for (const offset of MDB_DB_PAGE_COUNTS) pages += Number(value.readBigUInt64LE(offset))
    }
  } finally {
    txn.done()
  }
  return pages * pageSize
}

/** Does the named database exist? Reads LMDB's main database in a fresh snapshot (or the open write transaction). */
function dbExists(env: RootDatabase<Buffer, Buffer>, name: string, fresh: boolean): boolean {
  const keys = [Buffer.from(`${name}\0`), Buffer.from(name)]
  if (!fresh) return keys.some((k) => env.getBinaryFast(k) !== undefined)
  const txn = freshReadTxn(env)
  try {
    return keys.some((k) => env.get(k, { transaction: txn }) !== undefined)
  } finally {
    txn.done()
  }
}

/**
 * A read transaction on the newest committed data. lmdb-js shares one read snapshot per thread
 * until the next event-loop turn (and `useReadTransaction` alone reuses it): reset it first.
 */
function freshReadTxn(db: Pick<Bytes, 'resetReadTxn' | 'useReadTransaction'>): Transaction {
  db.resetReadTxn()
  return db.useReadTransaction()
}

function hasPrefix(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
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
  const inline = value !== undefined && value.length <= KVS_LOG_INLINE_BYTES
  const kind = value === undefined ? LOG_DELETE : inline ? LOG_PUT : LOG_PUT_EXTERNAL
  const entry = Buffer.allocUnsafe(3 + keyBytes + (inline ? value.length : 0))
  entry[0] = kind
  entry.writeUInt16BE(keyBytes, 1)
  utf8Write.call(entry, key, 3, keyBytes)
  if (inline) value.copy(entry, 3 + keyBytes)
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

/** lmdb-js errors carry a numeric code (LMDB return code or errno). */
function isLmdbError(err: unknown): boolean {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number'
}
