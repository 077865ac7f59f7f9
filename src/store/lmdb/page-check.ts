/**
 * A structural check of an LMDB data file's B-trees, page by page: damage that reading every
 * record does not meet but the first write does.
 *
 * Why: the probe (probe.ts) reads every record of every database in a child process, so a
 * page that makes LMDB crash on reading does it there. A page can read well and still be
 * damaged where only a write looks: its free-space bounds (`mp_upper` below `mp_lower` made
 * the next `mdb_node_add` on it abort the process with an assertion, found by the torture run
 * with seed 20261216), or the free list, which no read touches and every write that allocates
 * a page does. This walks the trees LMDB would walk from the newest meta page (the free list,
 * the main database and each named database) and checks each branch and leaf page's header
 * and node offsets, each branch's child and each overflow value's first page, and each free
 * list entry's page numbers, against the layout of the LMDB inside lmdb-js 3 (mdb.c: a 24-byte
 * page header, node offsets relative to the end of it).
 *
 * {@link findPageDamage} refers to nothing outside its own body, so the probe can run its
 * source (`String(findPageDamage)`) in its child process, where the store is held open in a
 * read transaction: a writer in another process (the KVS is shared) cannot reuse a page of
 * that snapshot or any newer one while it walks. It reads the file through `read`; a problem
 * is reported only if a second walk from freshly read meta pages finds it again, so a meta page
 * read while a writer was writing it is not taken for damage.
 *
 * @module
 */

/** Reads `length` bytes at `position` of the data file into a new buffer (fewer at its end). */
export type ReadAt = (position: number, length: number) => Uint8Array

/**
 * The first structural problem of the data file that `read` reads, as a sentence naming the
 * page, or undefined when its trees hold together. Assumes a 64-bit little-endian build (the
 * caller checks layout.ts's LMDB_LAYOUT_KNOWN).
 */
export function findPageDamage(read: ReadAt): string | undefined {
  const HEADER = 24 // PAGEHDRSZ: mh_p (8), mh_txnid (8), mh_pad (2), mh_flags (2), lower (2), upper (2)
  const NODE = 8 // NODESIZE: mn_lo, mn_hi, mn_flags, mn_ksize (uint16 each)
  const P_BRANCH = 0x01
  const P_LEAF = 0x02
  const P_OVERFLOW = 0x04
  const P_LEAF2 = 0x20
  const F_BIGDATA = 0x01
  const F_SUBDATA = 0x02
  const F_DUPDATA = 0x04
  const DB_RECORD = 48 // MDB_db
  const NO_PAGE = 0xffffffffffffffffn // P_INVALID: an empty tree
  const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

  function walkOnce(): string | undefined {
    // Meta pages 0 and 1; the page size is in page 0 (mm_dbs[FREE_DBI].md_pad).
    const first = read(0, 256)
    if (first.byteLength < 256) return 'the file ends inside its first meta page'
    const pageSize = view(first).getUint32(48, true)
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `meta page 0 gives a page size of ${pageSize}`
    let meta: DataView | undefined
    for (const m of [0, 1]) {
      const page = read(m * pageSize, 256)
      if (page.byteLength < 256) continue
      const v = view(page)
      if (v.getUint32(24, true) !== 0xbeefc0de) continue
      if (meta === undefined || v.getBigUint64(152, true) > meta.getBigUint64(152, true)) meta = v
    }
    if (meta === undefined) return 'neither meta page holds the LMDB magic number'
    const lastPage = meta.getBigUint64(144, true)
    const visited = new Set<bigint>()

    /** The page `pgno` of a tree, whole, or the problem with it. */
    function treePage(pgno: bigint, what: string): DataView | string {
      if (pgno < 2n || pgno > lastPage) return `${what} points to page ${pgno}, outside the file's pages 2-${lastPage}`
      if (visited.has(pgno)) return `${what} points to page ${pgno}, which another tree node already uses`
      visited.add(pgno)
      const page = read(Number(pgno) * pageSize, pageSize)
      if (page.byteLength < pageSize) return `${what} points to page ${pgno}, past the end of the file`
      const v = view(page)
      if (v.getBigUint64(0, true) !== pgno) return `page ${pgno} (${what}) records page number ${v.getBigUint64(0, true)}`
      return v
    }

    /** Walk the tree of the MDB_db record at `offset` of `record`; `free`: the free list. */
    function walkTree(record: DataView, offset: number, name: string, free: boolean): string | undefined {
      const root = record.getBigUint64(offset + 40, true)
      if (root === NO_PAGE) return undefined
      const depth = record.getUint16(offset + 6, true)
      if (depth < 1 || depth > 64) return `${name} records a tree depth of ${depth}`
      const walk = (pgno: bigint, level: number, what: string): string | undefined => {
        const page = treePage(pgno, what)
        if (typeof page === 'string') return page
        const flags = page.getUint16(18, true)
        const leaf = level === depth
        const kind = leaf ? P_LEAF : P_BRANCH
        if ((flags & (P_BRANCH | P_LEAF | P_OVERFLOW)) !== kind)
          return `page ${pgno} of ${name} should be a ${leaf ? 'leaf' : 'branch'} page (level ${level} of ${depth}) but has flags 0x${flags.toString(16)}`
        if ((flags & P_LEAF2) !== 0) return undefined // fixed-size duplicates: not used by dora-ts, not checked
        const lower = page.getUint16(20, true)
        const upper = page.getUint16(22, true)
        if (lower % 2 !== 0 || lower > upper || upper > pageSize - HEADER) {
          return `page ${pgno} of ${name} has free-space bounds ${lower}-${upper} (page size ${pageSize}); the next write there would crash LMDB`
        }
        const count = lower / 2
        if (count === 0 && !leaf) return `branch page ${pgno} of ${name} holds no entries`
        for (let i = 0; i < count; i++) {
          const ptr = page.getUint16(HEADER + 2 * i, true)
          const at = HEADER + ptr
          if (ptr < upper || at + NODE > pageSize)
            return `entry ${i} of page ${pgno} of ${name} is at offset ${ptr}, outside the page's entries (${upper}-${pageSize - HEADER})`
          const lo = page.getUint16(at, true)
          const hi = page.getUint16(at + 2, true)
          const nodeFlags = page.getUint16(at + 4, true)
          const keySize = page.getUint16(at + 6, true)
          if (at + NODE + keySize > pageSize) return `entry ${i} of page ${pgno} of ${name} has a key of ${keySize} bytes, past the page's end`
          if (!leaf) {
            const child = BigInt(lo) | (BigInt(hi) << 16n) | (BigInt(nodeFlags) << 32n)
            const problem = walk(child, level + 1, `entry ${i} of branch page ${pgno} of ${name}`)
            if (problem !== undefined) return problem
            continue
          }
          const dataSize = lo | (hi << 16)
          const dataAt = at + NODE + keySize
          let data: Uint8Array | undefined
          if ((nodeFlags & F_BIGDATA) !== 0) {
            if (dataAt + 8 > pageSize) return `entry ${i} of page ${pgno} of ${name} has its overflow page number past the page's end`
            const first = page.getBigUint64(dataAt, true)
            const pages = Math.ceil((HEADER + dataSize) / pageSize)
            if (first < 2n || first + BigInt(pages) - 1n > lastPage)
              return `entry ${i} of page ${pgno} of ${name} has its value on pages ${first}-${first + BigInt(pages) - 1n}, outside the file's pages 2-${lastPage}`
            const over = read(Number(first) * pageSize, HEADER + (free ? dataSize : 0))
            if (over.byteLength < HEADER + (free ? dataSize : 0)) return `the value of entry ${i} of page ${pgno} of ${name} runs past the end of the file`
            const ov = view(over)
            if (ov.getBigUint64(0, true) !== first || (ov.getUint16(18, true) & P_OVERFLOW) === 0 || ov.getUint32(20, true) < pages) {
              return `overflow page ${first} (the value of entry ${i} of page ${pgno} of ${name}) is not the overflow page its entry describes`
            }
            if (free) data = over.subarray(HEADER, HEADER + dataSize)
          } else {
            if (dataAt + dataSize > pageSize) return `entry ${i} of page ${pgno} of ${name} has a value of ${dataSize} bytes, past the page's end`
            if ((nodeFlags & F_DUPDATA) !== 0) continue // duplicates: not used by dora-ts, not checked
            if ((nodeFlags & F_SUBDATA) !== 0) {
              if (free || dataSize !== DB_RECORD) return `entry ${i} of page ${pgno} of ${name} is marked as a database but holds ${dataSize} bytes`
              const key = new TextDecoder().decode(new Uint8Array(page.buffer, page.byteOffset + at + NODE, keySize)).replace(/\0$/, '')
              const problem = walkTree(page, dataAt, `database "${key}"`, false)
              if (problem !== undefined) return problem
              continue
            }
            if (free) data = new Uint8Array(page.buffer, page.byteOffset + dataAt, dataSize)
          }
          if (data !== undefined) {
            // A free-list entry (lmdb-js's LMDB): a count, then that many numbers: a page
            // number, 0 (unused), or a block's length negated followed by its first page.
            const d = view(data)
            const n = data.byteLength >= 8 ? d.getBigUint64(0, true) : -1n
            if (n < 0n || data.byteLength % 8 !== 0 || BigInt(data.byteLength) < (n + 1n) * 8n)
              return `free-list entry ${i} of page ${pgno} holds ${data.byteLength} bytes, not a list of ${n} page numbers`
            for (let j = 1; j <= Number(n); j++) {
              const entry = d.getBigInt64(j * 8, true)
              if (entry === 0n) continue
              const length = entry < 0n ? -entry : 1n
              const start = entry < 0n ? (j < Number(n) ? d.getBigInt64(++j * 8, true) : -1n) : entry
              if (start < 2n || start + length - 1n > BigInt(lastPage))
                return `free-list entry ${i} of page ${pgno} lists pages ${start}-${start + length - 1n}, outside the file's pages 2-${lastPage}`
            }
          }
        }
        return undefined
      }
      return walk(root, 1, name)
    }

    return walkTree(meta, 48, 'the free list', true) ?? walkTree(meta, 96, 'the main database', false)
  }

  const problem = walkOnce()
  return problem === undefined ? undefined : walkOnce() === problem ? problem : undefined
}
