/**
 * What `dora-ts state` does to a dataflow's state store, outside of a run: find the store (by
 * dataflow name or YAML, as `dora-ts run` does), tell whether a live run owns it, list and dump
 * operators, clear them, and take, list and restore snapshots.
 *
 * Reading (ls, dump, snapshot) works while a run owns the store, but never by opening the live
 * store here: the owning run answers on its state service (state-service.ts says why). A store
 * no run owns is opened here under the owner lock (`owner.pid`), so no run starts committing
 * into it meanwhile. Writing (clear, restore) takes the owner lock too, so it is refused while a
 * run lives.
 *
 * Snapshots live in `<state root>/.snapshots/<dataflow>/<id>/`: a compacted copy of the store
 * (data.mdb) and `snapshot.json` saying what it holds. A restore keeps the store it replaces as
 * a snapshot named `before-restore-<time>`, so nothing is lost.
 */
import { createHash } from 'node:crypto'
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { unpackMultiple } from 'msgpackr'
import { DoraError, registerErrorClass } from '../../src/errors.js'
import { loadDataflow } from '../../src/spec/load.js'
import { StateCorruptError, StateInUseError } from '../../src/store/state/errors.js'
import { acquireOwnerLock, acquireOwnerLockWaiting, liveOwnerOf, OWNER_LOCK_WAIT_MS } from '../../src/store/state/owner-lock.js'
import { StateStore, type OperatorStats } from '../../src/store/state/store.js'
import { DISK_SEGMENT_PREFIX } from '../../src/store/state/segments.js'
import { ControlClient } from '../control/client.js'
import { ownerEndpoint, STATE_COMMANDS, storeReader, type OperatorDump, type StateReader } from './service.js'
import { SNAPSHOTS_DIR, stateRootOf } from './location.js'

/** No state store of that dataflow name under the state root. */
export class StateNotFoundError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_NOT_FOUND', message, options)
  }
}
registerErrorClass(StateNotFoundError)

/** The store has no operator of that name. */
export class StateUnknownOperatorError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_UNKNOWN_OPERATOR', message, options)
  }
}
registerErrorClass(StateUnknownOperatorError)

/** No snapshot of that id for the dataflow. */
export class SnapshotNotFoundError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_SNAPSHOT_NOT_FOUND', message, options)
  }
}
registerErrorClass(SnapshotNotFoundError)

/** A bad dataflow name on the command line. */
export class StateNameError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_BAD_NAME', message, options)
  }
}
registerErrorClass(StateNameError)

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

/** The default state root for a dataflow named on the command line: `./.dora-ts/state`. */
export const DEFAULT_STATE_ROOT = join('.dora-ts', 'state')

/** Files of a snapshot besides LMDB's. */
const SNAPSHOT_INFO = 'snapshot.json'

/**
 * Resolve `target`, a dataflow name or the path of its YAML, to its store. For a YAML the
 * root is `stateDirOption`, else the YAML's `state_dir`, else `.dora-ts/state` next to it (as
 * `dora-ts run`), and the name is `runName` (`dora-ts run --name`), else the YAML's; for a
 * name the root is `stateDirOption`, else `./.dora-ts/state`.
 */
export async function resolveStateTarget(target: string, stateDirOption?: string, runName?: string): Promise<StateTarget> {
  if (/\.ya?ml$/i.test(target) || isFile(target)) {
    const spec = await loadDataflow(target, { checkFiles: false })
    const root = stateRootOf(spec, stateDirOption)
    const name = runName ?? spec.name
    const problem = nameProblem(name)
    if (problem !== undefined)
      throw new StateNameError(`--name ${JSON.stringify(name)} is not a dataflow name: it ${problem}`, { hint: 'Pass the name given to dora-ts run --name.' })
    return { name, root, dir: join(root, name), file: spec.file }
  }
  if (runName !== undefined) {
    throw new StateNameError(`--name goes with a dataflow YAML, not with the dataflow name ${JSON.stringify(target)}`, {
      hint: `Pass the run's name alone (dora-ts state ls ${runName}), or the YAML with --name.`,
    })
  }
  const problem = nameProblem(target)
  if (problem !== undefined) {
    throw new StateNameError(`${JSON.stringify(target)} is not a dataflow name: it ${problem}`, {
      hint: 'Name the dataflow as `dora-ts run` does (the YAML `name:`, or the file name without .yml), or pass the path of its YAML.',
    })
  }
  const root = resolve(stateDirOption ?? DEFAULT_STATE_ROOT)
  return { name: target, root, dir: join(root, target) }
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

function inUse(target: StateTarget, action: string, pid: number | undefined): StateInUseError {
  return new StateInUseError(
    `cannot ${action} of dataflow "${target.name}": a running dataflow (dora-ts pid ${pid ?? '?'}) owns its state store in ${target.dir}`,
    {
      dir: target.dir,
      hint: 'Stop that dataflow first (Ctrl-C, or dora-ts stop), then try again. Reading works meanwhile: dora-ts state ls, dump and snapshot.',
    },
  )
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
  for (const deadline = Date.now() + OWNER_ENDPOINT_WAIT_MS; ;) {
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
    if (Date.now() > deadline && owner?.role === 'cli') {
      throw new StateInUseError(
        `cannot read the state of dataflow "${target.name}": another dora-ts command (pid ${owner.pid}) has held its store in ${target.dir} for over ${OWNER_ENDPOINT_WAIT_MS / 1000} s`,
        {
          dir: target.dir,
          hint: 'It may be stuck (a big snapshot or restore takes a while): wait for it, or stop it, then try again.',
        },
      )
    }
    if (Date.now() > deadline) {
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
 * The operator key `operator` names in `stats`: `node/operator` as it is, or a bare `node` for
 * a single operator (`node/node`), or a bare operator id when only one node has it.
 *
 * @throws {@link StateUnknownOperatorError} listing the operators there are.
 */
export function resolveOperator(target: StateTarget, stats: readonly OperatorStats[], operator: string): string {
  const keys = stats.map((s) => s.operator)
  if (keys.includes(operator)) return operator
  const candidates = operator.includes('/') ? [] : keys.filter((k) => k === `${operator}/${operator}` || k.endsWith(`/${operator}`))
  if (candidates.length === 1) return candidates[0]!
  const known = keys.length === 0 ? 'it holds no operator state' : `its operators are: ${keys.join(', ')}`
  const why = candidates.length > 1 ? `"${operator}" matches ${candidates.join(' and ')}` : `it has no operator "${operator}"`
  throw new StateUnknownOperatorError(`cannot find the state of operator "${operator}" of dataflow "${target.name}" in ${target.dir}: ${why}; ${known}`, {
    hint: 'Name the operator as node/operator (or just the node for a single operator), as `dora-ts state ls` lists them.',
  })
}

/** One snapshot of a dataflow's store. */
export interface SnapshotInfo {
  id: string
  dir: string
  /** When it was taken. */
  createdAt: Date
  /** Bytes on disk. */
  bytes: number
  /** Operators and entries it holds, when recorded. */
  operators?: OperatorStats[] | undefined
  /** Why it was taken: `snapshot` (by hand) or `before-restore`. */
  reason?: string | undefined
}

/** Where the snapshots of `target` live. */
export function snapshotsDirOf(target: StateTarget): string {
  return join(target.root, SNAPSHOTS_DIR, target.name)
}

/** Every snapshot of `target`, oldest first. */
export function listSnapshots(target: StateTarget): SnapshotInfo[] {
  const dir = snapshotsDirOf(target)
  let ids: string[]
  try {
    ids = readdirSync(dir)
  } catch {
    return []
  }
  const result: SnapshotInfo[] = []
  for (const id of ids) {
    const path = join(dir, id)
    if (!existsSync(join(path, 'data.mdb'))) continue
    let info: { createdAt?: unknown; operators?: unknown; reason?: unknown } = {}
    try {
      info = JSON.parse(readFileSync(join(path, SNAPSHOT_INFO), 'utf8')) as typeof info
    } catch {
      // A copy made by hand, or a snapshot.json that was lost: fall back on the folder's time.
    }
    const createdAt = typeof info.createdAt === 'string' && !Number.isNaN(Date.parse(info.createdAt)) ? new Date(info.createdAt) : statSync(path).mtime
    result.push({
      id,
      dir: path,
      createdAt,
      bytes: sizeOf(path),
      operators: Array.isArray(info.operators) ? (info.operators as OperatorStats[]) : undefined,
      reason: typeof info.reason === 'string' ? info.reason : undefined,
    })
  }
  return result.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
}

/**
 * Take a consistent snapshot of `target`'s store (works while a run owns it: the run copies it).
 * The id is the UTC time, e.g. `2025-01-31T12-00-00.000Z`, prefixed `before-restore-` for the
 * copy a restore keeps of the store it replaces. `heldStore`: the store, already opened by a
 * caller that holds the owner lock.
 */
export async function takeSnapshot(target: StateTarget, reason: 'snapshot' | 'before-restore' = 'snapshot', heldStore?: StateStore): Promise<SnapshotInfo> {
  requireStore(target)
  const createdAt = new Date()
  const base = `${reason === 'before-restore' ? 'before-restore-' : ''}${createdAt.toISOString().replace(/:/g, '-')}`
  const parent = snapshotsDirOf(target)
  let id = base
  for (let n = 2; existsSync(join(parent, id)); n++) id = `${base}-${n}`
  const dir = join(parent, id)
  // Taken in a hidden staging folder (listSnapshots skips dot names) and renamed into place
  // once whole: a snapshot that fails (a full disk) leaves nothing that is listed (issue 12).
  const staging = join(parent, `.${id}.partial`)
  try {
    const operators =
      heldStore === undefined ? await withStateReader(target, (reader) => reader.snapshot(staging)) : await storeReader(heldStore).snapshot(staging)
    const sha256 = fileSha256(join(staging, 'data.mdb'))
    writeFileSync(
      join(staging, SNAPSHOT_INFO),
      `${JSON.stringify({ dataflow: target.name, createdAt: createdAt.toISOString(), reason, source: target.dir, operators, sha256 }, null, 2)}\n`,
    )
    // Immutable once taken: read-only files (private too: 0400), and a checksum that restore verifies.
    for (const name of readdirSync(staging)) chmodSync(join(staging, name), 0o400)
    syncFile(join(staging, 'data.mdb'))
    syncFile(staging)
    renameSync(staging, dir)
    syncFile(parent)
    return { id, dir, createdAt, bytes: sizeOf(dir), operators, reason }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true })
    throw err
  }
}

/** The SHA-256 of a file, read in 1 MiB pieces (hex). */
function fileSha256(path: string): string {
  const hash = createHash('sha256')
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024)
    for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, read))
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

/** Find snapshot `id` of `target`, or throw {@link SnapshotNotFoundError} listing those there are. */
export function findSnapshot(target: StateTarget, id: string): SnapshotInfo {
  const all = listSnapshots(target)
  const found = id.includes('/') || id.includes('\\') ? undefined : all.find((s) => s.id === id)
  if (found !== undefined) return found
  const known = all.length === 0 ? 'it has no snapshots yet' : `its snapshots are: ${all.map((s) => s.id).join(', ')}`
  throw new SnapshotNotFoundError(`no snapshot "${id}" of dataflow "${target.name}" in ${snapshotsDirOf(target)}: ${known}`, {
    hint: all.length === 0 ? `Take one with dora-ts state snapshot ${target.name}.` : `List them with dora-ts state snapshots ${target.name}.`,
  })
}

/**
 * Replace `target`'s store with snapshot `id`. Refused (DORA_STATE_IN_USE) while a run owns
 * the store; holds the owner lock meanwhile, so no run starts halfway. The store it replaces
 * is kept as a `before-restore-...` snapshot first.
 */
export async function restoreSnapshot(
  target: StateTarget,
  id: string,
): Promise<{ restored: SnapshotInfo; saved: SnapshotInfo | undefined; operators: OperatorStats[] }> {
  const snapshot = findSnapshot(target, id)
  refuseWhileOwned(target, `restore the state`)
  let lock
  try {
    lock = await acquireOwnerLockWaiting(target.dir, OWNER_LOCK_WAIT_MS, 'cli')
  } catch (err) {
    if (err instanceof StateInUseError) throw inUse(target, 'restore the state', liveOwner(target.dir))
    throw err
  }
  // The snapshot is never opened in place (that added a lock.mdb to it, and LMDB may write):
  // it is copied into a check folder, its checksum compared, and that copy opened and moved in.
  const check = join(target.root, SNAPSHOTS_DIR, `.restore-check-${process.pid}-${Date.now()}`)
  try {
    mkdirSync(check, { recursive: true })
    const staging = join(check, 'data.mdb')
    copyFileSync(join(snapshot.dir, 'data.mdb'), staging)
    chmodSync(staging, 0o600)
    const expected = snapshotSha256(snapshot.dir)
    if (expected !== undefined && fileSha256(staging) !== expected) {
      throw new StateCorruptError(
        `cannot restore snapshot "${snapshot.id}" of dataflow "${target.name}": its data.mdb changed since it was taken (checksum mismatch)`,
        {
          dir: snapshot.dir,
          hint: `restore another snapshot (dora-ts state snapshots ${target.name} lists them); ${snapshot.dir} is left as it is`,
        },
      )
    }
    // Refuse a snapshot this dora-ts cannot open before touching the store.
    await withStore(check, (store) => store.stats())
    rmSync(join(check, 'lock.mdb'), { force: true })
    const saved = storeExists(target) ? await withStore(target.dir, (store) => takeSnapshot(target, 'before-restore', store)) : undefined
    const data = join(target.dir, 'data.mdb')
    syncFile(staging)
    // The snapshot's large payloads (segment-<name> files, src/store/state/segments.ts) go with
    // its data file: the store reads them from its folder. Those of the replaced store that the
    // restored one does not reference are swept when it opens.
    for (const name of readdirSync(snapshot.dir)) {
      if (!name.startsWith(DISK_SEGMENT_PREFIX)) continue
      copyFileSync(join(snapshot.dir, name), join(target.dir, name))
      chmodSync(join(target.dir, name), 0o600)
    }
    renameSync(staging, data)
    // The lock file describes the replaced data file (its last transaction id): let the next
    // opener make a fresh one. A reader still open elsewhere keeps the old file and lock file.
    rmSync(join(target.dir, 'lock.mdb'), { force: true })
    syncFile(target.dir)
    const operators = await withStore(target.dir, (store) => store.stats())
    return { restored: snapshot, saved, operators }
  } finally {
    rmSync(check, { recursive: true, force: true })
    lock.release()
  }
}

/** The checksum recorded when the snapshot in `dir` was taken (none in older or hand-made ones). */
function snapshotSha256(dir: string): string | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dir, SNAPSHOT_INFO), 'utf8')) as { sha256?: unknown }
    return typeof info.sha256 === 'string' ? info.sha256 : undefined
  } catch {
    return undefined
  }
}

/** Clear every operator's state, or one operator's, under the owner lock. */
export async function clearState(target: StateTarget, operator?: string): Promise<string[]> {
  requireStore(target)
  refuseWhileOwned(target, operator === undefined ? 'clear the state' : `clear the state of operator "${operator}"`)
  let lock
  try {
    lock = await acquireOwnerLockWaiting(target.dir, OWNER_LOCK_WAIT_MS, 'cli')
  } catch (err) {
    if (err instanceof StateInUseError) throw inUse(target, 'clear the state', liveOwner(target.dir))
    throw err
  }
  try {
    return await withStore(target.dir, (store) => {
      const stats = store.stats()
      const keys = operator === undefined ? stats.map((s) => s.operator) : [resolveOperator(target, stats, operator)]
      if (operator === undefined) store.clear()
      else store.clear(keys[0])
      return keys
    })
  } finally {
    lock.release()
  }
}

/** Bytes of the files in `dir` (not recursive: stores and snapshots are flat). */
export function sizeOf(dir: string): number {
  let total = 0
  try {
    for (const name of readdirSync(dir)) {
      const stat = statSync(join(dir, name))
      if (stat.isFile()) total += stat.size
    }
  } catch {
    // Gone meanwhile: count what was seen.
  }
  return total
}

/**
 * A state value for people: the text itself (JSON-quoted) when it is printable UTF-8, else
 * hex (up to 32 bytes) or base64, followed by the value it decodes to when it is one
 * MessagePack value (the `msgpack` codec's format).
 */
export function formatValue(bytes: Uint8Array): string {
  const text = printableText(bytes)
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (text !== undefined) {
    // One printable byte is also a whole MessagePack integer (0x20-0x7e): msgpack.encode(103)
    // is "g". Say both rather than guess.
    const decoded = bytes.length === 1 ? msgpackValue(buffer) : undefined
    return decoded === undefined ? JSON.stringify(text) : `${JSON.stringify(text)} (msgpack: ${decoded})`
  }
  const shown = bytes.length <= 32 ? `hex:${buffer.toString('hex')}` : `base64:${buffer.toString('base64')}`
  const decoded = msgpackValue(buffer)
  return decoded === undefined ? shown : `${shown} (msgpack: ${decoded})`
}

/** `bytes` as text when it is valid UTF-8 without control characters (tabs and newlines are fine). */
export function printableText(bytes: Uint8Array): string | undefined {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text
}

function msgpackValue(buffer: Buffer): string | undefined {
  try {
    const values = unpackMultiple(buffer) as unknown[]
    if (values.length !== 1) return undefined
    const json = JSON.stringify(values[0], (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v))
    if (json === undefined) return undefined
    return json.length > 200 ? `${json.slice(0, 200)}...` : json
  } catch {
    return undefined
  }
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name === '.' || name === '..') return 'is a folder reference'
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator (pass a YAML path ending in .yml or .yaml, or the name alone)'
  if (name.startsWith('.')) return 'starts with "." (folders starting with "." under the state root are not stores)'
  return undefined
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function syncFile(path: string): void {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    fsyncSync(fd)
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
