/**
 * Checks of a state directory made before lmdb-js opens it.
 *
 * Why: lmdb-js 3.5.6 crashes the whole process instead of throwing when `mdb_env_open` fails
 * after the lock file is set up (its open-failure path deletes the environment's context
 * twice: SIGSEGV), and LMDB itself dies with SIGBUS when it touches a page past the end of a
 * truncated file. A damaged state file must never take the supervisor down, so we read the
 * two LMDB meta pages ourselves and refuse what LMDB would choke on with a clear error:
 * not an LMDB file, another LMDB data format, a file shorter than its meta page says. Only a
 * file that looks truncated is opened for real, in a throw-away child process ({@link
 * probeStore}, probe.ts), to tell a damaged file from one that just ends in free pages.
 *
 * Damage inside the B-tree pages (random bytes over a page, bit rot) makes LMDB itself crash
 * (SIGSEGV, SIGBUS, SIGABRT: it trusts its pages), so with `verify` the whole store is read
 * in the probe child before this process trusts it, unless the file is exactly as this
 * check or a clean close last left it (the stamp in {@link VERIFIED_FILE}: size, mtime and
 * inode of data.mdb). So the full read is paid once after an unclean end (a kill, a power
 * cut) or after anything else touched the file, not at every open. A damaged page is then a
 * clear DORA_STATE_CORRUPT (DORA_KVS_CORRUPT for the KVS) naming the directory.
 *
 * A 0-byte data.mdb (what a power cut or a failed copy can leave) is refused, never
 * initialised as a new empty store: that would wipe the state silently.
 *
 * @module
 */

import {
  accessSync,
  closeSync,
  constants as fsConstants,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs'
import { InsecurePathError } from '../../security/errors.js'
import { prepareStoreDir } from '../../security/private-path.js'
import { LMDB_LAYOUT_KNOWN } from './layout.js'
import { join } from 'node:path'
import { corruptHint, layoutHint, StateCorruptError, StateLayoutError, StateOpenError, stateErrorFrom } from '../state/errors.js'
import { errorMessage } from '../../errors.js'
import { probeStore } from './probe.js'
import { giveLockFileBlocks } from './lock-file.js'

/** LMDB's file magic (mdb.c MDB_MAGIC). */
const MDB_MAGIC = 0xbeefc0de
/**
 * The data format of the LMDB inside lmdb-js 3.x (mdb.c MDB_DATA_VERSION). Upstream LMDB 0.9
 * (Debian's lmdb-utils) writes and reads format 1 only, so its tools cannot open our files.
 */
export const LMDB_DATA_VERSION = 2
/** Page flag of a meta page (mdb.c P_META). */
const P_META = 0x08

// Offsets in a meta page on a 64-bit little-endian build (mdb.c MDB_page_header, MDB_meta).
const PAGE_FLAGS = 18 // uint16 mh_flags, after mh_p (8), mh_txnid (8), mh_pad (2)
const META = 24 // PAGEHDRSZ
const META_MAGIC = META + 0 // uint32 mm_magic
const META_VERSION = META + 4 // uint32 mm_version (low 16 bits)
const META_PAGE_SIZE = META + 24 // uint32 mm_dbs[FREE_DBI].md_pad, after mm_address (8), mm_mapsize (8)
const META_LAST_PAGE = META + 120 // pgno_t mm_last_pg, after mm_dbs[2] (2 x 48 bytes)
const META_TXNID = META + 128 // txnid_t mm_txnid
const META_END = META + 136

/** What {@link inspectDataFile} found. */
export type DataFileReport =
  | { kind: 'absent' }
  /** LMDB initializes an empty file as a new store. */
  | { kind: 'empty' }
  /** Not a platform whose meta page layout this module knows. */
  | { kind: 'unchecked' }
  | { kind: 'ok'; pageSize: number; txnId: bigint; lastPage: bigint; size: number }
  /** Shorter than the newest meta page says: damaged, or ending in never-written free pages. */
  | { kind: 'short'; pageSize: number; txnId: bigint; lastPage: bigint; size: number }

/** The stamp of the last full verification or clean close, in the store's directory. */
export const VERIFIED_FILE = 'verified.stamp'

/** Options of {@link preflight}. */
export interface PreflightOptions {
  /** Read the whole store in a child process first, unless the stamp says it is unchanged. */
  verify?: boolean
  /**
   * Create a missing lock.mdb as zeros (this mode, this many reader slots) before anything maps
   * it (lock-file.ts), so a full disk is an error and not a SIGBUS.
   */
  lockFile?: { mode: number; maxReaders: number }
}

/**
 * Make sure `dir` exists and is writable, and that its data.mdb (if any) is an LMDB file
 * lmdb-js can open without crashing. Throws a StateError naming `dir` otherwise.
 */
export function preflight(dir: string, options: PreflightOptions = {}): void {
  try {
    // Private: created 0700 and checked as ours on every open (issue 13, src/security).
    prepareStoreDir(dir)
  } catch (err) {
    if (err instanceof InsecurePathError) throw err
    throw stateErrorFrom(err, { dir, action: 'open' })
  }
  checkAccess(dir, 'the state directory', true)
  for (const file of ['data.mdb', 'lock.mdb']) {
    const stat = lstatOrUndefined(join(dir, file), dir)
    if (stat === undefined) continue
    if (!stat.isFile()) {
      throw new StateOpenError(`cannot open the state store in ${dir}: ${file} is not a regular file`, {
        dir,
        hint: `remove ${join(dir, file)} or choose another --state-dir`,
      })
    }
    checkAccess(join(dir, file), file, false, dir)
  }
  if (options.lockFile !== undefined) {
    try {
      // Before the probe, which maps it too: on a full disk, a SIGBUS there read as damage.
      giveLockFileBlocks(dir, options.lockFile)
    } catch (err) {
      throw stateErrorFrom(err, { dir, action: 'open' })
    }
  }
  const report = inspectDataFile(dir)
  if (report.kind === 'empty') {
    throw new StateCorruptError(
      `cannot open the state store in ${dir}: data.mdb is empty (0 bytes), as a power cut or a failed copy can leave it; it is refused rather than started again empty, which would lose the state without a word`,
      { dir, hint: corruptHint(dir) },
    )
  }
  if (report.kind === 'short') probeStore(dir, report)
  else if (options.verify === true && report.kind === 'ok' && readStamp(dir) !== fileStamp(dir)) {
    probeStore(dir, report)
    writeStamp(dir)
  }
}

/**
 * Record that data.mdb in `dir` is as a clean close (or a full verification) left it, so the
 * next {@link preflight} with `verify` skips the full read. Never throws: without a stamp the
 * next open verifies, which is only slower.
 */
export function markVerified(dir: string): void {
  try {
    writeStamp(dir)
  } catch {
    // Next open verifies.
  }
}

/** size, mtime and inode of data.mdb: what changes when anything writes to it. */
function fileStamp(dir: string): string | undefined {
  try {
    const stat = statSync(join(dir, 'data.mdb'), { bigint: true })
    return `${stat.size} ${stat.mtimeNs} ${stat.ino}`
  } catch {
    return undefined
  }
}

function readStamp(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, VERIFIED_FILE), 'utf8')
  } catch {
    return undefined
  }
}

function writeStamp(dir: string): void {
  const stamp = fileStamp(dir)
  const file = join(dir, VERIFIED_FILE)
  if (stamp === undefined) return rmSync(file, { force: true })
  // Whole or absent: written aside, then renamed.
  const temp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temp, stamp, { mode: 0o600 })
    renameSync(temp, file)
  } catch (err) {
    // A full disk creates the file and fails the write: leave nothing behind.
    rmSync(temp, { force: true })
    throw err
  }
}

/** Read and check the meta pages of `<dir>/data.mdb`. Throws CORRUPT or LAYOUT errors. */
export function inspectDataFile(dir: string): DataFileReport {
  const path = join(dir, 'data.mdb')
  const stat = lstatOrUndefined(path, dir)
  if (stat === undefined) return { kind: 'absent' }
  if (stat.size === 0) return { kind: 'empty' }
  // The offsets below are those of 64-bit little-endian builds (x64, arm64): elsewhere the
  // layout differs and the file is left to LMDB.
  if (!LMDB_LAYOUT_KNOWN) return { kind: 'unchecked' }
  const corrupt = (why: string): StateCorruptError =>
    new StateCorruptError(`cannot open the state store in ${dir}: data.mdb ${why}`, { dir, hint: corruptHint(dir) })

  const fd = openSync(path, 'r')
  try {
    const first = readAt(fd, 0, META_END)
    if (first.length < META_END) throw corrupt(`is ${stat.size} bytes long, too short to be an LMDB file`)
    const meta0 = readMeta(first, dir, corrupt, 'page 0')
    const pageSize = first.readUInt32LE(META_PAGE_SIZE)
    if (pageSize < 512 || pageSize > 0x100000 || (pageSize & (pageSize - 1)) !== 0) throw corrupt(`records an impossible page size (${pageSize})`)
    const second = readAt(fd, pageSize, META_END)
    if (second.length < META_END) throw corrupt(`is ${stat.size} bytes long, it ends inside its second meta page`)
    const meta1 = readMeta(second, dir, corrupt, 'page 1')
    // LMDB uses the meta page with the higher transaction id (mdb_pick_meta).
    const newest = meta1.txnId > meta0.txnId ? meta1 : meta0
    const needed = (newest.lastPage + 1n) * BigInt(pageSize)
    const kind = BigInt(stat.size) < needed ? 'short' : 'ok'
    return { kind, pageSize, txnId: newest.txnId, lastPage: newest.lastPage, size: stat.size }
  } finally {
    closeSync(fd)
  }
}

function readMeta(page: Buffer, dir: string, corrupt: (why: string) => StateCorruptError, where: string): { txnId: bigint; lastPage: bigint } {
  if (page.readUInt32LE(META_MAGIC) !== MDB_MAGIC) throw corrupt(`is not an LMDB file (no LMDB magic number in ${where})`)
  if ((page.readUInt16LE(PAGE_FLAGS) & P_META) === 0) throw corrupt(`is damaged: ${where} is not a meta page`)
  const version = page.readUInt32LE(META_VERSION) & 0xffff
  if (version !== LMDB_DATA_VERSION) {
    throw new StateLayoutError(
      `cannot open the state store in ${dir}: data.mdb uses LMDB data format ${version}, this dora-ts reads format ${LMDB_DATA_VERSION}`,
      { dir, hint: layoutHint(dir) },
    )
  }
  return { txnId: page.readBigUInt64LE(META_TXNID), lastPage: page.readBigUInt64LE(META_LAST_PAGE) }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return buffer.subarray(0, done)
}

function lstatOrUndefined(path: string, dir: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw stateErrorFrom(err, { dir, action: 'open' })
  }
}

function checkAccess(path: string, what: string, isDir: boolean, dir = path): void {
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.W_OK | (isDir ? fsConstants.X_OK : 0))
  } catch (err) {
    throw new StateOpenError(`cannot open the state store in ${dir}: ${what} is not readable and writable (${errorMessage(err)})`, {
      dir,
      cause: err,
      hint: `fix the permissions of ${path}, or choose another --state-dir`,
    })
  }
}
