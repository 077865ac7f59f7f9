/**
 * The guard against lost KVS commits: a write transaction commits only if it started from the
 * newest committed transaction.
 *
 * Why: the LMDB inside lmdb-js 3.5.6 (its mdb.master-based fork, mdb.c mdb_env_open2) has every
 * process that opens an environment, read-only included, store the transaction id of the meta
 * page it read from the file into the shared lock region (`mti_txnid` in lock.mdb), without the
 * write lock. The next write transaction of any process starts from that id and the meta page
 * it names. If another process commits between the opener's read of the meta page and its
 * store (a few microseconds: mapping the file), the lock region goes back one transaction, and
 * the next writer builds on the state before that commit and overwrites it: the commit is
 * lost, although it was acknowledged and fsync'ed, and every reader sees the older state until
 * the next commit. Reproduced with bare lmdb-js: one process incrementing a counter 3,000
 * times while three processes only opened, read and closed the environment ended at 2,999;
 * with faster (unsynced) commits, or more openers, it also ended in `MDB_PROBLEM` errors. It
 * is what made test/store/kvs/processes.test.ts lose 1 update in 450 under open/close churn,
 * and why unsynced commits were lost "when another process opens the environment" (store.ts).
 *
 * The guard: inside each write transaction, before anything is written, compare the
 * transaction's id with the newest meta page (`mdb_env_info`, read from the map). They differ
 * only when the lock region went back; then the transaction is aborted (nothing was written),
 * the lock region repaired, and the transaction run again. Every KVS commit goes through it
 * (namespace.ts), so no commit is ever built on a stale state. The repair opens the
 * environment once in a child process: mdb_env_open2 stores the id of the newest meta page,
 * and nobody commits meanwhile, since every writer finds the same stale id and aborts.
 *
 * @module
 */
import { spawnSync } from 'node:child_process'
import type { RootDatabase } from 'lmdb'
import { withoutNodeOptions } from '../../host-env.js'

/** The parts of lmdb-js's native environment used here (not in its types). */
interface NativeEnv {
  info(): { lastTxnId: number }
}

/**
 * Does the open write transaction of `env` start from the newest commit? Call it inside the
 * transaction, before writing.
 */
export function writeBaseIsNewest(env: RootDatabase<Buffer, Buffer>): boolean {
  const native = (env as unknown as { env: NativeEnv }).env
  return env.getWriteTxnId() === native.info().lastTxnId + 1
}

/** Thrown inside a write transaction to abort it when {@link writeBaseIsNewest} is false. */
export class StaleWriteBase extends Error {
  constructor() {
    super('the KVS lock region records an older transaction than the newest commit')
    this.name = 'StaleWriteBase'
  }
}

/** How many times one write repairs the lock region before it gives up. */
export const MAX_BASE_REPAIRS = 5

let repairs = 0

/** How many repairs this process made (for tests and diagnostics). */
export function writeBaseRepairCount(): number {
  return repairs
}

// Opening the environment is the repair (mdb_env_open2 stores the newest meta page's id).
// Read-only: it creates nothing. Runs as `node --input-type=module -e`, from src/ or dist/.
const REPAIR_SOURCE = `
const [lmdbUrl, dir] = process.argv.slice(1)
const { open } = await import(lmdbUrl)
const env = open({ path: dir, noSubdir: false, readOnly: true, maxDbs: 1000, keyEncoding: 'binary', encoding: 'binary' })
await env.close()
`

/**
 * Make the lock region of the environment in `dir` record the newest commit again, by opening
 * it in a child process. This process must keep the environment open meanwhile (the child is
 * then never the last one out, which would tear down the lock region). Throws with the child's
 * message when it fails.
 */
export function repairWriteBase(dir: string): void {
  repairs++
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', REPAIR_SOURCE, import.meta.resolve('lmdb'), dir], {
    env: withoutNodeOptions(),
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  if (result.status === 0) return
  const why =
    result.error?.message ??
    (result.signal !== null ? `it ended with ${result.signal}` : (result.stderr.trim().split('\n').at(-1) ?? `exit code ${result.status}`))
  throw new Error(`could not repair the KVS lock region of ${dir} (the process opening it failed: ${why})`)
}
