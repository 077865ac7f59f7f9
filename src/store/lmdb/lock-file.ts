/**
 * A new store's lock.mdb, given its disk blocks before LMDB (or the probe, probe.ts) maps it.
 *
 * Why: LMDB creates a lock file by setting its length with ftruncate() (a sparse file) and then
 * writes its header and reader table through a shared memory map of it. On a completely full
 * disk the first such write cannot get a block, and the kernel answers with SIGBUS: the
 * supervisor or the CLI killed by a signal while creating a store, instead of a clear error
 * (found by test/store/lmdb/disk-full.test.ts). Written here as zeros first, a full disk is an
 * ENOSPC of that write, turned into DORA_STATE_DISK_FULL by the caller; LMDB then finds a file
 * long enough for its table and only initialises it.
 *
 * Only for a store one process opens at a time (the state store, under its owner lock): with
 * several (the KVS), another process's LMDB could initialise the file while the zeros are
 * still being written over it.
 *
 * @module
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * At least LMDB's lock file for the state store's MAX_READERS (512): 32 976 bytes on 64-bit
 * Linux (the probe asks for fewer). LMDB uses a longer file as it is.
 */
const LOCK_FILE_BYTES = 64 * 1024

/**
 * Write `<dir>/lock.mdb` as zeros (mode `mode`) unless it exists. Throws the file system's error
 * (ENOSPC, EDQUOT, ...) and leaves no partial file. Called under the store's owner lock
 * (src/store/state/owner-lock.ts), so no other process creates the file meanwhile.
 */
export function giveLockFileBlocks(dir: string, mode: number): void {
  const path = join(dir, 'lock.mdb')
  if (existsSync(path)) return
  try {
    writeFileSync(path, new Uint8Array(LOCK_FILE_BYTES), { flag: 'wx', mode })
  } catch (err) {
    // Created meanwhile after all (a process that ignores the owner lock): theirs stands.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return
    // Ours, and short: LMDB would take it for its lock file. Leave none.
    rmSync(path, { force: true })
    throw err
  }
}
