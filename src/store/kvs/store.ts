/**
 * The node-local shared key-value store (KVS): dora's `kvs_read`/`kvs_write`, with the
 * consistency its design left as a TODO. One LMDB environment per user and machine (see
 * {@link defaultKvsDir}); every process that uses it (custom nodes, operator worker threads,
 * the CLI) opens it itself with lmdb-js, which is safe for many processes on one machine.
 *
 * ```
 * <kvs dir>/data.mdb, lock.mdb
 *   __meta__        layout {"format":"dora-ts-kvs","version":2}; trim/<ns> -> log floor (u64 BE)
 *   ns/<name>       one named database per namespace (pool): UTF-8 key -> value bytes + seal
 *   log/<name>      its change log: [txn id u64 BE][index u32 BE] -> [kind][key length u16][key][value] + seal
 * ```
 *
 * (The seal, a checksum read with every value, is described in disk-layout.ts.)
 *
 * Consistency, per namespace and key:
 * - Every write (write, delete, update, compareAndSet) is one synchronous LMDB write
 *   transaction (`transactionSync`): when the call returns it is committed, and visible to
 *   every later read in any process. Reads start a fresh read snapshot each time (about
 *   1 µs), so a read never sees an older snapshot than the last write that returned.
 * - Values are replaced atomically (LMDB copy-on-write pages): a reader sees the old value or
 *   the new one, never a mix.
 * - update and compareAndSet read and write inside one write transaction, under the KVS's
 *   write turnstile (write-turnstile.ts) and LMDB's write lock, so they are linearizable per
 *   key: concurrent updaters in any number of processes never lose an update, and a process
 *   or thread killed while holding them releases them (the next writer takes them over).
 * - Durability: every commit is fsync'ed before the call returns, so it survives SIGKILL of
 *   the writer and of the supervisor, and power loss too. (Unsynced commits used to be lost
 *   when another process opened the environment meanwhile; fsync only made that rarer. The
 *   cause was LMDB's record of the last commit, which an open can set back, and every write
 *   now checks it: write-base.ts.) A write costs about 0.3 to 1 ms instead of 10 µs.
 * - No commit is built on a stale state: a write transaction that finds LMDB's record of the
 *   last commit set back by another process's open aborts before writing, repairs the record
 *   and runs again (write-base.ts). A reader may see the state before the newest commit for
 *   the moment between such an open and its own check right after opening.
 *
 * Watch: LMDB has no notifications, so every write also appends to the namespace's change log
 * in the same transaction (change-log.ts), and a {@link KvsWatch} polls it (watch.ts). A
 * watcher that falls further behind than the log keeps gets a `lagged` change.
 *
 * lmdb-js pitfalls handled as in the state store: a damaged data file would crash the process
 * (preflight.ts), stale reader slots of killed processes (readerCheck() on open), maxDbs
 * defaulting to 12, a path with a dot taken for a file (noSubdir: false), one lmdb-js
 * environment per file and realm (shared, reference-counted: environment.ts). process.exit()
 * inside an `update` function (lmdb-js #336: it hung with the write lock held) is handled by
 * leaving that environment open at exit (environment.ts closeAllAtExit).
 *
 * The files of the KVS, by job: keys.ts (what keys and namespaces may be), location.ts (where
 * the KVS lives), disk-layout.ts, environment.ts (one shared LMDB environment per directory),
 * limits.ts (map size, value size), change-log.ts, watch.ts, pool.ts (the interfaces a `Kvs`
 * handle uses), namespace.ts, this file; and for operators, which reach the KVS through a
 * thread of the supervisor: service.ts (the supervisor's side), service-thread.ts (the
 * thread), remote.ts (the operator worker's side). This module re-exports the public names of
 * the store, so its users import from one place.
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

import { resolve } from 'node:path'
import { describeKvsAction, kvsErrorFrom, KvsClosedError, type KvsErrorContext } from './errors.js'
import { checkKvsNamespace } from './keys.js'
import { defaultKvsDir } from './location.js'
import { acquireEnvironment, releaseEnvironment, type SharedEnv } from './environment.js'
import { NAMESPACE_DB_PREFIX } from './disk-layout.js'
import { listDbNames } from '../lmdb/db-names.js'
import { checkKvsMapSize, DEFAULT_KVS_MAP_SIZE_BYTES } from './limits.js'
import { KvsNamespace } from './namespace.js'
import type { KvsWatch } from './watch.js'
import type { KvsProvider } from './pool.js'
import { droppedNamespaces, freeDroppedNamespaces, type KvsFreeResult } from './drop.js'

export { ENV_KVS_DIR, defaultKvsDir } from './location.js'
export { MAX_KVS_KEY_BYTES, MAX_NAMESPACE_BYTES, badNamespaceError, checkKvsKey, checkKvsNamespace, kvsKeyProblem, namespaceProblem } from './keys.js'
export { DEFAULT_KVS_MAP_SIZE_BYTES, MAX_KVS_VALUE_BYTES, MIN_KVS_MAP_SIZE_BYTES } from './limits.js'
export { KVS_COMMIT_FLAGS } from './environment.js'
export { KVS_LAYOUT_FORMAT, KVS_LAYOUT_VERSION } from './disk-layout.js'
export { KVS_LOG_KEEP_TXNS, KVS_LOG_TRIM_BATCH_TXNS, type LogPosition } from './change-log.js'
export { DEFAULT_WATCH_INTERVAL_MS, KvsWatch, type KvsChange, type KvsWatchOptions } from './watch.js'
export { KvsNamespace } from './namespace.js'
export type { KvsEntry, KvsListOptions, KvsPool, KvsProvider } from './pool.js'
export { formatHolder, kvsHolders, type KvsFreeResult, type KvsHolder } from './drop.js'

/** What {@link KvsStore.dropNamespace} did. */
export interface KvsDropResult {
  /** The namespace dropped. */
  namespace: string
  /** How many keys it held. */
  keys: number
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
  /**
   * Read the whole store in a child process before trusting it, unless it is as a clean
   * close left it (see src/store/lmdb/preflight.ts): a damaged page is then
   * DORA_KVS_CORRUPT rather than a crash of this process. The CLI and the supervisor's KVS
   * thread verify; nodes do not (they open the KVS often, and the supervisor verified it).
   */
  verify?: boolean
}

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
  readonly #access = {
    shared: (context?: KvsErrorContext): SharedEnv => this.#require(context),
    addWatch: (watch: KvsWatch): void => void this.#watches.add(watch),
    removeWatch: (watch: KvsWatch): void => void this.#watches.delete(watch),
  }

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
    checkKvsMapSize(mapSizeBytes, dir)
    let shared: SharedEnv
    try {
      shared = acquireEnvironment(dir, mapSizeBytes, options.verify === true)
    } catch (err) {
      throw kvsErrorFrom(err, { dir, action: 'open' })
    }
    return new KvsStore(dir, mapSizeBytes, shared)
  }

  /** A handle on namespace `name` (a pool); cached, cheap. Its databases are created on first write. */
  namespace(name: string): KvsNamespace {
    this.#require()
    checkKvsNamespace(name, this.dir)
    let ns = this.#namespaces.get(name)
    if (ns === undefined) {
      ns = new KvsNamespace(this, name, this.#access)
      this.#namespaces.set(name, ns)
    }
    return ns
  }

  /** Names of the namespaces that exist (have been written to, and not dropped since), in order. */
  namespaces(): string[] {
    const shared = this.#require()
    try {
      // One fresh read snapshot for both lists (lmdb-js keeps it until the next event-loop turn).
      shared.env.resetReadTxn()
      const dropped = new Set(droppedNamespaces(shared))
      return listDbNames(shared.env)
        .filter((name) => name.startsWith(NAMESPACE_DB_PREFIX))
        .map((name) => name.slice(NAMESPACE_DB_PREFIX.length))
        .filter((name) => !dropped.has(name))
    } catch (err) {
      throw kvsErrorFrom(err, { dir: this.dir, action: 'list' })
    }
  }

  /**
   * Drop namespace `name`: every key and its change log go, in one transaction (a kill leaves
   * it whole or dropped), and it is listed nowhere. Safe while other processes and threads use
   * it (custom nodes, operators through the supervisor's KVS thread): they read it empty from
   * then on, and a write of theirs creates it again, as a first write does. Its LMDB databases
   * are kept until {@link freeDroppedNamespaces} can delete them. Undefined when there is no
   * such namespace (never written, or dropped already).
   *
   * @example
   * ```ts
   * const dropped = store.dropNamespace('robto')   // { namespace: 'robto', keys: 2 }
   * ```
   */
  dropNamespace(name: string): KvsDropResult | undefined {
    const keys = this.namespace(name).dropContents()
    return keys === undefined ? undefined : { namespace: name, keys }
  }

  /**
   * Delete the LMDB databases of the dropped namespaces, which frees their slots toward the
   * namespace limit, when no other process has the KVS open (see drop.ts: deleting a database
   * another process holds a handle on is unsafe in LMDB); otherwise keep them for a later call.
   * Only for a process in which this thread alone has the KVS open (the `dora-ts kvs` command):
   * the threads of a process share LMDB's database handles.
   * @internal
   */
  freeDroppedNamespaces(): KvsFreeResult {
    const shared = this.#require()
    return freeDroppedNamespaces(shared, this.dir)
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
    releaseEnvironment(shared)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #require(context?: KvsErrorContext): SharedEnv {
    if (this.#shared === undefined) {
      const what = context === undefined ? `the KVS in ${this.dir} is closed` : `${describeKvsAction(context)}: the KVS handle is closed`
      throw new KvsClosedError(what, {
        dir: this.dir,
        namespace: context?.namespace,
        key: context?.key,
        hint: 'this is a bug in the caller: it used the KVS after close()',
      })
    }
    return this.#shared
  }
}
