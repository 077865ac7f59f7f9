/**
 * Who owns each store's shared-memory folder (`<shm root>/store-<hash>`, see segments.ts), so
 * that the folder of a state store that no longer exists can be removed. The folder is named by
 * a hash of the store's real path and lives on tmpfs, which outlives every process: before this,
 * nothing ever removed the folder of a deleted store (a test's temporary store, a dataflow's
 * state directory the user deleted), and a robot that is not rebooted kept its link logs and
 * segments in RAM for good.
 *
 * Each store records, when it opens, `store-<hash>.owner` beside its folder: its real path and
 * the device that path is on. {@link sweepOrphanSegmentDirs} (at the start of every run) removes
 * a folder and its owner file when the store's path is gone **and** the nearest ancestor that
 * still exists is on that same device: the store was deleted. When the ancestor is on another
 * device, the store's file system is probably not mounted (a USB drive, a network share): its
 * committed entries may still reference these segments, so the folder stays (the owner file of
 * a store that is gone and has no folder is removed, whatever its device). A folder without
 * an owner file (from a version before this, or whose store never opened since) is never
 * touched.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { nearestExisting } from '../../dir-failure.js'
import { ensurePrivateDir } from '../../security/private-path.js'
import { shmRoot } from '../../transport/shm-dir.js'
import { unlinkQuietly } from '../../unlink-quietly.js'
import { segmentDirFor } from './segments.js'

const OWNER_SUFFIX = '.owner'
/** Only these names are ever removed: a bad owner file cannot point the sweep elsewhere. */
const STORE_FOLDER = /^store-[0-9a-f]{24}$/

interface Owner {
  /** The store's real path. */
  store: string
  /** `st_dev` of that path when the store was opened. */
  dev: number
}

/**
 * Record that `segmentDir` belongs to the store at `realDir` (called when the store opens).
 * Best effort: a store whose owner file cannot be written works as before, its folder is only
 * never swept.
 */
export function recordSegmentOwner(segmentDir: string, realDir: string): void {
  if (!STORE_FOLDER.test(basename(segmentDir)) || segmentDirFor(realDir) !== segmentDir) return
  const file = `${segmentDir}${OWNER_SUFFIX}`
  try {
    const text = `${JSON.stringify({ store: realDir, dev: statSync(realDir).dev } satisfies Owner)}\n`
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return
    ensurePrivateDir(dirname(segmentDir), { what: 'shared-memory directory' })
    writeFileSync(file, text, { mode: 0o600 })
  } catch {
    // Not recorded: the folder stays until the machine restarts, as before.
  }
}

/**
 * Remove the shm folders (segments, link logs) of state stores that were deleted (see the
 * module's comment for how "deleted" is told from "not mounted"); returns those stores' paths.
 * Never throws. Silent, as the sweep of dead runs' folders is.
 */
export function sweepOrphanSegmentDirs(root: string | undefined = shmRoot()): string[] {
  const swept: string[] = []
  if (root === undefined) return swept
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return swept
  }
  for (const name of names) {
    if (!name.endsWith(OWNER_SUFFIX)) continue
    const folder = name.slice(0, -OWNER_SUFFIX.length)
    if (!STORE_FOLDER.test(folder)) continue
    const ownerFile = join(root, name)
    const owner = readOwner(ownerFile)
    // Unreadable, or not this folder's store (the hash must match): left alone.
    if (owner === undefined || segmentDirFor(owner.store) !== join(root, folder)) continue
    if (existsSync(owner.store)) continue
    // A store that is gone and never had a folder here (most never write a segment or a link
    // log) protects nothing with its owner file, whatever its device: without this, the owner
    // files of stores on file systems since unmounted (a test's small tmpfs, a USB drive)
    // piled up, and every run's sweep read them all (736 files, 74 ms of each run's start, on a
    // machine that had run the suite for days).
    if (!existsSync(join(root, folder))) {
      unlinkQuietly(ownerFile) // gone already (another run's sweep): the same result
      continue
    }
    if (!wasDeleted(owner)) continue
    try {
      rmSync(join(root, folder), { recursive: true, force: true })
      unlinkSync(ownerFile)
    } catch {
      continue // tried again at the next run's start
    }
    swept.push(owner.store)
  }
  return swept
}

function readOwner(file: string): Owner | undefined {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Partial<Owner>
    if (typeof json.store !== 'string' || !json.store.startsWith('/') || typeof json.dev !== 'number') return undefined
    return { store: json.store, dev: json.dev }
  } catch {
    return undefined
  }
}

/** The store's path (known to be gone) has a nearest existing ancestor on the store's device. */
function wasDeleted(owner: Owner): boolean {
  return nearestExisting(dirname(owner.store))?.stats.dev === owner.dev
}
