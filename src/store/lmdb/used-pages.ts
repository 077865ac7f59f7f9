/**
 * How much of an LMDB environment is in use, as opposed to how long its file is.
 *
 * Why: a store's size limit is checked against the data file's high-water mark (its last used
 * page), which never goes down: LMDB keeps the pages that deletes free and reuses them. So a
 * store at its limit would stay "full" after its keys were deleted. Near the limit, the pages
 * in use decide instead (the KVS's limits.ts and the state store's SizeBudget in
 * ../state/commit.ts).
 *
 * @module
 */
import { LMDB_LAYOUT_KNOWN } from './layout.js'
import type { RootDatabase } from 'lmdb'

/** Offsets in an MDB_db record (the value of a named database in LMDB's main database) on 64-bit builds. */
const MDB_DB_RECORD_BYTES = 48
const MDB_DB_PAGE_COUNTS = [8, 16, 24] // md_branch_pages, md_leaf_pages, md_overflow_pages

/**
 * Bytes of the pages in use (every database's branch, leaf and overflow pages, the free list's
 * own, the two meta pages) in the newest snapshot. Undefined where the record layout is not
 * known (the caller then keeps to the high-water mark).
 */
export function usedBytes(env: RootDatabase<Buffer, Buffer>, pageSize: number): number | undefined {
  if (!LMDB_LAYOUT_KNOWN) return undefined
  type PageCounts = { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
  const stats = env.getStats() as PageCounts & { free: PageCounts }
  let pages = 2
  for (const s of [stats, stats.free]) pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages
  // A fresh snapshot: lmdb-js reuses one per thread until the next event-loop turn.
  env.resetReadTxn()
  const txn = env.useReadTransaction()
  try {
    for (const { value } of env.getRange({ transaction: txn })) {
      if (value.length !== MDB_DB_RECORD_BYTES) continue
      for (const offset of MDB_DB_PAGE_COUNTS) pages += Number(value.readBigUInt64LE(offset))
    }
  } finally {
    txn.done()
  }
  return pages * pageSize
}
