/**
 * The state store's data file under a writable map (src/store/state/data-file.ts): blocks are
 * given ahead of use past the last used page only, a clean close cuts the file back to its
 * data, and the store reads the same whichever way it was written.
 */
import t from 'tap'
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BLOCK_SLACK_BYTES, DataFileBlocks, trimDataFile, writemapSupported } from '../../../src/store/state/data-file.js'
import { inspectDataFile } from '../../../src/store/lmdb/preflight.js'
import { DEFAULT_MAP_SIZE_BYTES } from '../../../src/store/state/environment.js'
import { StateStore, type OperatorMeta } from '../../../src/store/state/store.js'

const meta = (lastEvent: bigint): OperatorMeta => ({ lastEvent, seen: new Map() })

/** Bytes of `file` that have disk blocks. */
const blockBytes = (file: string): number => statSync(file).blocks * 512

t.test('blocks are written past the used bytes only, up to what is needed plus the slack, never past the limit', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'data.mdb')
  const used = 64 * 1024
  const content = Buffer.alloc(used)
  for (let i = 0; i < used; i++) content[i] = (i * 7 + 3) & 0xff
  writeFileSync(file, content)
  truncateSync(file, 16 * 1024 * 1024) // what LMDB does under a writable map: a sparse tail
  t.ok(blockBytes(file) < 1024 * 1024, 'the tail starts without blocks')
  const blocks = new DataFileBlocks(dir, used, 8 * 1024 * 1024)
  t.teardown(() => blocks.close())
  blocks.ensure(used, used) // nothing needed past what is used
  t.equal(blocks.allocatedTo, used)
  blocks.ensure(used, used + 4096)
  t.equal(blocks.allocatedTo, used + 4096 + BLOCK_SLACK_BYTES, 'what is needed and the slack')
  t.ok(blockBytes(file) >= used + 4096 + BLOCK_SLACK_BYTES, 'and they have blocks now')
  t.same(readFileSync(file).subarray(0, used), content, 'the used bytes are untouched')
  blocks.ensure(used, 100 * 1024 * 1024)
  t.equal(blocks.allocatedTo, 8 * 1024 * 1024, 'never past the limit (the map size)')
  t.equal(statSync(file).size, 16 * 1024 * 1024, 'the file keeps its length')
})

t.test('zeros start at the used end when LMDB used more than was given (never over used pages)', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'data.mdb')
  writeFileSync(file, Buffer.alloc(8192, 1))
  truncateSync(file, 4 * 1024 * 1024)
  const blocks = new DataFileBlocks(dir, 4096, 4 * 1024 * 1024)
  t.teardown(() => blocks.close())
  // The file is used up to 8192 now, past the 4096 the blocks were told of.
  blocks.ensure(8192, 8192 + 1)
  t.same(readFileSync(file).subarray(0, 8192), Buffer.alloc(8192, 1), 'the bytes LMDB used are kept')
})

t.test('trimDataFile cuts the file to its used end and leaves a shorter one alone', async (t) => {
  const dir = t.testdir({ 'data.mdb': Buffer.alloc(10_000, 5) })
  const file = join(dir, 'data.mdb')
  trimDataFile(dir, 4096)
  t.equal(statSync(file).size, 4096)
  trimDataFile(dir, 8192)
  t.equal(statSync(file).size, 4096, 'never made longer')
  trimDataFile(join(dir, 'absent'), 0) // best effort: no throw
})

t.test('a store under a writable map: the file is as long as the map while open, as its data once closed, and reads back', async (t) => {
  const dir = join(t.testdir({}), 'state')
  const store = StateStore.open({ dir, durability: 'process' })
  const file = join(dir, 'data.mdb')
  const op = store.operator('n/o')
  for (let i = 1; i <= 50; i++) op.commit([{ key: `k${i}`, value: new Uint8Array(3000).fill(i) }], meta(BigInt(i)))
  if (writemapSupported(dir)) t.equal(statSync(file).size, DEFAULT_MAP_SIZE_BYTES, 'open: the writable map makes the file as long as the map')
  else t.comment(`the file system of ${dir} is not one the writable map is used on`)
  store.close()
  const report = inspectDataFile(dir)
  t.equal(report.kind, 'ok')
  if (report.kind !== 'ok') return
  t.equal(statSync(file).size, Number(report.lastPage + 1n) * report.pageSize, 'closed: cut back to its last used page')
  const again = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => again.close())
  const { state, meta: loaded } = again.operator('n/o').load()
  t.equal(state.size, 50)
  t.same(Buffer.from(state.get('k50') ?? []), Buffer.alloc(3000, 50))
  t.equal(loaded.lastEvent, 50n)
})

t.test('a store left open by a killed process (file as long as the map) opens, reads and commits', async (t) => {
  const dir = join(t.testdir({}), 'state')
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('n/o').commit([{ key: 'a', value: new Uint8Array([1, 2, 3]) }], meta(1n))
  store.close()
  // What a SIGKILL leaves under a writable map: the sparse tail, no trim.
  truncateSync(join(dir, 'data.mdb'), DEFAULT_MAP_SIZE_BYTES)
  const again = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => again.close())
  const op = again.operator('n/o')
  t.same(Buffer.from(op.load().state.get('a') ?? []), Buffer.from([1, 2, 3]))
  op.commit([{ key: 'b', value: new Uint8Array([4]) }], meta(2n))
  t.equal(op.load().meta.lastEvent, 2n)
})
