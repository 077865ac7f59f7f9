import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { msgpack } from '../../../node-sdk/state-codecs.js'
import { StateStore } from '../../../src/store/state/store.js'
import { clearState, resolveOperator, resolveStateTarget } from '../../../runtime/state/admin.js'
import { findSnapshot, listSnapshots, restoreSnapshot, takeSnapshot } from '../../../runtime/state/snapshots.js'
import { listStores, liveOwner, withStore, type StateTarget } from '../../../runtime/state/store-access.js'
import { formatValue, printableText } from '../../../runtime/state/value-format.js'
import { smallTmpfs } from '../../fixtures/small-tmpfs.js'

const meta = (n: bigint) => ({ lastEvent: n, seen: new Map<string, [bigint, number]>() })

/** A store `<root>/flow` with operator a/a holding `x`. */
function makeStore(root: string, x: string): StateTarget {
  const dir = join(root, 'flow')
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('a/a').commit([{ key: 'x', value: Buffer.from(x) }], meta(1n))
  store.close()
  return { name: 'flow', root, dir }
}

t.test('values are shown as text when printable, else hex or base64, decoded when MessagePack', async (t) => {
  t.equal(formatValue(Buffer.from('hello\nworld')), '"hello\\nworld"')
  t.equal(formatValue(Buffer.from('{"a":1}')), '"{\\"a\\":1}"')
  t.equal(formatValue(msgpack.encode(5)), 'hex:05 (msgpack: 5)')
  t.equal(formatValue(msgpack.encode(103)), '"g" (msgpack: 103)', 'one printable byte: text and msgpack integer both said')
  t.equal(formatValue(Buffer.from('g')), '"g" (msgpack: 103)')
  t.equal(formatValue(Buffer.from('go')), '"go"', 'longer text is text')
  t.equal(formatValue(msgpack.encode({ pose: [1, 2] })), `hex:${Buffer.from(msgpack.encode({ pose: [1, 2] })).toString('hex')} (msgpack: {"pose":[1,2]})`)
  const big = new Uint8Array(40).fill(0xc1) // 0xc1 is never valid MessagePack
  t.equal(formatValue(big), `base64:${Buffer.from(big).toString('base64')}`)
  t.equal(printableText(Buffer.from([0xff, 0xfe])), undefined, 'invalid UTF-8 is not text')
  t.equal(printableText(Buffer.from('a\u0001b')), undefined, 'control characters are not text')
  t.equal(printableText(Buffer.from('tab\there')), 'tab\there')
})

t.test('a name resolves under ./.dora-ts/state or --state-dir; a YAML as dora-ts run resolves it', async (t) => {
  const dir = t.testdir({
    'flow.yml': 'name: robot\nnodes:\n  - id: a\n    path: ./a.mjs\n',
    'other.yaml': 'state_dir: ./st\nnodes:\n  - id: a\n    path: ./a.mjs\n',
  })
  t.same(await resolveStateTarget('robot', '/srv/state'), { name: 'robot', root: '/srv/state', dir: '/srv/state/robot' })
  t.equal((await resolveStateTarget('robot')).root, join(process.cwd(), '.dora-ts', 'state'))
  t.match(await resolveStateTarget(join(dir, 'flow.yml')), {
    name: 'robot',
    root: join(dir, '.dora-ts', 'state'),
    dir: join(dir, '.dora-ts', 'state', 'robot'),
  })
  t.match(await resolveStateTarget(join(dir, 'flow.yml'), '/x'), { dir: '/x/robot' }, '--state-dir wins over the YAML')
  t.match(await resolveStateTarget(join(dir, 'other.yaml')), { name: 'other', dir: join(dir, 'st', 'other') })
  t.match(
    await resolveStateTarget(join(dir, 'flow.yml'), undefined, 'run-2'),
    { name: 'run-2', dir: join(dir, '.dora-ts', 'state', 'run-2') },
    'a YAML run under another --name',
  )
  await t.rejects(resolveStateTarget('robot', undefined, 'x'), { code: 'DORA_STATE_BAD_NAME', message: /--name goes with a dataflow YAML/ })
  await t.rejects(resolveStateTarget(join(dir, 'flow.yml'), undefined, '../x'), { code: 'DORA_STATE_BAD_NAME' })
  await t.rejects(resolveStateTarget('../up'), { code: 'DORA_STATE_BAD_NAME' })
  await t.rejects(resolveStateTarget('.snapshots'), { code: 'DORA_STATE_BAD_NAME' })
  await t.rejects(resolveStateTarget(join(dir, 'missing.yml')), { code: 'DORA_SPEC_INVALID' })
})

t.test('listStores lists folders holding a store, not snapshots or strays', async (t) => {
  const root = t.testdir({ stray: { 'notes.txt': '' }, '.snapshots': {} })
  makeStore(root, 'v')
  t.same(listStores(root), ['flow'])
  t.same(listStores(join(root, 'missing')), [])
})

t.test('liveOwner reads owner.pid and believes it only while that process lives', async (t) => {
  const dir = t.testdir()
  t.equal(liveOwner(dir), undefined)
  writeFileSync(join(dir, 'owner.pid'), `${process.pid}\n`)
  t.equal(liveOwner(dir), process.pid)
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
  writeFileSync(join(dir, 'owner.pid'), dead.stdout)
  t.equal(liveOwner(dir), undefined, 'a pid file left by a dead process is no owner')
  writeFileSync(join(dir, 'owner.pid'), 'garbage')
  t.equal(liveOwner(dir), undefined)
})

t.test('resolveOperator accepts node/operator, a single operator node, or a unique operator id', async (t) => {
  const target: StateTarget = { name: 'f', root: '/r', dir: '/r/f' }
  const stats = ['cam/cam', 'pipe/count', 'pipe/double', 'other/double'].map((operator) => ({ operator, entries: 1, bytes: 1 }))
  t.equal(resolveOperator(target, stats, 'pipe/count'), 'pipe/count')
  t.equal(resolveOperator(target, stats, 'cam'), 'cam/cam')
  t.equal(resolveOperator(target, stats, 'count'), 'pipe/count')
  t.throws(() => resolveOperator(target, stats, 'double'), { code: 'DORA_STATE_UNKNOWN_OPERATOR', message: /"double" matches pipe\/double and other\/double/ })
  t.throws(() => resolveOperator(target, stats, 'x/y'), { code: 'DORA_STATE_UNKNOWN_OPERATOR', message: /its operators are: cam\/cam, pipe\/count/ })
  t.throws(() => resolveOperator(target, [], 'x'), { message: /it holds no operator state/ })
})

t.test('snapshot, clear and restore round-trip, keeping the replaced state as a snapshot', async (t) => {
  const root = t.testdir()
  const target = makeStore(root, 'first')
  const first = await takeSnapshot(target)
  t.ok(existsSync(join(root, '.snapshots', 'flow', first.id, 'data.mdb')))
  t.same(first.operators, [{ operator: 'a/a', entries: 1, bytes: 6 }])
  const second = await takeSnapshot(target)
  t.not(second.id, first.id, 'two snapshots in the same millisecond still get their own ids')

  t.same(await clearState(target), ['a/a'])
  t.same(await withStore(target.dir, (s) => s.stats()), [])

  const result = await restoreSnapshot(target, first.id)
  t.equal(result.restored.id, first.id)
  t.match(result.saved?.id, /^before-restore-/)
  t.same(result.operators, [{ operator: 'a/a', entries: 1, bytes: 6 }])
  const value = await withStore(target.dir, (s) => Buffer.from(s.operator('a/a').load().state.get('x')!).toString())
  t.equal(value, 'first')
  t.same(
    listSnapshots(target).map((s) => s.reason),
    ['snapshot', 'snapshot', 'before-restore'],
    'oldest first',
  )
  t.throws(() => findSnapshot(target, 'nope'), { code: 'DORA_STATE_SNAPSHOT_NOT_FOUND', message: /its snapshots are: / })
  t.throws(() => findSnapshot(target, '../flow'), { code: 'DORA_STATE_SNAPSHOT_NOT_FOUND' })
})

t.test('clear and restore are refused while a live process owns the store', async (t) => {
  const root = t.testdir()
  const target = makeStore(root, 'v')
  const snap = await takeSnapshot(target)
  writeFileSync(join(target.dir, 'owner.pid'), `${process.pid}\n`)
  await t.rejects(clearState(target), {
    code: 'DORA_STATE_IN_USE',
    message: new RegExp(`cannot clear the state of dataflow "flow": a running dataflow \\(dora-ts pid ${process.pid}\\)`),
  })
  await t.rejects(restoreSnapshot(target, snap.id), { code: 'DORA_STATE_IN_USE', message: /cannot restore the state of dataflow "flow"/ })
  t.ok(existsSync(join(target.dir, 'owner.pid')), "the owner's lock is left alone")
})

t.test('a snapshot of a store that does not exist is refused, naming the stores there are', async (t) => {
  const root = t.testdir()
  mkdirSync(join(root, 'empty'))
  await t.rejects(takeSnapshot({ name: 'nope', root, dir: join(root, 'nope') }), {
    code: 'DORA_STATE_NOT_FOUND',
    message: /there is no state store under .* at all/,
  })
})

t.test('regression (issue 12): a snapshot is immutable once taken; restore leaves it byte for byte as it was', async (t) => {
  const root = t.testdir({})
  const target = makeStore(root, 'one')
  const snap = await takeSnapshot(target)
  const before = readdirSync(snap.dir)
    .sort()
    .map((name) => [name, readFileSync(join(snap.dir, name)).toString('base64'), statSync(join(snap.dir, name)).mode & 0o777])
  t.same(
    before.map(([name, , mode]) => [name, mode]),
    [
      ['data.mdb', 0o400],
      ['snapshot.json', 0o400],
    ],
    'read-only files, no lock file',
  )
  await restoreSnapshot(target, snap.id)
  const after = readdirSync(snap.dir)
    .sort()
    .map((name) => [name, readFileSync(join(snap.dir, name)).toString('base64'), statSync(join(snap.dir, name)).mode & 0o777])
  t.same(after, before, 'restore did not touch the snapshot (it used to add lock.mdb)')
  t.same(
    readdirSync(join(root, '.snapshots', 'flow')).filter((name) => name.startsWith('.')),
    [],
    'no staging or check folder is left',
  )
})

t.test('a snapshot whose data.mdb changed after it was taken is refused on restore; the store is untouched', async (t) => {
  const root = t.testdir({})
  const target = makeStore(root, 'one')
  const snap = await takeSnapshot(target)
  // Root ignores the read-only mode, as a careless tool might: the checksum catches it.
  const data = join(snap.dir, 'data.mdb')
  const bytes = readFileSync(data)
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff
  chmodSync(data, 0o644)
  writeFileSync(data, bytes)
  await t.rejects(restoreSnapshot(target, snap.id), { code: 'DORA_STATE_CORRUPT', message: /checksum mismatch/ })
  t.equal(await withStore(target.dir, (store) => Buffer.from(store.operator('a/a').load().state.get('x')!).toString()), 'one')
})

t.test('a snapshot that fails (a full disk) leaves nothing that is listed', async (t) => {
  // The state root on a 2 MiB tmpfs, the store filling more than half of it: the copy fails.
  const root = smallTmpfs(t, '2m')
  if (typeof root !== 'string') return void t.skip(root.skip, () => {})
  const dir = join(root, 'flow')
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('a/a').commit(
    Array.from({ length: 24 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(50_000).fill(i) })),
    meta(1n),
  )
  store.close()
  const target = { name: 'flow', root, dir }
  await t.rejects(takeSnapshot(target), 'the snapshot fails')
  t.same(listSnapshots(target), [], 'nothing is listed')
  t.same(readdirSync(join(root, '.snapshots', 'flow')), [], 'and nothing is left')
})
