import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sizeOf } from '../../../runtime/state/store-access.js'

t.test('the size of a store counts its files, not the lock files of the processes using it', async (t) => {
  const dir = t.testdir({ 'data.mdb': 'x'.repeat(1000), 'lock.mdb': 'y'.repeat(200), 'verified.stamp': 'z'.repeat(30) })
  t.equal(sizeOf(dir), 1030, "data.mdb and the stamp; lock.mdb is LMDB's reader table")
  // What a reader beside it holds for a moment: the size must not change (a `state ls` beside
  // another command once printed 96.3 KiB, then 96.2).
  writeFileSync(join(dir, 'owner.pid'), '4242 cli 123456\n')
  writeFileSync(join(dir, 'open.lock'), '4243  123457\n')
  writeFileSync(join(dir, 'open.lock.4244.0a1b2c3d.tmp'), '')
  mkdirSync(join(dir, 'open.lock.takeover'))
  t.equal(sizeOf(dir), 1030)
})

t.test('a missing folder is 0 bytes', async (t) => {
  t.equal(sizeOf(join(t.testdir(), 'nope')), 0)
})
