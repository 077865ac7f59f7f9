// The supervisor's shared-memory bookkeeping, on real files: a segment is deleted exactly when
// its last holder lets go, names outside a node's own are refused, and what a killed node wrote
// but never announced is swept.
import t, { type Test } from 'tap'
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { POOL_PER_NODE, SharedSegment, ShmPayloads } from '../../../runtime/supervisor/shm-payloads.js'
import { ShmWriter, readShared } from '../../../node-sdk/shm.js'
import type { MessageHeader } from '../../../src/events.js'

const header: MessageHeader = {
  dataflowId: 'd',
  senderNode: 'cam',
  senderOperator: '',
  outputId: 'frame',
  sequence: 1n,
  timestampNs: 0n,
  metadata: {},
  encoding: 'raw',
  messageId: '0.1',
  redelivered: false,
}

function setup(t: Test) {
  const dir = t.testdir({})
  const warnings: string[] = []
  return { dir, warnings, shm: new ShmPayloads(dir, 1024, (w) => warnings.push(w)) }
}

t.test('a segment lives until its router hold and every custom-node delivery let go, then goes back to its writer', async (t) => {
  const { dir, shm } = setup(t)
  const writer = new ShmWriter(dir, 'cam', 0)
  const written = writer.write(Buffer.from('hello shared memory'))
  t.equal(written.segment, 'cam@0@1')
  const segment = shm.accept('cam', written)
  if (typeof segment === 'string') throw new Error(segment)
  const a = shm.delivery(segment, 'in', header, true)
  const b = shm.delivery(segment, 'in', header, true)
  const op = shm.delivery(segment, 'in', header, false)
  t.equal(Buffer.from(op.data).toString(), 'hello shared memory', 'an operator delivery carries the bytes')
  t.equal(op.shm, undefined, 'and no segment reference')
  t.equal(a.shm, segment, 'a custom-node delivery carries the segment')
  t.equal(Buffer.from({ ...a }.data).toString(), 'hello shared memory', "a spread copy (redelivery's) still reads the bytes")
  segment.release() // the router's hold
  t.ok(existsSync(join(dir, 'cam@0@1')), 'still held by two deliveries')
  shm.release([a])
  t.ok(existsSync(join(dir, 'cam@0@1')), 'still held by one')
  shm.release([b, { type: 'stop', cause: 'manual' }])
  t.same(readdirSync(dir), ['cam@0@1.free'], 'when the last receiver is done, the file is handed back to its writer')
  t.equal(shm.live, 0)
  t.same(shm.stats, { accepted: 1, deleted: 1, swept: 0, refused: 0 })
  shm.release([b])
  t.equal(shm.stats.deleted, 1, 'a second release of the same delivery changes nothing')
  const again = writer.write(Buffer.from('short'))
  t.same(readdirSync(dir), ['cam@0@2'], 'the writer reused the free file under its next name')
  t.equal(readShared(dir, again).toString(), 'short', 'cut to the new payload')
})

t.test('a segment the state store still links is parked when its holders let go, and handed back once the store let go', async (t) => {
  const { dir, shm } = setup(t)
  // The store's folder, beside the run's (on the same file system, as the store's is on tmpfs).
  const store = `${dir}-store`
  mkdirSync(store)
  t.teardown(() => rmSync(store, { recursive: true, force: true }))
  const writer = new ShmWriter(dir, 'cam', 0)
  const written = writer.write(Buffer.from('a frame for one operator'))
  const segment = shm.accept('cam', written)
  if (typeof segment === 'string') throw new Error(segment)
  const origin = join(dir, written.segment)
  const kept = join(store, 'cam@0000000000001n')
  linkSync(origin, kept) // the store adopts it (segments.ts adopt)
  shm.delivery(segment, 'in', header, false) // an operator takes the bytes at routing
  segment.release() // the router's hold: the last one here
  t.same(readdirSync(dir), [written.segment], 'parked: neither deleted nor handed to its writer while the store links it')
  shm.storeLetGo(join(dir, 'cam@0@9')) // another file: nothing parked under that name
  t.same(readdirSync(dir), [written.segment])
  unlinkSync(kept) // the operator's commit consumed it: the store removes its name
  shm.storeLetGo(origin)
  t.same(readdirSync(dir), [`${written.segment}.free`], 'handed back to its writer once the store let go')
  writer.write(Buffer.from('the next frame'))
  t.same(readdirSync(dir), ['cam@0@2'], 'which writes its next payload over it')

  const other = shm.accept('cam', writer.write(Buffer.from('x')))
  if (typeof other === 'string') throw new Error(other)
  // The last frame's file is parked with the store's link, then its writer dies.
  const third = shm.accept('cam', writer.write(Buffer.from('y')))
  if (typeof third === 'string') throw new Error(third)
  linkSync(join(dir, third.segment), join(store, 'cam@0000000000003n'))
  third.release()
  other.release()
  shm.sweep('cam')
  t.notOk(existsSync(join(dir, third.segment)), "a parked segment goes with its writer's sweep")
  shm.storeLetGo(join(dir, third.segment))
  t.notOk(existsSync(join(dir, `${third.segment}.free`)), 'and is not handed back after it')
})

t.test('at most POOL_PER_NODE free files are kept per writer; a writer forgets the ones deleted', async (t) => {
  const { dir, shm } = setup(t)
  const writer = new ShmWriter(dir, 'cam', 0)
  const segments = Array.from({ length: POOL_PER_NODE + 3 }, () => shm.accept('cam', writer.write(new Uint8Array(10))))
  for (const s of segments) if (s instanceof SharedSegment) s.release()
  t.equal(readdirSync(dir).filter((n) => n.endsWith('.free')).length, POOL_PER_NODE, 'the oldest free files beyond the pool were deleted')
  writer.write(new Uint8Array(10))
  t.equal(readdirSync(dir).filter((n) => n.endsWith('.free')).length, POOL_PER_NODE - 1, 'the next write took one back')
})

t.test("names that are not the node's own, and segments shorter than announced, are refused", async (t) => {
  const { dir, shm } = setup(t)
  writeFileSync(join(dir, 'other@0@1'), 'x')
  writeFileSync(join(dir, 'cam@0@2'), 'short')
  t.type(shm.accept('cam', { segment: 'other@0@1', offset: 0, length: 1 }), 'string', "another node's segment")
  t.type(shm.accept('cam', { segment: '../cam@0@1', offset: 0, length: 1 }), 'string', 'a path')
  t.type(shm.accept('cam', { segment: 'cam@0@x', offset: 0, length: 1 }), 'string', 'a malformed name')
  t.type(shm.accept('cam', { segment: 'cam@0@2', offset: 0, length: 100 }), 'string', 'shorter than announced')
  t.notOk(existsSync(join(dir, 'cam@0@2')), 'the short segment of the node was deleted')
  t.ok(existsSync(join(dir, 'other@0@1')), "another node's file was left alone")
  t.equal(shm.stats.refused, 4)
})

t.test('sweep removes what a dead node wrote and never announced, not what receivers still hold', async (t) => {
  const { dir, shm } = setup(t)
  const writer = new ShmWriter(dir, 'cam', 3)
  const announced = shm.accept('cam', writer.write(new Uint8Array(2000)))
  if (!(announced instanceof SharedSegment)) throw new Error('refused')
  writer.write(new Uint8Array(2000)) // written, then the process died before sending it
  writeFileSync(join(dir, 'camera@0@1'), 'another node with a longer id')
  shm.sweep('cam')
  t.same(readdirSync(dir).sort(), ['cam@3@1', 'camera@0@1'], 'the unannounced segment is gone; the held one and the other node stay')
  t.equal(shm.stats.swept, 1)
})

t.test("sweep removes the files a dead best-effort sender's receivers freed for it, and nothing of another sender's", async (t) => {
  const { dir, shm } = setup(t)
  for (const name of ['view@cam@0@4.0.free', 'view@cam@0@5.1', 'view@camera@0@1.0.free', 'cam@0@1.free', 'view@0@1.free']) writeFileSync(join(dir, name), 'x')
  shm.sweep('cam')
  t.same(
    readdirSync(dir).sort(),
    ['view@0@1.free', 'view@cam@0@5.1', 'view@camera@0@1.0.free'],
    "its freed files are gone (it will never take them back); one still named for its receiver waits for that receiver, another sender's stay",
  )
})

t.test('readShared reads the announced range and refuses names that leave the directory', async (t) => {
  const dir = t.testdir({ seg: 'abcdefgh' })
  t.equal(readShared(dir, { segment: 'seg', offset: 2, length: 4 }).toString(), 'cdef')
  t.throws(() => readShared(dir, { segment: '../seg', offset: 0, length: 1 }), /refusing/)
  t.throws(() => readShared(dir, { segment: 'seg', offset: 4, length: 10 }), /ends after 4 of 10 bytes/)
})
