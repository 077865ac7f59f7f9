/**
 * A new store's lock.mdb, given its disk blocks before LMDB (or the probe, probe.ts) maps it.
 *
 * Why: LMDB creates a lock file by setting its length with ftruncate() (a sparse file) and then
 * writes its header and reader table through a shared memory map of it. On a full disk the
 * first such write cannot get a block, and the kernel answers with SIGBUS: the supervisor, a
 * custom node or the CLI killed by a signal while opening a store, instead of a clear error
 * (found by test/store/lmdb/disk-full.test.ts, for the state store on a completely full disk
 * and for the KVS on a disk with a few kilobytes left). Written here as zeros first, a full
 * disk is an ENOSPC of that write, turned into a DISK_FULL error by the caller; LMDB then finds
 * a file long enough for its table and only initialises it.
 *
 * The zeros go to a temporary file that is then hard-linked into place, so lock.mdb appears
 * whole or not at all: the KVS is opened by several processes at once, and another one's LMDB
 * must never initialise a lock.mdb that our zeros are still being written over.
 *
 * @module
 */
import { existsSync, linkSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { isAlive } from '../../transport/run-dir.js'

/**
 * The length LMDB gives the lock file of an environment with `maxReaders` reader slots, rounded
 * up to whole pages: a 208-byte header and 64 bytes per slot on 64-bit Linux (measured: 32 976
 * bytes for 512 slots, 65 744 for 1024). A longer file is used as it is (LMDB then counts more
 * slots in it); a shorter one LMDB would extend sparsely again.
 */
export function lockFileBytes(maxReaders: number): number {
  const page = 4096
  return Math.ceil((256 + 64 * maxReaders) / page) * page
}

const TEMP_FILE = /^lock\.mdb\.(\d+)\.[0-9a-f]+\.tmp$/

/**
 * Create `<dir>/lock.mdb` as zeros (mode `mode`, long enough for `maxReaders`) unless it exists.
 * Throws the file system's error (ENOSPC, EDQUOT, ...) and leaves no file behind.
 */
export function giveLockFileBlocks(dir: string, options: { mode: number; maxReaders: number }): void {
  const path = join(dir, 'lock.mdb')
  if (existsSync(path)) return
  const temp = join(dir, `lock.mdb.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  removeDeadProcessesTempFiles(dir)
  try {
    writeFileSync(temp, new Uint8Array(lockFileBytes(options.maxReaders)), { flag: 'wx', mode: options.mode })
    linkSync(temp, path)
  } catch (err) {
    // Another process created it between our check and our link: theirs stands.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    rmSync(temp, { force: true })
  }
}

/** A process killed between writing its temporary file and removing it left it: remove it. */
function removeDeadProcessesTempFiles(dir: string): void {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const pid = Number(TEMP_FILE.exec(name)?.[1])
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) rmSync(join(dir, name), { force: true })
  }
}
