/**
 * What kind of failure an error thrown by lmdb-js or `node:fs` is, so that the state store
 * (errors.ts) and the KVS (kvs-errors.ts) each turn it into their own error class and message
 * from one classification. lmdb-js throws plain `Error`s whose numeric `code` is the LMDB
 * return code (negative, -30799..-30780) or an errno (positive); `node:fs` throws string codes.
 *
 * @module
 */
import { statfsSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { OpenLockTimeoutError } from './open-lock.js'
import { SealMismatchError } from './checksum.js'
import { errorMessage } from '../../errors.js'

/** LMDB return codes (lmdb.h) told apart. */
export const MDB = {
  PAGE_NOTFOUND: -30797,
  CORRUPTED: -30796,
  PANIC: -30795,
  VERSION_MISMATCH: -30794,
  INVALID: -30793,
  MAP_FULL: -30792,
  DBS_FULL: -30791,
  READERS_FULL: -30790,
  TXN_FULL: -30788,
  INCOMPATIBLE: -30784,
  BAD_VALSIZE: -30781,
} as const

export type LmdbFailure =
  /** The map (the store's size limit) is full. */
  | 'map-full'
  /** The file system is full (or over quota). */
  | 'disk-full'
  /** The data file is damaged or not LMDB's. */
  | 'corrupt'
  /** Written by an incompatible LMDB version. */
  | 'incompatible'
  /** One transaction wrote more than LMDB can hold. */
  | 'txn-full'
  /** A key of a size LMDB does not take (empty, over 511 bytes). */
  | 'bad-key'
  /** Too many named databases. */
  | 'dbs-full'
  /** Too many concurrent readers. */
  | 'readers-full'
  /** LMDB's fatal state: it refuses further writes. */
  | 'panic'
  /** The cross-process open lock (env-open-lock.ts) was held too long. */
  | 'open-lock'
  /** Anything else. */
  | 'other'

const ERRNO = osConstants.errno

/**
 * Below this much free space, an I/O error of a store in a file system counts as "the file
 * system is full": the failed write itself used up what was left (its partial pages stay).
 */
export const LOW_DISK_BYTES = 4 * 1024 * 1024

/**
 * The kind of `err`, for the caller's own message and hint. `dir`, the store's directory,
 * tells a full file system from a real I/O error: LMDB reports ENOSPC as EIO ("Input/output
 * error") because it sees it as a short pwrite() (mdb.c mdb_page_flush: "wres != wsize ->
 * EIO"), so an EIO in a file system with almost no free space left is 'disk-full'.
 */
export function classifyLmdbError(err: unknown, dir?: string): LmdbFailure {
  if (err instanceof OpenLockTimeoutError) return 'open-lock'
  if (err instanceof SealMismatchError) return 'corrupt'
  const code = errorCode(err)
  const detail = errorMessage(err)
  if (code === MDB.MAP_FULL) return 'map-full'
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk-full'
  if ((code === 'EIO' || /input\/output error/i.test(detail)) && dir !== undefined && freeBytes(dir) < LOW_DISK_BYTES) return 'disk-full'
  if (code === MDB.INVALID || code === MDB.CORRUPTED || code === MDB.PAGE_NOTFOUND) return 'corrupt'
  if (code === MDB.VERSION_MISMATCH || code === MDB.INCOMPATIBLE) return 'incompatible'
  if (code === MDB.TXN_FULL) return 'txn-full'
  if (code === MDB.BAD_VALSIZE || /key size|zero length key|key was too large/i.test(detail)) return 'bad-key'
  if (code === MDB.DBS_FULL) return 'dbs-full'
  if (code === MDB.READERS_FULL) return 'readers-full'
  if (code === MDB.PANIC) return 'panic'
  return 'other'
}

/** Free bytes for unprivileged users in the file system of `dir` (Infinity when unknown). */
function freeBytes(dir: string): number {
  try {
    const stats = statfsSync(dir)
    return stats.bavail * stats.bsize
  } catch {
    return Infinity
  }
}

/** lmdb-js errors carry a numeric code; errno numbers are turned into their names. */
function errorCode(err: unknown): string | number | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  const code = (err as { code: unknown }).code
  if (typeof code === 'string') return code
  if (typeof code !== 'number') return undefined
  if (code > 0) {
    for (const [name, value] of Object.entries(ERRNO)) if (value === code) return name
  }
  return code
}
