/**
 * Snapshots of a dataflow's state store, for `dora-ts state snapshot|snapshots|restore`. They
 * live in `<state root>/.snapshots/<dataflow>/<id>/`: a compacted copy of the store (data.mdb,
 * and its large payloads as `segment-<name>` files) and `snapshot.json` saying what it holds,
 * with the data file's SHA-256. A snapshot is taken in a hidden staging folder and renamed into
 * place once whole, and is read-only from then on. A restore checks the checksum on a copy,
 * keeps the store it replaces as a snapshot named `before-restore-<time>`, so nothing is lost,
 * and holds the owner lock throughout, so no run starts halfway.
 *
 * Apart from admin.ts because snapshots are a file format and a crash-safety protocol of their
 * own (staging, fsync, rename, checksums); the other state commands only read or clear a store.
 *
 * @module
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
import { join } from 'node:path'
import { DoraError, registerErrorClass } from '../../src/errors.js'
import { StateCorruptError } from '../../src/store/state/errors.js'
import type { OperatorStats, StateStore } from '../../src/store/state/store.js'
import { DISK_SEGMENT_PREFIX } from '../../src/store/state/segments.js'
import { SNAPSHOTS_DIR } from './location.js'
import { storeReader } from './service.js'
import { lockForWriting, requireStore, sizeOf, storeExists, withStateReader, withStore, type StateTarget } from './store-access.js'

/** No snapshot of that id for the dataflow. */
export class SnapshotNotFoundError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_SNAPSHOT_NOT_FOUND', message, options)
  }
}
registerErrorClass(SnapshotNotFoundError)

/** Files of a snapshot besides LMDB's. */
const SNAPSHOT_INFO = 'snapshot.json'

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
  const lock = await lockForWriting(target, 'restore the state')
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
