import t from 'tap'
import { closeSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { inspectDataFile, LMDB_DATA_VERSION, preflight } from '../../../src/store/lmdb/preflight.js'
import { StateStore } from '../../../src/store/state/store.js'

/** A closed store with enough data that its file is many pages long. */
function makeStore(dir: string, entries = 400): void {
  const store = StateStore.open({ dir, durability: 'process' })
  const op = store.operator('n/o')
  const writes = Array.from({ length: entries }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(500).fill(i & 0xff) }))
  op.commit(writes, { lastEvent: 1n, seen: new Map() })
  store.close()
}

t.test('a missing data file is a new store; an empty one is refused (issue 12: it was silently a new, empty store)', async (t) => {
  const dir = t.testdir()
  t.same(inspectDataFile(dir), { kind: 'absent' })
  preflight(dir)
  writeFileSync(join(dir, 'data.mdb'), '')
  t.same(inspectDataFile(dir), { kind: 'empty' })
  t.throws(() => preflight(dir), { code: 'DORA_STATE_CORRUPT', message: /data\.mdb is empty \(0 bytes\)/ })
})

t.test('a healthy store reads as ok, with its page size and newest transaction', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  const report = inspectDataFile(dir)
  t.equal(report.kind, 'ok')
  if (report.kind !== 'ok') return
  t.equal(report.pageSize, 4096)
  t.ok(report.txnId > 0n)
  t.equal(BigInt(report.size) >= (report.lastPage + 1n) * 4096n, true)
  preflight(dir)
})

t.test('preflight creates the directory', async (t) => {
  const dir = join(t.testdir(), 'a', 'b.v2')
  preflight(dir)
  t.ok(statSync(dir).isDirectory())
})

t.test('garbage instead of data.mdb is DORA_STATE_CORRUPT, naming the directory', async (t) => {
  const dir = t.testdir({ 'data.mdb': Buffer.alloc(100_000, 0x41) })
  t.throws(() => preflight(dir), {
    code: 'DORA_STATE_CORRUPT',
    message: `cannot open the state store in ${dir}: data.mdb is not an LMDB file (no LMDB magic number in page 0)`,
  })
})

t.test('a data.mdb too short to hold its meta pages is DORA_STATE_CORRUPT', async (t) => {
  const root = t.testdir({ tiny: { 'data.mdb': 'hello' } })
  t.throws(() => preflight(join(root, 'tiny')), { code: 'DORA_STATE_CORRUPT', message: /is 5 bytes long/ })
  const dir = join(root, 'cut')
  makeStore(dir)
  truncateSync(join(dir, 'data.mdb'), 4096 + 100)
  t.throws(() => preflight(dir), { code: 'DORA_STATE_CORRUPT', message: /ends inside its second meta page/ })
})

t.test('a damaged second meta page is DORA_STATE_CORRUPT', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  const fd = openSync(join(dir, 'data.mdb'), 'r+')
  writeSync(fd, Buffer.alloc(64, 0x55), 0, 64, 4096)
  closeSync(fd)
  t.throws(() => preflight(dir), { code: 'DORA_STATE_CORRUPT', message: /no LMDB magic number in page 1/ })
})

t.test('another LMDB data format is DORA_STATE_LAYOUT, not corruption', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  // Rewrite mm_version of both meta pages to format 1 (upstream LMDB 0.9's).
  const fd = openSync(join(dir, 'data.mdb'), 'r+')
  const one = Buffer.alloc(4)
  one.writeUInt32LE(1)
  writeSync(fd, one, 0, 4, 28)
  writeSync(fd, one, 0, 4, 4096 + 28)
  closeSync(fd)
  t.throws(() => preflight(dir), {
    code: 'DORA_STATE_LAYOUT',
    message: `cannot open the state store in ${dir}: data.mdb uses LMDB data format 1, this dora-ts reads format ${LMDB_DATA_VERSION}`,
  })
})

t.test('a truncated data.mdb is caught by the probe process instead of crashing this one', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  const size = statSync(join(dir, 'data.mdb')).size
  truncateSync(join(dir, 'data.mdb'), 3 * 4096)
  const report = inspectDataFile(dir)
  t.equal(report.kind, 'short')
  t.throws(() => preflight(dir), {
    code: 'DORA_STATE_CORRUPT',
    message:
      /^cannot open the state store in .*: data\.mdb is 12288 bytes but its newest meta page ends the data at \d+; reading it all in a probe process failed \(LMDB crashed with SIG(BUS|SEGV)\)/,
  })
  t.ok(size > 3 * 4096, 'the file really was cut')
})

t.test('a file that only looks short but reads fine passes the probe', async (t) => {
  const dir = t.testdir()
  makeStore(dir, 10)
  // Claim a last page one past the end in the newest meta page: LMDB never reads that page.
  const report = inspectDataFile(dir)
  if (report.kind !== 'ok') throw new Error('expected a healthy store')
  const bytes = readFileSync(join(dir, 'data.mdb'))
  const newest = bytes.readBigUInt64LE(152) === report.txnId ? 0 : 4096
  const fd = openSync(join(dir, 'data.mdb'), 'r+')
  const last = Buffer.alloc(8)
  last.writeBigUInt64LE(report.lastPage + 1n)
  writeSync(fd, last, 0, 8, newest + 144)
  closeSync(fd)
  t.equal(inspectDataFile(dir).kind, 'short')
  preflight(dir)
  const store = StateStore.open({ dir, durability: 'process' })
  t.equal(store.operator('n/o').load().state.size, 10)
  store.close()
})

t.test('a directory that is a file is DORA_STATE_OPEN', async (t) => {
  const file = join(t.testdir({ f: 'x' }), 'f')
  t.throws(() => preflight(join(file, 'state')), { code: 'DORA_STATE_OPEN', message: new RegExp(`cannot open the state store in ${file}/state`) })
})

t.test('data.mdb that is a directory is DORA_STATE_OPEN', async (t) => {
  const dir = t.testdir({ 'data.mdb': {} })
  t.throws(() => preflight(dir), { code: 'DORA_STATE_OPEN', message: /data\.mdb is not a regular file/ })
})

t.test('regression (issue 12): a probe failure reports the error message, not the source line that threw it', async (t) => {
  const dir = t.testdir()
  makeStore(dir, 3)
  // Make every copy of the database record of "n/o" claim 4 entries instead of 3: the probe's
  // own consistency check throws. The record is the node's value right after its name (with
  // lmdb-js's NUL): an MDB_db, md_entries at byte 32 (after pad, flags, depth, branch, leaf and
  // overflow page counts).
  const name = Buffer.from('op/n/o\0')
  const bytes = readFileSync(join(dir, 'data.mdb'))
  const fd = openSync(join(dir, 'data.mdb'), 'r+')
  let patched = 0
  for (let at = bytes.indexOf(name); at >= 0; at = bytes.indexOf(name, at + 1)) {
    const entries = at + name.length + 32
    if (entries + 8 > bytes.length || bytes.readBigUInt64LE(entries) !== 3n) continue
    const four = Buffer.alloc(8)
    four.writeBigUInt64LE(4n)
    writeSync(fd, four, 0, 8, entries)
    patched++
  }
  closeSync(fd)
  t.ok(patched > 0, 'the database record was found')
  t.throws(() => preflight(dir, { verify: true }), {
    code: 'DORA_STATE_CORRUPT',
    message: /probe process failed \(LMDB failed: MDB_CORRUPTED: database op\/n\/o records 4 entries, 3 were found\); a page of the file is damaged/,
  })
  try {
    preflight(dir, { verify: true })
  } catch (err) {
    t.notMatch(String(err), /throw new Error|recorded !== count/, 'no source text in the message')
  }
})
