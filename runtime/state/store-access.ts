/**
 * How a `dora-ts state` command reaches a dataflow's state store: whether the store exists
 * (naming the stores there are when not), whether a live run owns it, and read access through
 * that run's state service or, when no run owns it, on the store opened here under the owner
 * lock (`owner.pid`).
 *
 * Apart from admin.ts because every state command (ls, dump, clear, snapshot, restore) goes
 * through these same checks and this one way in: the ownership rules (service.ts says why
 * a live store is never opened twice) are written once, not per command.
 *
 * @module
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DoraError, registerErrorClass } from '../../src/errors.js'
import { StateInUseError } from '../../src/store/state/errors.js'
import { acquireOwnerLock, acquireOwnerLockWaiting, liveOwnerOf, OWNER_FILE, OWNER_LOCK_WAIT_MS, type OwnerLock } from '../../src/store/state/owner-lock.js'
import { OPEN_LOCK_FILE } from '../../src/store/lmdb/open-lock.js'
import { StateStore, type OperatorStats } from '../../src/store/state/store.js'
import { ControlClient } from '../control/client.js'
import { ownerEndpoint, STATE_COMMANDS, storeReader, type OperatorDump, type StateReader } from './service.js'

/** No state store of that dataflow name under the state root. */
export class StateNotFoundError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_NOT_FOUND', message, options)
  }
}
registerErrorClass(StateNotFoundError)

/** Which store a `dora-ts state` command works on. */
export interface StateTarget {
  /** The dataflow name: the store's folder under the root. */
  name: string
  /** The state root (absolute). */
  root: string
  /** The store: `<root>/<name>`. */
  dir: string
  /** The YAML it was resolved from, if any. */
  file?: string | undefined
}

/** The stores under `root`: folders holding an LMDB data file (snapshots excluded). */
export function listStores(root: string): string[] {
  let entries: string[]
  try {
    entries = readdirSync(root)
  } catch {
    return []
  }
  return entries.filter((name) => !name.startsWith('.') && existsSync(join(root, name, 'data.mdb'))).sort()
}

/** True when the store of `target` exists. */
export function storeExists(target: StateTarget): boolean {
  return existsSync(join(target.dir, 'data.mdb'))
}

/** Throw {@link StateNotFoundError}, listing the stores that do exist, unless `target`'s exists. */
export function requireStore(target: StateTarget): void {
  if (storeExists(target)) return
  throw notFound(target)
}

function notFound(target: StateTarget): StateNotFoundError {
  const stores = listStores(target.root)
  const where = target.file === undefined ? '' : ` (the dataflow of ${target.file})`
  const found = stores.length === 0 ? `there is no state store under ${target.root} at all` : `the stores there are: ${stores.join(', ')}`
  return new StateNotFoundError(`no state store for dataflow "${target.name}"${where} in ${target.root}: ${found}`, {
    hint:
      stores.length === 0
        ? 'Run the dataflow first (its operators create the store), or pass --state-dir with the root `dora-ts run` used.'
        : 'Pass one of those names (or the dataflow YAML), or --state-dir with the root `dora-ts run` used.',
  })
}

/** The pid of the live run that owns the store, if any (a `dora-ts state` command reading it for a moment is not one). */
export function liveOwner(dir: string): number | undefined {
  const owner = liveOwnerOf(dir)
  return owner?.role === 'run' ? owner.pid : undefined
}

/** Throw DORA_STATE_IN_USE when a live run owns the store; `action` says what was refused. */
export function refuseWhileOwned(target: StateTarget, action: string): void {
  const pid = liveOwner(target.dir)
  if (pid === undefined) return
  throw inUse(target, action, pid)
}

/** DORA_STATE_IN_USE: `action` on `target` was refused because run `pid` owns its store. */
function inUse(target: StateTarget, action: string, pid: number | undefined): StateInUseError {
  return new StateInUseError(
    `cannot ${action} of dataflow "${target.name}": a running dataflow (dora-ts pid ${pid ?? '?'}) owns its state store in ${target.dir}`,
    {
      dir: target.dir,
      hint: 'Stop that dataflow first (Ctrl-C, or dora-ts stop), then try again. Reading works meanwhile: dora-ts state ls, dump and snapshot.',
    },
  )
}

/**
 * Take the owner lock of `target`'s store to write it (clear, restore): refused with
 * DORA_STATE_IN_USE naming `action` while a live run owns it (`lockAction` when a run took it
 * meanwhile); a command reading it for a moment is waited for.
 */
export async function lockForWriting(target: StateTarget, action: string, lockAction = action): Promise<OwnerLock> {
  refuseWhileOwned(target, action)
  try {
    return await acquireOwnerLockWaiting(target.dir, OWNER_LOCK_WAIT_MS, 'cli')
  } catch (err) {
    if (err instanceof StateInUseError) throw inUse(target, lockAction, liveOwner(target.dir))
    throw err
  }
}

/** How long to wait for a run that has just taken the store to publish its endpoint. */
const OWNER_ENDPOINT_WAIT_MS = 5_000
/** A snapshot of a big store takes as long as copying it. */
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000

/**
 * Run `work` with read access to `target`'s store: through the live run that owns it, else on
 * the store opened here under the owner lock (so no run starts meanwhile).
 */
export async function withStateReader<T>(target: StateTarget, work: (reader: StateReader) => Promise<T>): Promise<T> {
  for (const deadline = performance.now() + OWNER_ENDPOINT_WAIT_MS; ;) {
    let lock
    try {
      lock = acquireOwnerLock(target.dir, 'cli')
    } catch (err) {
      if (!(err instanceof StateInUseError)) throw err
    }
    if (lock !== undefined) {
      try {
        return await withStore(target.dir, (store) => work(storeReader(store)))
      } finally {
        lock.release()
      }
    }
    const owner = liveOwnerOf(target.dir)
    const pid = owner?.role === 'run' ? owner.pid : undefined
    const endpoint = ownerEndpoint(target.dir)
    if (pid !== undefined && endpoint !== undefined) {
      const client = ControlClient.open(
        endpoint,
        `the running dataflow "${target.name}" (dora-ts pid ${pid})`,
        pid,
        `It may be busy or hung: check its output (or dora-ts logs ${target.name}), and try again.`,
      )
      try {
        return await work(remoteReader(client, pid))
      } finally {
        client.close()
      }
    }
    // Another command reads it for a moment, or the owner is starting (no endpoint yet) or has
    // just ended (the lock is free again): try again shortly.
    if (performance.now() > deadline && owner?.role === 'cli') {
      throw new StateInUseError(
        `cannot read the state of dataflow "${target.name}": another dora-ts command (pid ${owner.pid}) has held its store in ${target.dir} for over ${OWNER_ENDPOINT_WAIT_MS / 1000} s`,
        {
          dir: target.dir,
          hint: 'It may be stuck (a big snapshot or restore takes a while): wait for it, or stop it, then try again.',
        },
      )
    }
    if (performance.now() > deadline) {
      throw new StateInUseError(
        `cannot read the state of dataflow "${target.name}": dora-ts pid ${pid ?? '?'} owns its store in ${target.dir} but does not serve it`,
        {
          dir: target.dir,
          hint: 'That process may be a dora-ts older than this CLI, or stuck starting: try again, or stop it first.',
        },
      )
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

function remoteReader(client: ControlClient, pid: number): StateReader {
  return {
    owner: pid,
    stats: () => client.request<OperatorStats[]>(STATE_COMMANDS.stats),
    dump: (operators) => client.request<OperatorDump[]>(STATE_COMMANDS.dump, operators === undefined ? {} : { operators }),
    snapshot: (dir) => client.request<OperatorStats[]>(STATE_COMMANDS.snapshot, { dir }, { timeoutMs: SNAPSHOT_TIMEOUT_MS }),
  }
}

/**
 * Run `work` on the store opened in this process, then close it. Does not take the owner
 * lock: callers take it first (or open a store no run can own, such as a snapshot).
 */
export async function withStore<T>(dir: string, work: (store: StateStore) => T | Promise<T>): Promise<T> {
  const store = StateStore.open({ dir, durability: 'process' })
  try {
    return await work(store)
  } finally {
    await store[Symbol.asyncDispose]()
  }
}

/**
 * The lock files of the processes using a store at this moment (its owner's pid file, the open
 * lock, and the files a pid file is prepared in) and LMDB's reader table (lock.mdb, as long as
 * whoever created it chose: LMDB, or the store writing it first, src/store/lmdb/lock-file.ts):
 * not the store's data. Counted, a `state ls` beside another reader showed another size (96.3
 * against 96.2 KiB, seen in CI), and the same store two sizes depending on who created it.
 */
function isLockFile(name: string): boolean {
  return name === OWNER_FILE || name === OPEN_LOCK_FILE || name === 'lock.mdb' || name.endsWith('.tmp')
}

/**
 * Bytes of the files in `dir` (not recursive: stores and snapshots are flat), lock files left
 * out; a file removed while this counts is not counted.
 */
export function sizeOf(dir: string): number {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return 0
  }
  let total = 0
  for (const name of names) {
    if (isLockFile(name)) continue
    try {
      const stat = statSync(join(dir, name))
      if (stat.isFile()) total += stat.size
    } catch {
      // Gone meanwhile.
    }
  }
  return total
}
