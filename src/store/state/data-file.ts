/**
 * The state store's data file under a writable memory map (LMDB's MDB_WRITEMAP): commits write
 * their pages straight into the map instead of copying each dirty page into a pwrite() at
 * commit, which made a commit ~3x cheaper on the supervisor's routing thread (13-20 us to
 * 4-6 us for one event's writes on the 2-core VM, see README "Where we stand").
 *
 * The price, and what this module does about it:
 * - With a writable map LMDB sets data.mdb's length to the whole map size at open (1 GiB by
 *   default), a sparse file. A page of it that has no disk block yet gets one when LMDB first
 *   writes it through the map, and on a full file system that fault is a SIGBUS: the
 *   supervisor killed by a signal instead of DORA_STATE_DISK_FULL. So blocks are given to the
 *   file ahead of use ({@link DataFileBlocks}): zeros written with pwrite() past the last page
 *   LMDB uses, up to what the next commits can need plus a slack, before those commits run. A
 *   full disk is then an ENOSPC of that write, a clear error, with the commit not yet made.
 * - Zeros are only ever written past the last page of the newest committed meta page, measured
 *   with no write transaction open: no reader or writer uses a page there (LMDB's next page
 *   only grows; freed pages below it are reused, and were written when first used).
 * - A clean close trims the file back to its last used page ({@link trimDataFile}), so a store
 *   at rest is as long as its data, and copies, backups and checks see no 1 GiB file.
 * - On file systems that copy on write (btrfs, zfs, ...) every write through the map may need a
 *   new block, so blocks given ahead do not help: the map is writable only on file systems
 *   known to overwrite in place ({@link writemapSupported}); elsewhere LMDB writes with pwrite()
 *   as before. Both write the same file format.
 *
 * @module
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * statfs(2) f_type of the file systems that overwrite a file's allocated blocks in place (so a
 * block given ahead is the block a write through the map lands in): ext2/3/4, xfs, tmpfs, and
 * overlayfs (whose writable layer is such a file system in practice: Docker's overlay2).
 */
const IN_PLACE_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x01021994, 0x794c7630])

/** How far past what the next commits need the file gets blocks: LMDB's own bookkeeping pages
 *  (free list, branch splits) are not in the commits' estimates, and one write of this many
 *  zeros is cheaper than many small ones. */
export const BLOCK_SLACK_BYTES = 1024 * 1024

/** Zeros written per pwrite(). */
const ZERO_CHUNK_BYTES = 256 * 1024
let zeros: Uint8Array | undefined

/** Whether the state store in `dir` gets a writable map: only on the file systems above. */
export function writemapSupported(dir: string): boolean {
  try {
    return IN_PLACE_FILE_SYSTEMS.has(Number(statfsSync(dir).type))
  } catch {
    return false
  }
}

/**
 * The blocks of data.mdb known to exist (see the module comment). Owns a file descriptor of
 * data.mdb: {@link close} it with the store.
 */
export class DataFileBlocks {
  readonly #fd: number
  readonly #limit: number
  /** Bytes from the start of the file known to have blocks. */
  #allocatedTo: number

  /** `usedBytes`: the file up to its last used page, which has blocks; `limit`: the map size. */
  constructor(dir: string, usedBytes: number, limit: number) {
    this.#fd = openSync(join(dir, 'data.mdb'), 'r+')
    this.#limit = limit
    this.#allocatedTo = usedBytes
  }

  /** Bytes from the start of the file known to have blocks. */
  get allocatedTo(): number {
    return this.#allocatedTo
  }

  /**
   * Make sure the file has blocks up to `neededBytes` (and, if the disk allows, the slack past
   * it), writing zeros from `usedBytes` on, the end of the last page LMDB uses, measured now with
   * no write transaction open. Throws the file system's error (ENOSPC, EDQUOT, ...) when even
   * `neededBytes` cannot be had; blocks written before the failure are kept.
   */
  ensure(usedBytes: number, neededBytes: number): void {
    const needed = Math.min(neededBytes, this.#limit)
    if (needed <= this.#allocatedTo) return
    const target = Math.min(this.#limit, needed + BLOCK_SLACK_BYTES)
    // Never below the last used page: those bytes are LMDB's (and have blocks already).
    let at = Math.max(this.#allocatedTo, usedBytes)
    zeros ??= new Uint8Array(ZERO_CHUNK_BYTES)
    try {
      while (at < target) {
        const length = Math.min(ZERO_CHUNK_BYTES, target - at)
        at += writeSync(this.#fd, zeros, 0, length, at)
      }
    } catch (err) {
      this.#allocatedTo = Math.max(this.#allocatedTo, at)
      // Short of the slack but with what the commits need: go on, the next call tries again.
      if (at >= needed) return
      throw err
    }
    this.#allocatedTo = at
  }

  close(): void {
    closeSync(this.#fd)
  }
}

/**
 * lock.mdb's length with the reader table the state store asks for (MAX_READERS 512): LMDB
 * maps it and writes its header through the map, so it too gets its blocks first.
 */
const LOCK_FILE_BYTES = 64 * 1024

/**
 * Give a store's lock.mdb its blocks before LMDB creates it: LMDB sets a new lock file's length
 * with ftruncate() and writes through a map of it, which on a full disk is a SIGBUS (whether
 * the data file's map is writable or not). Written as zeros here, a full disk is an ENOSPC
 * error instead (thrown), and LMDB finds a file long enough that it only initialises.
 */
export function giveLockFileBlocks(dir: string, mode: number): void {
  const path = join(dir, 'lock.mdb')
  if (existsSync(path)) return
  try {
    writeFileSync(path, new Uint8Array(LOCK_FILE_BYTES), { flag: 'wx', mode })
  } catch (err) {
    // Created meanwhile by another process (not while we hold the owner lock, owner-lock.ts): theirs stands.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return
    // Ours, and short: LMDB would take it for a lock file. Leave none.
    rmSync(path, { force: true })
    throw err
  }
}

/**
 * Cut data.mdb in `dir` back to `usedBytes` (the end of its last used page) once its
 * environment is closed, so a store at rest holds no sparse tail. Best effort: a failure leaves
 * a longer file that LMDB opens as before.
 */
export function trimDataFile(dir: string, usedBytes: number): void {
  let fd: number | undefined
  try {
    fd = openSync(join(dir, 'data.mdb'), 'r+')
    if (fstatSync(fd).size > usedBytes) ftruncateSync(fd, usedBytes)
  } catch {
    // Left as it is: only longer than it needs to be.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
