/**
 * What the state store (src/store/state/store.ts) refuses, each with its DORA_STATE_* code, and
 * the cases beside them: bad keys, values and meta; a full store, and the deletes and clear()
 * that still work on one; values that can never fit; a half-created store, layouts it does not
 * know and files that are not LMDB; directories and options it cannot open.
 */
import t, { type Test } from 'tap'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { lmdbJs } from '../../../src/store/lmdb/lmdb-js.js'
import { StateError } from '../../../src/store/state/errors.js'
import { MIN_MAP_SIZE_BYTES, StateStore } from '../../../src/store/state/store.js'
import { bytes, meta, openStore, text, throwsState } from '../fixtures/state-store.js'

t.test('bad keys are DORA_STATE_BAD_KEY and nothing of the commit is applied', async (t) => {
  const store = openStore(t)
  const op = store.operator('n/o')
  op.commit([{ key: 'keep', value: bytes('1') }], meta(1n))
  for (const key of ['', 'k'.repeat(512), 'é'.repeat(256), 'a\uDC00']) {
    throwsState(
      t,
      () =>
        op.commit(
          [
            { key: 'new', value: bytes('x') },
            { key, value: bytes('y') },
          ],
          meta(2n),
        ),
      'DORA_STATE_BAD_KEY',
      store.dir,
    )
  }
  throwsState(t, () => op.commit([{ key: '', delete: true }], meta(2n)), 'DORA_STATE_BAD_KEY', store.dir, /must not be empty/)
  op.commit([{ key: 'k'.repeat(511), value: bytes('max') }], meta(2n))
  const { state, meta: m } = op.load()
  t.same([...state.keys()].sort(), ['keep', 'k'.repeat(511)])
  t.equal(m.lastEvent, 2n)
  throwsState(t, () => store.operator(''), 'DORA_STATE_BAD_KEY', store.dir)
  throwsState(t, () => store.operator('x'.repeat(600)), 'DORA_STATE_BAD_KEY', store.dir)
})

t.test('values must be Uint8Arrays and meta must be valid', async (t) => {
  const store = openStore(t)
  const op = store.operator('n/o')
  const notBytes = [{ key: 'k', value: 'text' }] as unknown as Parameters<typeof op.commit>[0]
  throwsState(t, () => op.commit(notBytes, meta(1n)), 'DORA_STATE_BAD_VALUE', store.dir)
  throwsState(t, () => op.commit([], { lastEvent: -1n, seen: new Map() }), 'DORA_STATE_BAD_META', store.dir)
  throwsState(t, () => op.commit([], { lastEvent: 1 as unknown as bigint, seen: new Map() }), 'DORA_STATE_BAD_META', store.dir)
  t.equal(op.load().meta.lastEvent, 0n)
})

t.test('a full store is DORA_STATE_MAP_FULL; the refused commit leaves the last one intact', async (t) => {
  const store = openStore(t, { mapSizeBytes: MIN_MAP_SIZE_BYTES })
  const op = store.operator('n/o')
  const value = new Uint8Array(16 * 1024).fill(1)
  let committed = 0
  let error: unknown
  for (let i = 1; i <= 64 && error === undefined; i++) {
    try {
      op.commit([{ key: `k${i}`, value }], meta(BigInt(i)))
      committed = i
    } catch (err) {
      error = err
    }
  }
  t.ok(committed >= 4, `some commits fit (${committed})`)
  t.ok(error instanceof StateError)
  t.equal((error as StateError).code, 'DORA_STATE_MAP_FULL')
  t.match((error as Error).message, store.dir)
  t.match((error as StateError).hint, /raise the state map size \(now 262144 bytes\)/)
  const { state, meta: m } = op.load()
  t.equal(state.size, committed)
  t.equal(m.lastEvent, BigInt(committed))
  t.ok(statSync(join(store.dir, 'data.mdb')).size <= MIN_MAP_SIZE_BYTES, 'the data file stayed within the limit')
})

/** Fill `op` of a store with 16 KiB values until a commit is refused as full; the last event committed. */
function fill(t: Test, store: StateStore, operatorKey: string): number {
  const op = store.operator(operatorKey)
  const value = new Uint8Array(16 * 1024).fill(1)
  for (let i = 1; i <= 64; i++) {
    try {
      op.commit([{ key: `k${i}`, value }], meta(BigInt(i)))
    } catch (err) {
      t.equal((err as StateError).code, 'DORA_STATE_MAP_FULL', 'the store is full')
      return i - 1
    }
  }
  throw new Error('the store never became full')
}

t.test('regression (issue 12): on a full store, commits that only delete succeed and make room again', async (t) => {
  const store = openStore(t, { mapSizeBytes: MIN_MAP_SIZE_BYTES })
  const op = store.operator('n/o')
  const last = fill(t, store, 'n/o')
  // Before: refused like any write, so a full store could not be emptied by the operator.
  const deletes = Array.from({ length: last }, (_, i) => ({ key: `k${i + 1}`, delete: true as const }))
  op.commit(deletes.slice(0, 1), meta(BigInt(last + 1)))
  op.commit(deletes.slice(1), meta(BigInt(last + 2)))
  t.equal(op.load().state.size, 0, 'every key deleted')
  t.equal(op.load().meta.lastEvent, BigInt(last + 2))
  op.commit([{ key: 'again', value: new Uint8Array(16 * 1024) }], meta(BigInt(last + 3)))
  t.equal(op.load().state.size, 1, 'the store takes writes again')
})

t.test('on a full store, clear() succeeds, for one operator and for all', async (t) => {
  const store = openStore(t, { mapSizeBytes: MIN_MAP_SIZE_BYTES })
  const last = fill(t, store, 'n/a')
  store.clear('n/a')
  t.equal(store.operator('n/a').load().state.size, 0, 'one operator cleared')
  t.ok(last > 0)
  fill(t, store, 'n/b')
  store.clear()
  t.same(store.stats(), [], 'all cleared')
  store.operator('n/b').commit([{ key: 'k', value: new Uint8Array(1024) }], meta(1n))
  t.equal(store.operator('n/b').load().state.size, 1, 'the store takes writes again')
})

t.test('a value that can never fit is DORA_STATE_VALUE_TOO_LARGE', async (t) => {
  const store = openStore(t, { mapSizeBytes: MIN_MAP_SIZE_BYTES })
  throwsState(
    t,
    () => store.operator('n/o').commit([{ key: 'big', value: new Uint8Array(MIN_MAP_SIZE_BYTES) }], meta(1n)),
    'DORA_STATE_VALUE_TOO_LARGE',
    store.dir,
    /"big" is 262144 bytes/,
  )
})

t.test('the writes of one event that can never fit together are DORA_STATE_VALUE_TOO_LARGE', async (t) => {
  const store = openStore(t, { mapSizeBytes: MIN_MAP_SIZE_BYTES })
  const op = store.operator('n/o')
  const writes = Array.from({ length: 4 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(MIN_MAP_SIZE_BYTES / 4) }))
  throwsState(t, () => op.commit(writes, meta(1n)), 'DORA_STATE_VALUE_TOO_LARGE', store.dir, /the writes of this event need up to \d+ bytes/)
  t.equal(op.load().state.size, 0)
})

t.test('a store whose creation stopped before the layout record was written opens as new', async (t) => {
  const dir = t.testdir()
  const env = lmdbJs().open({ path: dir, noSubdir: false, maxDbs: 10, keyEncoding: 'binary', encoding: 'binary', overlappingSync: false })
  env.openDB({ name: '__meta__', keyEncoding: 'binary', encoding: 'binary' })
  await env.close()
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  store.operator('n/o').commit([], meta(1n))
  t.equal(store.operator('n/o').load().meta.lastEvent, 1n)
})

t.test('a newer layout version is refused with DORA_STATE_LAYOUT, and nothing is wiped', async (t) => {
  const dir = t.testdir()
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('n/o').commit([{ key: 'k', value: bytes('precious') }], meta(1n))
  store.close()
  const env = lmdbJs().open({ path: dir, noSubdir: false, maxDbs: 10, keyEncoding: 'binary', encoding: 'binary', overlappingSync: false })
  const metaDb = env.openDB({ name: '__meta__', keyEncoding: 'binary', encoding: 'binary' })
  env.transactionSync(() => metaDb.putSync(Buffer.from('layout'), Buffer.from('{"format":"dora-ts-state","version":3}')))
  await env.close()

  throwsState(
    t,
    () => StateStore.open({ dir, durability: 'process' }),
    'DORA_STATE_LAYOUT',
    dir,
    /layout version 3, written by a newer dora-ts; this one reads versions 1 to 2/,
  )
  const again = lmdbJs().open({ path: dir, noSubdir: false, maxDbs: 10, keyEncoding: 'binary', encoding: 'binary', overlappingSync: false })
  // The value as stored: its bytes, then its 4-byte seal.
  t.equal(text(again.openDB({ name: 'op/n/o', keyEncoding: 'binary', encoding: 'binary' }).get(Buffer.from('k'))?.subarray(0, -4)), 'precious')
  await again.close()
})

t.test('an LMDB environment that is not dora-ts state is refused with DORA_STATE_LAYOUT', async (t) => {
  const dir = t.testdir()
  const env = lmdbJs().open({ path: dir, noSubdir: false, maxDbs: 10, overlappingSync: false })
  const other = env.openDB({ name: 'someone-else' })
  env.transactionSync(() => other.putSync('k', 'v'))
  await env.close()
  throwsState(t, () => StateStore.open({ dir, durability: 'process' }), 'DORA_STATE_LAYOUT', dir, /not dora-ts state/)
})

t.test('garbage instead of data.mdb is DORA_STATE_CORRUPT, not a crash', async (t) => {
  const dir = t.testdir({ 'data.mdb': Buffer.alloc(64 * 1024, 0x41) })
  throwsState(t, () => StateStore.open({ dir, durability: 'process' }), 'DORA_STATE_CORRUPT', dir, /not an LMDB file/)
})

t.test('a directory that cannot be created is DORA_STATE_OPEN', async (t) => {
  const parent = t.testdir({ file: 'x' })
  const dir = join(parent, 'file', 'state')
  throwsState(t, () => StateStore.open({ dir, durability: 'process' }), 'DORA_STATE_OPEN', dir)
})

t.test('bad options are DORA_STATE_OPEN', async (t) => {
  const dir = t.testdir()
  throwsState(t, () => StateStore.open({ dir, durability: 'disk' as 'power' }), 'DORA_STATE_OPEN', dir, /durability/)
  throwsState(t, () => StateStore.open({ dir, durability: 'process', mapSizeBytes: 1000 }), 'DORA_STATE_OPEN', dir, /map size/)
})
