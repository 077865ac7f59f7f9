// The node side of shared-memory payloads on real files (tmpfs or the test's folder): a writer
// takes back the files its readers freed instead of making new ones, and readers of a file
// with several names (a best-effort output with several receivers) free it exactly once.
import t from 'tap'
import { linkSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { SegmentPool, ShmWriter, readShared, releaseSegment } from '../../node-sdk/shm.js'

t.test('a pool writes into the oldest file its readers freed, under the new name, cut to the new payload', async (t) => {
  const dir = t.testdir({})
  const pool = new SegmentPool(dir)
  pool.write('r@s@0@1.0', Buffer.from('first payload'))
  pool.written(['r@s@0@1.0'])
  const inode = statSync(join(dir, 'r@s@0@1.0')).ino
  pool.write('r@s@0@2.0', Buffer.from('second'))
  pool.written(['r@s@0@2.0'])
  t.not(statSync(join(dir, 'r@s@0@2.0')).ino, inode, 'nothing was free: a new file')
  releaseSegment(join(dir, 'r@s@0@1.0'))
  t.same(readdirSync(dir).sort(), ['r@s@0@1.0.free', 'r@s@0@2.0'], 'its only reader handed the first file back')
  pool.write('r@s@0@3.0', Buffer.from('third'))
  t.equal(statSync(join(dir, 'r@s@0@3.0')).ino, inode, 'the freed file was reused')
  t.equal(readShared(dir, { segment: 'r@s@0@3.0', offset: 0, length: 5 }).toString(), 'third')
  t.equal(statSync(join(dir, 'r@s@0@3.0')).size, 5, 'cut to the new payload')
  t.same(readdirSync(dir).sort(), ['r@s@0@2.0', 'r@s@0@3.0'])
})

t.test('a file with several names goes back to its writer only when its last reader lets go', async (t) => {
  const dir = t.testdir({})
  const pool = new SegmentPool(dir)
  const names = ['a@s@0@1.0', 'b@s@0@1.1', 'c@s@0@1.2']
  pool.write(names[0]!, Buffer.from('shared'))
  for (const name of names.slice(1)) linkSync(join(dir, names[0]!), join(dir, name))
  pool.written(names)
  releaseSegment(join(dir, 'b@s@0@1.1'))
  releaseSegment(join(dir, 'a@s@0@1.0'))
  t.same(readdirSync(dir), ['c@s@0@1.2'], 'the first readers only dropped their names')
  pool.write('a@s@0@2.0', Buffer.from('x'))
  t.same(readdirSync(dir).sort(), ['a@s@0@2.0', 'c@s@0@1.2'], 'still held by one reader: the writer made a new file')
  pool.written(['a@s@0@2.0'])
  releaseSegment(join(dir, 'c@s@0@1.2'))
  t.same(readdirSync(dir).sort(), ['a@s@0@2.0', 'c@s@0@1.2.free'], 'the last reader handed it back, under its own name')
  pool.write('a@s@0@3.0', Buffer.from('y'))
  t.same(readdirSync(dir).sort(), ['a@s@0@2.0', 'a@s@0@3.0'], 'taken back whichever name it came back under')
  releaseSegment(join(dir, 'gone'))
  t.pass('letting go of a name that is gone is nothing')
})

t.test('a pool forgets files deleted meanwhile, and drain deletes the free ones it remembers', async (t) => {
  const dir = t.testdir({})
  const pool = new SegmentPool(dir)
  for (let n = 1; n <= 3; n++) {
    pool.write(`r@s@0@${n}.0`, Buffer.from('x'))
    pool.written([`r@s@0@${n}.0`])
  }
  // The first was swept (its receiver died): neither live nor free, so the pool moves past it.
  unlinkSync(join(dir, 'r@s@0@1.0'))
  releaseSegment(join(dir, 'r@s@0@2.0'))
  const inode = statSync(join(dir, 'r@s@0@2.0.free')).ino
  pool.write('r@s@0@4.0', Buffer.from('x'))
  pool.written(['r@s@0@4.0'])
  t.equal(statSync(join(dir, 'r@s@0@4.0')).ino, inode, 'the second file reused')
  t.same(readdirSync(dir).sort(), ['r@s@0@3.0', 'r@s@0@4.0'])
  releaseSegment(join(dir, 'r@s@0@3.0'))
  pool.drain()
  t.same(readdirSync(dir), ['r@s@0@4.0'], 'the free file went with the drain; the one still held stays for its reader')
})

t.test('ShmWriter names its segments <node>@<restart>@<n> and reuses what the supervisor hands back', async (t) => {
  const dir = t.testdir({})
  const writer = new ShmWriter(dir, 'cam', 2)
  t.same(writer.write(Buffer.from('abc')), { segment: 'cam@2@1', offset: 0, length: 3 })
  t.same(writer.write(Buffer.from('de')), { segment: 'cam@2@2', offset: 0, length: 2 })
  t.equal(readShared(dir, { segment: 'cam@2@1', offset: 0, length: 3 }).toString(), 'abc')
})
