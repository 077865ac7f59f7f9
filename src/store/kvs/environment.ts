/**
 * One lmdb-js environment per KVS directory and realm (thread), shared by every
 * {@link KvsStore} on it and reference-counted: lmdb-js keeps one native environment per file
 * and realm anyway, and a second handle on it would see the first one's database handles
 * dropped when either closes.
 *
 * Opening and closing go through the cross-process open lock (../lmdb/open-lock.ts), since
 * LMDB's "last one out" race breaks a process that opens while another closes.
 *
 * A process that exits without closing its stores would have lmdb-js close the environments
 * in its native clean-up hook, outside that lock; 'exit' listeners run before that hook, so
 * while at least one environment is open this module holds an 'exit' listener that closes
 * them under the lock first. The listener is added with the first environment and removed
 * with the last (rather than at import), so importing the KVS has no side effect: a module
 * that only checks keys, or a process that never opens the KVS, leaves `process` alone.
 *
 * @module
 */
import { LMDB_PRIVATE_FILES, PRIVATE_FILE_MODE } from '../../security/private-path.js'
import { mkdirSync, realpathSync } from 'node:fs'
import type { Database, Key, RootDatabase, Transaction } from 'lmdb'
import { lmdbJs } from '../lmdb/lmdb-js.js'
import { META_DB } from '../state/disk-layout.js'
import { markVerified, preflight } from '../lmdb/preflight.js'
import { withEnvOpenLock } from '../lmdb/open-lock.js'
import { checkKvsLayout } from './disk-layout.js'
import type { ValueSeal } from '../lmdb/checksum.js'
import { MAX_BASE_REPAIRS, repairWriteBase, writeBaseIsNewest } from './write-base.js'
import { forgetTurnstile, sweepTurnstileFiles, withWriteTurnstile } from './write-turnstile.js'

/** A database with binary keys and values (`__meta__`, a change log). */
export type Bytes = Database<Buffer, Buffer>
/** A namespace's database: string keys (see keys.ts UTF8_KEYS), binary values. */
export type NamespaceDb = Database<Buffer, string>
/** Either kind, as the database cache holds them. */
export type AnyDb = Database<Buffer, Key>

// lmdb-js transactionSync flags (index.d.ts TransactionFlags): a synchronous, abortable commit,
// fsync'ed (never NO_SYNC_FLUSH, 0x10000: see "Durability" in store.ts).
const ABORTABLE = 0x1
const SYNCHRONOUS_COMMIT = 0x2
/** The flags of every KVS write transaction. */
export const KVS_COMMIT_FLAGS = ABORTABLE | SYNCHRONOUS_COMMIT

/** Named databases: two per namespace plus __meta__. */
const MAX_DBS = 1000
/** Concurrent read transactions across every process that uses the KVS. */
const MAX_READERS = 1024

/** The write transaction this realm is running, if any (update functions may write too). */
export interface OpenTxn {
  seq: number
  index: number
  /** Databases opened inside it: their handles die if it aborts. */
  opened: string[]
}

/** One lmdb-js environment, shared by every KvsStore on its directory in this realm. */
export interface SharedEnv {
  env: RootDatabase<Buffer, Buffer>
  meta: Bytes
  /** How this KVS stores values: sealed with a checksum (layout 2), or raw (layout 1). */
  seal: ValueSeal
  realDir: string
  refs: number
  dbs: Map<string, AnyDb>
  pageSize: number
  txn: OpenTxn | undefined
  /** Trim floors known to this realm, per namespace (only ever lower than the real ones). */
  floors: Map<string, number>
  /** Data file size when last measured, and the upper estimate of this realm's writes since (limits.ts). */
  highWater: number
  growth: number
  measuredAt: number
  writesSinceMeasure: number
}

const environments = new Map<string, SharedEnv>()

/**
 * The environment of `dir` (created, mode 0700, if missing), opened or shared, with one more
 * reference: give it back with {@link releaseEnvironment}. Throws what lmdb-js, `node:fs`, the
 * preflight or the layout check throw.
 */
export function acquireEnvironment(dir: string, mapSizeBytes: number, verify = false): SharedEnv {
  // A new KVS is private to its user: robot settings are nobody else's business.
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const realDir = realpathSync(dir)
  const shared = environments.get(realDir) ?? withEnvOpenLock(dir, () => openEnvironment(dir, realDir, mapSizeBytes, verify))
  shared.refs++
  return shared
}

/** Drop one reference; the last one closes the environment. */
export function releaseEnvironment(shared: SharedEnv): void {
  shared.refs--
  if (shared.refs <= 0) closeEnvironment(shared)
}

/** How many environments this realm has open (for tests and diagnostics). */
export function openEnvironmentCount(): number {
  return environments.size
}

/** Open the lmdb-js environment of `dir`, check or write its layout record. */
function openEnvironment(dir: string, realDir: string, mapSizeBytes: number, verify: boolean): SharedEnv {
  // lock.mdb first written as zeros: LMDB writes a new one through a map, on a full disk a
  // SIGBUS (src/store/lmdb/lock-file.ts).
  preflight(dir, { verify, lockFile: { mode: PRIVATE_FILE_MODE, maxReaders: MAX_READERS } })
  // Opening runs write transactions (lmdb-js opens every database in one, the layout record,
  // the write-base check): under the turnstile, inside the open lock (the order of the two is
  // said in write-turnstile.ts).
  return withWriteTurnstile(realDir, { dir, action: 'open' }, () => openHolding(dir, realDir, mapSizeBytes))
}

function openHolding(dir: string, realDir: string, mapSizeBytes: number): SharedEnv {
  // Killed writers leave their prepared turnstile files behind: clear them now and then.
  sweepTurnstileFiles(realDir)
  const env = lmdbJs().open<Buffer, Buffer>({
    path: dir,
    noSubdir: false, // lmdb-js takes a path whose last part has a dot for a file
    maxDbs: MAX_DBS,
    maxReaders: MAX_READERS,
    mapSize: mapSizeBytes,
    noSync: false, // every commit is fsync'ed: see "Durability" in store.ts
    overlappingSync: false,
    keyEncoding: 'binary',
    encoding: 'binary',
    ...LMDB_PRIVATE_FILES, // data.mdb and lock.mdb: readable by this user only
  })
  try {
    // SIGKILLed processes leave their reader slots behind; free them.
    env.readerCheck()
    const { meta, seal } = checkKvsLayout(env, dir, KVS_COMMIT_FLAGS)
    // This very open (or another process's) may have set LMDB's record of the last commit
    // back (write-base.ts): writers would repair it, but readers until then see the state
    // before that commit. Check it now, in a write transaction that writes nothing.
    checkWriteBaseAfterOpen(env, dir)
    const stats = env.getStats() as { pageSize: number; lastPageNumber: number }
    const shared: SharedEnv = {
      env,
      meta,
      seal,
      realDir,
      refs: 0,
      dbs: new Map<string, AnyDb>([[META_DB, meta]]),
      pageSize: stats.pageSize,
      txn: undefined,
      floors: new Map(),
      highWater: (stats.lastPageNumber + 1) * stats.pageSize,
      growth: 0,
      measuredAt: performance.now(),
      writesSinceMeasure: 0,
    }
    environments.set(realDir, shared)
    if (environments.size === 1) process.on('exit', closeAllAtExit)
    return shared
  } catch (err) {
    void env.close()
    throw err
  }
}

/** Repair a stale record of the last commit found right after opening (see write-base.ts). */
function checkWriteBaseAfterOpen(env: RootDatabase<Buffer, Buffer>, dir: string): void {
  for (let attempt = 0; attempt < MAX_BASE_REPAIRS; attempt++) {
    let newest = true
    env.transactionSync(() => {
      newest = writeBaseIsNewest(env)
      return lmdbJs().ABORT
    }, KVS_COMMIT_FLAGS)
    if (newest) return
    repairWriteBase(dir)
  }
}

/**
 * Close an environment this realm no longer uses, under the open lock. Never throws: closing
 * releases memory, and a lock that cannot be had must not keep it open.
 */
function closeEnvironment(shared: SharedEnv): void {
  if (environments.get(shared.realDir) !== shared) return
  environments.delete(shared.realDir)
  if (environments.size === 0) process.off('exit', closeAllAtExit)
  shared.dbs.clear()
  // No asynchronous write is ever queued, so lmdb-js closes synchronously.
  const close = (): void => {
    forgetTurnstile(shared.realDir)
    void shared.env.close()
    // Closed cleanly: a verifying open need not read it all again (preflight.ts).
    markVerified(shared.realDir)
  }
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

/**
 * The 'exit' listener, registered while an environment is open (see the module comment).
 *
 * An environment with a write transaction open (process.exit() called inside an update
 * function) is left alone. Why: lmdb-js 3.5.6's env.close() first takes its per-environment
 * `writingLock`, a plain process-local pthread mutex that this very thread already holds for
 * the open transaction (EnvWrap::beginTxn -> EnvWrap::cleanupStrayTxns, env.cpp): the thread
 * waits on itself forever, still holding LMDB's machine-wide write mutex, so every writer and
 * new reader of the KVS on the machine blocks behind a process that never exits (issue 12,
 * seen with gdb: main thread in pthread_mutex_lock under cleanupStrayTxns). Left open, the
 * process exits; the kernel marks the robust write mutex's owner dead, and the next writer
 * anywhere recovers it and discards the uncommitted transaction, exactly as after a SIGKILL.
 */
function closeAllAtExit(): void {
  for (const shared of [...environments.values()]) {
    if (shared.txn === undefined) closeEnvironment(shared)
  }
}

/**
 * A read transaction on the newest committed data. lmdb-js shares one read snapshot per thread
 * until the next event-loop turn (and `useReadTransaction` alone reuses it): reset it first.
 */
export function freshReadTxn(db: Pick<Bytes, 'resetReadTxn' | 'useReadTransaction'>): Transaction {
  db.resetReadTxn()
  return db.useReadTransaction()
}

/** Does the named database exist? Reads LMDB's main database in a fresh snapshot (or the open write transaction). */
export function dbExists(env: RootDatabase<Buffer, Buffer>, name: string, fresh: boolean): boolean {
  const keys = [Buffer.from(`${name}\0`), Buffer.from(name)]
  if (!fresh) return keys.some((k) => env.getBinaryFast(k) !== undefined)
  const txn = freshReadTxn(env)
  try {
    return keys.some((k) => env.get(k, { transaction: txn }) !== undefined)
  } finally {
    txn.done()
  }
}
