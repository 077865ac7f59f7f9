/**
 * Dropping a KVS namespace, in two steps, because LMDB cannot delete a named database safely
 * while other processes hold a handle on it.
 *
 * 1. {@link KvsNamespace.dropContents} empties the namespace's databases (`mdb_drop`, del=0)
 *    and marks it `dropped/<name>` in `__meta__`, in one write transaction: from then on it is
 *    listed nowhere and reads anywhere find it empty; every process's handle on it stays valid.
 * 2. {@link freeDroppedNamespaces} deletes the databases of the dropped namespaces (del=1, which
 *    frees their slots toward the namespace limit) and their marks, in one write transaction,
 *    only while no other process has the KVS open. LMDB re-reads a named database's record by
 *    name in every new transaction of another process, and a handle whose database was deleted
 *    makes that process's next write build on freed pages (mdb_cursor_put goes on after the
 *    lookup fails): so "nobody else has it open" is the only safe moment. It is decided under the
 *    cross-process open lock (../lmdb/open-lock.ts), so nobody can open the KVS in between, from
 *    the POSIX locks LMDB holds on lock.mdb for as long as a process has the environment open
 *    (/proc/locks, Linux; elsewhere nothing is freed).
 *
 * A kill between the steps leaves the namespace dropped, with its databases kept until the next
 * drop frees them. A namespace written again before that is simply back, in the same databases.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { lmdbJs } from '../lmdb/lmdb-js.js'
import { kvsErrorFrom } from './errors.js'
import { withEnvOpenLock } from '../lmdb/open-lock.js'
import { dbExists, KVS_COMMIT_FLAGS, type SharedEnv } from './environment.js'
import { DROPPED_KEY_PREFIX, LOG_DB_PREFIX, NAMESPACE_DB_PREFIX, TRIM_KEY_PREFIX } from './disk-layout.js'
import { writeBaseIsNewest } from './write-base.js'
import { withWriteTurnstile } from './write-turnstile.js'

/** Another process that has the KVS open, as far as /proc tells. */
export interface KvsHolder {
  pid: number
  /** Its command line (cut to 120 characters), when readable. */
  command?: string | undefined
  /** The dataflow node it runs (a custom node: `DORA_TS_NODE_ID` in its environment). */
  nodeId?: string | undefined
  /** The id of that node's dataflow run (`DORA_TS_DATAFLOW_ID`). */
  dataflowId?: string | undefined
}

/** What {@link freeDroppedNamespaces} did. */
export interface KvsFreeResult {
  /** The dropped namespaces whose databases were deleted. */
  freed: string[]
  /** The dropped namespaces left as they are (another process has the KVS open, or it could not be told). */
  kept: string[]
  /** The other processes that have the KVS open; undefined when that cannot be told (not Linux). */
  holders: KvsHolder[] | undefined
}

/** Names of the dropped namespaces (their marks in `__meta__`), in a fresh read snapshot or the open write transaction. */
export function droppedNamespaces(shared: SharedEnv): string[] {
  if (shared.txn === undefined) shared.meta.resetReadTxn()
  const names: string[] = []
  const start = Buffer.from(DROPPED_KEY_PREFIX)
  for (const key of shared.meta.getKeys({ start })) {
    const name = Buffer.from(key)
    if (!name.subarray(0, start.length).equals(start)) break
    names.push(name.subarray(start.length).toString('utf8'))
  }
  return names
}

/**
 * Delete the databases of every dropped namespace, if no other process has the KVS open.
 *
 * The caller must be the only thread of its process that has this KVS open (the `dora-ts kvs`
 * command is): lmdb-js shares one LMDB environment between the threads of a process, so a
 * database handle another thread holds would be deleted under it, and /proc cannot tell threads
 * apart. Never call it in a supervisor, whose KVS thread serves the operators.
 */
export function freeDroppedNamespaces(shared: SharedEnv, dir: string): KvsFreeResult {
  const pending = droppedNamespaces(shared)
  if (pending.length === 0) return { freed: [], kept: [], holders: kvsHolders(shared.realDir) }
  try {
    return withEnvOpenLock(shared.realDir, () => {
      const holders = kvsHolders(shared.realDir)
      if (holders === undefined || holders.length > 0) return { freed: [], kept: pending, holders }
      const freed: string[] = []
      // Open lock, then the turnstile: the order write-turnstile.ts says.
      withWriteTurnstile(shared.realDir, { dir, action: 'drop' }, () =>
        shared.env.transactionSync(() => {
          // A stale record of the last commit (write-base.ts) would need a repair, which opens
          // the KVS in a child process: not under the open lock we hold. Leave it to the next drop.
          if (!writeBaseIsNewest(shared.env)) return lmdbJs().ABORT
          for (const name of droppedNamespaces(shared)) {
            for (const dbName of [NAMESPACE_DB_PREFIX + name, LOG_DB_PREFIX + name]) {
              if (!dbExists(shared.env, dbName, false)) continue
              const db = shared.dbs.get(dbName) ?? shared.env.openDB({ name: dbName, encoding: 'binary', keyEncoding: 'binary' })
              // del=1: deleted, and this realm's handle closed (lmdb-js marks it closed too).
              shared.dbs.delete(dbName)
              db.dropSync()
            }
            shared.meta.removeSync(Buffer.from(DROPPED_KEY_PREFIX + name))
            shared.meta.removeSync(Buffer.from(TRIM_KEY_PREFIX + name))
            shared.floors.delete(name)
            freed.push(name)
          }
          return undefined
        }, KVS_COMMIT_FLAGS),
      )
      return { freed, kept: pending.filter((name) => !freed.includes(name)), holders }
    })
  } catch (err) {
    // An aborted transaction keeps every database; handles it closed are opened again by name.
    for (const name of pending) {
      shared.dbs.delete(NAMESPACE_DB_PREFIX + name)
      shared.dbs.delete(LOG_DB_PREFIX + name)
    }
    throw kvsErrorFrom(err, { dir, action: 'drop' })
  }
}

/**
 * The other processes that have the KVS in `dir` open: every process holding a POSIX lock on
 * its lock.mdb (LMDB holds a shared one for as long as the environment is open, and one at the
 * offset of its pid). Undefined when that cannot be told: /proc/locks cannot be read (not
 * Linux), or a holder's pid is not visible from this pid namespace.
 */
export function kvsHolders(dir: string, self = process.pid): KvsHolder[] | undefined {
  let locks: string
  let inode: number
  try {
    locks = readFileSync('/proc/locks', 'utf8')
    inode = statSync(join(dir, 'lock.mdb')).ino
  } catch {
    return undefined
  }
  const pids = new Set<number>()
  for (const line of locks.split('\n')) {
    // "3: POSIX  ADVISORY  READ 13117 fe:00:2433397 0 0"; a waiter's line has "->" after the number.
    const fields = line.trim().split(/\s+/)
    if (fields[1] === '->') fields.splice(1, 1)
    if (fields[1] !== 'POSIX' && fields[1] !== 'OFDLCK') continue
    const pid = Number(fields[4])
    const id = fields[5]?.split(':')
    if (id === undefined || id.length !== 3 || Number(id[2]) !== inode) continue
    // A holder in another pid namespace (a container) is shown without a pid we can see: we
    // cannot tell who it is, only that it is there, and that is enough to keep the databases.
    if (!Number.isInteger(pid) || pid <= 0) return undefined
    if (pid !== self) pids.add(pid)
  }
  return [...pids].sort((a, b) => a - b).map(describeHolder)
}

/** "pid 123 (node "lidar" of dataflow 952add27-...)" or "pid 123 (node dist/runtime/cli/main.js up)". */
export function formatHolder(holder: KvsHolder): string {
  if (holder.nodeId !== undefined) {
    const run = holder.dataflowId === undefined ? '' : ` of dataflow run ${holder.dataflowId}`
    return `pid ${holder.pid} (node ${JSON.stringify(holder.nodeId)}${run})`
  }
  return holder.command === undefined ? `pid ${holder.pid}` : `pid ${holder.pid} (${holder.command})`
}

function describeHolder(pid: number): KvsHolder {
  const holder: KvsHolder = { pid }
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    if (command !== '') holder.command = command.length > 120 ? `${command.slice(0, 117)}...` : command
  } catch {
    // Gone meanwhile, or not ours to read: the pid says enough.
  }
  try {
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      if (entry.startsWith('DORA_TS_NODE_ID=')) holder.nodeId = entry.slice('DORA_TS_NODE_ID='.length)
      else if (entry.startsWith('DORA_TS_DATAFLOW_ID=')) holder.dataflowId = entry.slice('DORA_TS_DATAFLOW_ID='.length)
    }
  } catch {
    // Another user's process: no environment to read.
  }
  return holder
}
