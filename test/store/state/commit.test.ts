/**
 * The commit path on its own: what encodeCommit refuses before any transaction starts, what it
 * hands to the transaction, and the size budget measured on a real environment.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { applyCommit, COMMIT_FLAGS, encodeCommit, MAX_VALUE_BYTES, SizeBudget, type CommitTarget, type StateWrite } from '../../../src/store/state/commit.js'
import { MIN_MAP_SIZE_BYTES, openStateEnvironment, releaseStateDir, type StateEnvironment } from '../../../src/store/state/environment.js'
import { StateError } from '../../../src/store/state/errors.js'
import { usedBytes } from '../../../src/store/lmdb/used-pages.js'
import { emptyMeta, operatorDbName, type OperatorMeta } from '../../../src/store/state/disk-layout.js'
import { crc32, RAW_VALUES, SEALED_VALUES } from '../../../src/store/lmdb/checksum.js'

/** A store of layout 1 (raw values): what encodeCommit does apart from sealing. */
const target: CommitTarget = { dir: '/state', operatorKey: 'n/o', metaKey: Buffer.from('op/n/o'), pageSize: 4096, mapSizeBytes: 1 << 20, seal: RAW_VALUES }
const meta = (lastEvent: bigint): OperatorMeta => ({ lastEvent, seen: new Map() })

function refused(t: Test, fn: () => unknown, code: string, message: RegExp): void {
  const err = t.throws(fn) as StateError
  t.ok(err instanceof StateError, `a StateError: ${String(err)}`)
  t.equal(err.code, code)
  t.match(err.message, /^cannot commit the state of operator "n\/o" in \/state: /)
  t.match(err.message, message)
}

function environment(t: Test, mapSizeBytes = MIN_MAP_SIZE_BYTES): StateEnvironment {
  const opened = openStateEnvironment(join(t.testdir(), 'state'), mapSizeBytes)
  t.teardown(() => {
    void opened.env.close()
    releaseStateDir(opened.realDir)
  })
  return opened
}

t.test('encodeCommit keeps the writes in order, deletes as undefined, values as views (no copy)', async (t) => {
  const backing = new Uint8Array([9, 1, 2, 3, 9])
  const view = backing.subarray(1, 4)
  const writes: StateWrite[] = [
    { key: 'a', value: view },
    { key: 'b', delete: true },
    { key: 'é', value: new Uint8Array(0) },
  ]
  const commit = encodeCommit(target, writes, meta(7n))
  t.same(
    commit.keys.map((k) => k.toString()),
    ['a', 'b', 'é'],
  )
  t.equal(commit.keys[2]?.length, 2, 'keys are UTF-8 bytes')
  t.equal(commit.values[1], undefined, 'a delete')
  t.same([...(commit.values[0] ?? [])], [1, 2, 3])
  backing[1] = 5
  t.equal(commit.values[0]?.[0], 5, 'the value is a view of the caller’s bytes')
  t.equal(commit.metaKey, target.metaKey)
  t.match(commit.metaBytes.toString(), /"lastEvent":"7"/)
  t.ok(commit.growth >= 12 * target.pageSize + 3 + 2 + 1, 'the estimate covers the slack pages and every key and value')
})

t.test('applyCommit stores each value and the meta record with the CRC-32 of key and bytes after it (layout 2)', async (t) => {
  const { env, meta: metaDb, seal } = environment(t)
  const db = env.openDB<Buffer, Buffer>({ name: operatorDbName('n/o'), keyEncoding: 'binary', encoding: 'binary' })
  const at = { ...target, seal }
  const commit = encodeCommit(at, [{ key: 'pose', value: Buffer.from('x=1') }], meta(7n))
  t.same(commit.values[0], Buffer.from('x=1'), 'sealed when written, not before')
  applyCommit(env, db, metaDb, commit, COMMIT_FLAGS.process, at)
  const sum = (key: string | Buffer, value: Buffer): Buffer => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(crc32(value, crc32(key)))
    return b
  }
  t.same(db.get(Buffer.from('pose')), Buffer.concat([Buffer.from('x=1'), sum('pose', Buffer.from('x=1'))]), 'the value, then its seal')
  const stored = metaDb.get(target.metaKey) as Buffer
  const metaJson = stored.subarray(0, stored.length - 4)
  t.match(metaJson.toString(), /^\{"lastEvent":"7"/)
  t.same(stored.subarray(-4), sum(target.metaKey, metaJson), 'the meta record is sealed under its key')
})

t.test("a value an operator's worker sealed is stored as it is, or without its seal in a store of layout 1", async (t) => {
  const presealed = SEALED_VALUES.seal('pose', Buffer.from('x=1'))
  const write: StateWrite = { key: 'pose', value: presealed, sealed: true }
  const sealedCommit = encodeCommit({ ...target, seal: SEALED_VALUES }, [write], meta(1n))
  t.equal(sealedCommit.values[0]?.buffer, presealed.buffer, 'not copied, not sealed twice')
  t.same(SEALED_VALUES.open('pose', sealedCommit.values[0] as Buffer, 'pose'), Buffer.from('x=1'))
  t.same(encodeCommit(target, [write], meta(1n)).values[0], Buffer.from('x=1'), 'a raw store gets the bytes alone')
  const tooLarge = encodeCommit({ ...target, seal: SEALED_VALUES }, [{ key: 'k', value: new Uint8Array(8), sealed: true }], meta(1n))
  t.ok(tooLarge.growth >= 8, 'its size counts')
})

t.test('encodeCommit refuses a bad commit whole, naming operator and directory', async (t) => {
  refused(t, () => encodeCommit(target, [], { lastEvent: 1, seen: new Map() } as unknown as OperatorMeta), 'DORA_STATE_BAD_META', /lastEvent/)
  refused(t, () => encodeCommit(target, [{ key: '', value: new Uint8Array(1) }], meta(1n)), 'DORA_STATE_BAD_KEY', /empty/)
  refused(t, () => encodeCommit(target, [{ key: 'k'.repeat(512), value: new Uint8Array(1) }], meta(1n)), 'DORA_STATE_BAD_KEY', /512/)
  refused(t, () => encodeCommit(target, [{ key: 'k', value: 'text' } as unknown as StateWrite], meta(1n)), 'DORA_STATE_BAD_VALUE', /"k" is not a Uint8Array/)
  refused(
    t,
    () => encodeCommit(target, [{ key: 'big', value: new Uint8Array(target.mapSizeBytes) }], meta(1n)),
    'DORA_STATE_VALUE_TOO_LARGE',
    /can never hold it/,
  )
  const quarter = new Uint8Array(target.mapSizeBytes / 4)
  refused(
    t,
    () =>
      encodeCommit(
        target,
        [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: quarter })),
        meta(1n),
      ),
    'DORA_STATE_VALUE_TOO_LARGE',
    /the writes of this event need up to \d+ bytes/,
  )
  t.equal(MAX_VALUE_BYTES, 0xffff_ffff, "lmdb-js's uint32 value length")
})

t.test('applyCommit writes the state and the meta record in one transaction', async (t) => {
  const { env, meta: metaDb, seal } = environment(t)
  t.equal(seal, SEALED_VALUES, 'a new store seals its values')
  const db = env.openDB<Buffer, Buffer>({ name: operatorDbName('n/o'), keyEncoding: 'binary', encoding: 'binary' })
  const at = { ...target, dir: '/state', seal }
  applyCommit(
    env,
    db,
    metaDb,
    encodeCommit(
      at,
      [
        { key: 'a', value: Buffer.from('1') },
        { key: 'b', value: Buffer.from('2') },
      ],
      meta(1n),
    ),
    COMMIT_FLAGS.process,
    at,
  )
  applyCommit(env, db, metaDb, encodeCommit(at, [{ key: 'a', delete: true }], meta(2n)), COMMIT_FLAGS.power, at)
  t.equal(db.get(Buffer.from('a')), undefined)
  t.equal(seal.open('b', db.get(Buffer.from('b')) as Buffer, 'b').toString(), '2')
  t.match(seal.open(target.metaKey, metaDb.get(target.metaKey) as Buffer, 'meta').toString(), /^\{"lastEvent":"2"/)
  t.not(COMMIT_FLAGS.process, COMMIT_FLAGS.power, "'process' commits skip the fsync, 'power' commits do not")
  t.same(emptyMeta(), { lastEvent: 0n, seen: new Map() })
})

t.test('the size budget refuses growth past the map size, measured on the real file', async (t) => {
  const { env, pageSize, highWater } = environment(t)
  t.ok(highWater > 0 && highWater % pageSize === 0, 'the open reports the file up to its last page')
  const budget = new SizeBudget(MIN_MAP_SIZE_BYTES, pageSize, highWater)
  const room = MIN_MAP_SIZE_BYTES - highWater
  budget.reserve(env, room, '/state', 'n/o')
  t.pass('growth up to the limit is fine')
  // The estimates of the commits since the last measurement now reach the limit, so this one
  // measures the file: nothing was written, so there is room again.
  budget.reserve(env, room, '/state', 'n/o')
  t.pass('a measurement replaces the upper estimates with the real size')
  // Near the limit the pages in use decide (LMDB reuses the free ones): one byte more than
  // they leave is refused.
  const used = usedBytes(env, pageSize) ?? highWater
  t.ok(used <= highWater, `${used} bytes in use, up to ${highWater} in the file`)
  const err = t.throws(() => budget.reserve(env, MIN_MAP_SIZE_BYTES - used + 1, '/state', 'n/o')) as StateError
  t.equal(err.code, 'DORA_STATE_MAP_FULL', 'one byte more than the store can take is refused')
  t.match(err.message, /the store is full/)
  t.match(err.hint, /map size/)
})
