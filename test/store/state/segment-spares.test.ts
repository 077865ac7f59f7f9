/**
 * Spare segment files (segment-spares.ts): a consumed segment is written over by the next one
 * instead of being unlinked and created anew; each spare goes to one writer, also across
 * worker threads; a segment with another name (adopted by a hard link) is never reused.
 */
import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { MAX_SPARE_BYTES, SegmentSpares, SPARE_PREFIX, writeOverSpare } from '../../../src/store/state/segment-spares.js'
import { SegmentFiles } from '../../../src/store/state/segments.js'
import { ROOT } from '../../fixtures/paths.js'

const spareNames = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith(SPARE_PREFIX))
const fileOf = (dir: string, name: string, size: number, fill = 1): string => {
  const path = join(dir, name)
  writeFileSync(path, Buffer.alloc(size, fill))
  return path
}
/** A file `name` of `size` bytes in `dir`, by its name (what SegmentSpares.offer takes). */
const named = (dir: string, name: string, size: number, fill = 1): string => {
  fileOf(dir, name, size, fill)
  return name
}

t.test('a spare is claimed once, by the best fit, and written over to the exact size', async (t) => {
  const dir = t.testdir({})
  const spares = new SegmentSpares(dir)
  t.ok(spares.offer(named(dir, 'a', 10_000), 10_000))
  t.ok(spares.offer(named(dir, 'b', 100_000), 100_000))
  t.ok(spares.offer(named(dir, 'c', 1_000_000), 1_000_000))
  t.same(spareNames(dir).length, 3, 'three spares in the folder')
  t.same(spares.claim(join(dir, 'x'), 50_000), { path: join(dir, 'x'), had: 100_000 }, 'the smallest spare at least as large, renamed')
  t.equal(spares.claim(join(dir, 'y'), 2_000_000)?.had, 1_000_000, 'none large enough: the largest')
  t.equal(spares.claim(join(dir, 'z'), 1_000), undefined, 'a spare over 4 times the size is passed over')
  t.equal(spares.claim(join(dir, 'w'), 9_000)?.had, 10_000, 'the last one')
  t.equal(spares.claim(join(dir, 'v'), 9_000), undefined, 'each spare went once')
  t.same(spareNames(dir), [], 'no spare left in the folder')
  t.same(readdirSync(dir).sort(), ['w', 'x', 'y'], 'each claimed spare is where its writer asked')

  t.ok(spares.offer(named(dir, 'd', 100_000, 7), 100_000))
  const data = Buffer.alloc(64 * 1024, 3)
  t.equal(writeOverSpare(spares, join(dir, 'seg'), data), join(dir, 'seg'))
  t.same(readFileSync(join(dir, 'seg')), data, 'written over the spare, truncated to its own size')
  writeOverSpare(spares, join(dir, 'seg2'), data)
  t.same(readFileSync(join(dir, 'seg2')), data, 'with no spare left, a new file')
})

t.test("a staged payload's name stays in the pool: its own launch writes over it there, another renames it", async (t) => {
  const dir = t.testdir({})
  const spares = new SegmentSpares(dir)
  const mine = (name: string): boolean => name.startsWith('.staged-aa@')
  t.ok(spares.offer(named(dir, '.staged-aa@1', 70_000), 70_000, true), 'kept under its name')
  t.same(readdirSync(dir), ['.staged-aa@1'], 'no rename: the file is where it was')
  t.same([...spares.names()], ['.staged-aa@1'], 'the pool knows it by that name')
  const inode = statSync(join(dir, '.staged-aa@1')).ino
  const data = Buffer.alloc(65_536, 4)
  const written = writeOverSpare(spares, join(dir, '.staged-aa@9'), data, mine)
  t.equal(written, join(dir, '.staged-aa@1'), 'its own launch writes over it under its name')
  t.equal(statSync(written).ino, inode, 'the same file')
  t.same(readFileSync(written), data, 'holding the new payload, cut to its size')
  t.same([...spares.names()], [], 'out of the pool')

  t.ok(spares.offer('.staged-aa@1', 65_536, true))
  const other = writeOverSpare(spares, join(dir, '.staged-bb@1'), data, (name) => name.startsWith('.staged-bb@'))
  t.equal(other, join(dir, '.staged-bb@1'), "another launch's writer gets it renamed to its own name")
  t.same(readdirSync(dir), ['.staged-bb@1'])

  const long = `.staged-${'c'.repeat(80)}@1`
  t.ok(spares.offer(named(dir, long, 1000), 1000, true), 'a name too long for a slot')
  t.same(spareNames(dir).length, 1, 'is renamed to a spare name')
  t.equal(spares.claim(join(dir, 'next'), 1000, () => true)?.path, join(dir, spareNames(dir)[0]!), 'which its claimant may keep writing over')
  spares.offer(named(dir, '.staged-aa@3', 1000), 1000, true)
  spares.clear()
  t.notOk(existsSync(join(dir, '.staged-aa@3')), 'clear() removes a spare kept under its name')
})

t.test('the spares hold at most MAX_SPARE_BYTES; clear() empties the pool', async (t) => {
  const dir = t.testdir({})
  const spares = new SegmentSpares(dir)
  const big = MAX_SPARE_BYTES / 2
  t.ok(spares.offer(named(dir, 'a', 1), big), 'half the bound (its size as told)')
  t.ok(spares.offer(named(dir, 'b', 1), big), 'the other half')
  t.notOk(spares.offer(named(dir, 'c', 1), 1), 'over the bound: refused')
  t.ok(existsSync(join(dir, 'c')), 'a refused file is left where it was (the caller unlinks it)')
  spares.clear()
  t.same(spareNames(dir), [], 'clear() removes every spare')
  t.ok(spares.offer('c', 1), 'room again after clear()')
})

t.test('worker threads claiming while the owner offers: every spare goes to exactly one claimant', async (t) => {
  const dir = t.testdir({})
  const spares = new SegmentSpares(dir)
  const perWorker = 300
  // Bounded on both sides: a worker gives up after DEADLINE_MS (and says how many it got), the
  // owner stops offering once both workers are done, failed or gone, or after MAX_TRIES.
  const DEADLINE_MS = 60_000
  const MAX_TRIES = 1_000_000
  const workerCode = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { existsSync } = require('node:fs')
    import(workerData.module).then(({ SegmentSpares }) => {
      const spares = new SegmentSpares(workerData.dir, workerData.buffer)
      const until = Date.now() + workerData.deadline
      let claimed = 0
      for (let i = 0; claimed < workerData.want && Date.now() < until; i++) {
        const path = workerData.dir + '/w' + workerData.id + '-' + i
        if (spares.claim(path, 100) !== undefined) {
          if (!existsSync(path)) throw new Error('claimed without a file: ' + path)
          claimed++
        }
      }
      parentPort.postMessage(claimed)
    })`
  // The compiled module, whether this test runs compiled or from its source through tsx (an
  // eval worker does not get tsx): the threads share the pool's layout, not its class.
  const module = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'state', 'segment-spares.js')).href
  const workerData = (id: number): object => ({ module, dir, buffer: spares.buffer, id, want: perWorker, deadline: DEADLINE_MS })
  const workers = [0, 1].map((id) => new Worker(workerCode, { eval: true, workerData: workerData(id) }))
  const results = workers.map(
    (w) =>
      new Promise<number>((resolve, reject) =>
        w
          .once('message', resolve)
          .once('error', reject)
          .once('exit', (code) => reject(new Error(`a claiming worker exited (code ${code}) before it reported`))),
      ),
  )
  let settled = false
  void Promise.allSettled(results).then(() => (settled = true))
  let claimed: number[]
  try {
    // One file at a time, offered until the pool takes it: nothing is written while it is full.
    let offered = 0
    for (let tries = 0; offered < 2 * perWorker && !settled && tries < MAX_TRIES; tries++) {
      const name = `o${offered}`
      if (!existsSync(join(dir, name))) writeFileSync(join(dir, name), Buffer.alloc(100, 1))
      if (spares.offer(name, 100)) offered++
      else await new Promise((resolve) => setImmediate(resolve))
    }
    claimed = await Promise.all(results)
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
  t.same(claimed, [perWorker, perWorker], 'each worker got what it waited for')
  const files = readdirSync(dir)
  t.equal(files.filter((n) => n.startsWith('w')).length, 2 * perWorker, 'one claimed file per spare offered')
  t.same(spareNames(dir), [], 'no spare left over')
})

t.test('a store reuses the file of a consumed segment, but never one that has another name', async (t) => {
  const root = t.testdir({ shm: {}, store: {}, run: {} })
  const files = new SegmentFiles(join(root, 'shm'), join(root, 'store'))
  const payload = Buffer.alloc(256 * 1024, 9)
  files.write('n%2Fa@1', payload)
  files.retain('n%2Fa@1')
  const inode = statSync(join(root, 'shm', 'n%2Fa@1')).ino
  files.release('n%2Fa@1', true)
  t.notOk(existsSync(join(root, 'shm', 'n%2Fa@1')), 'the consumed segment is gone by its name')
  t.same(spareNames(join(root, 'shm')).length, 1, 'kept as a spare')
  files.write('n%2Fa@2', payload)
  t.equal(statSync(join(root, 'shm', 'n%2Fa@2')).ino, inode, 'the next segment is written over the same file')
  t.same(files.read('n%2Fa@2', payload.byteLength), payload, 'and reads back whole')

  // A custom node's segment adopted by a hard link: its run's name may still be read.
  const runName = fileOf(join(root, 'run'), 'node@0@1', 128 * 1024, 5)
  t.ok(files.adopt('node@5', runName, 128 * 1024))
  files.retain('node@5')
  files.release('node@5')
  t.notOk(existsSync(join(root, 'shm', 'node@5')), 'the store let its name go')
  t.same(spareNames(join(root, 'shm')).length, 0, 'but did not keep the file as a spare')
  t.same(readFileSync(runName), Buffer.alloc(128 * 1024, 5), 'the run name still reads the node its bytes')

  files.retain('n%2Fa@2')
  files.release('n%2Fa@2')
  t.same(spareNames(join(root, 'shm')).length, 1)
  files.close()
  t.notOk(existsSync(join(root, 'shm')), 'close() removes the spares, then the empty folder')
})

t.test("a consumed staged segment waits in the pool under its name: its retired launch's leftovers sweep keeps it", async (t) => {
  const root = t.testdir({ shm: {}, store: {} })
  const shm = join(root, 'shm')
  const files = new SegmentFiles(shm, join(root, 'store'))
  const dir = files.stagingDir()!
  const payload = Buffer.alloc(70_000, 6)
  writeFileSync(join(dir, '.staged-aa@1'), payload)
  const name = files.take(join(dir, '.staged-aa@1'), payload.byteLength)
  t.equal(name, '.staged-aa@1', 'taken under the name its worker gave it')
  files.retain(name!)
  files.release(name!)
  t.same(readdirSync(shm), ['.staged-aa@1'], 'let go: kept as a spare where it is')
  t.same([...files.spares!.names()], ['.staged-aa@1'])
  files.dropStaged('aa@')
  t.ok(existsSync(join(shm, '.staged-aa@1')), "its launch's retirement does not remove a spare of the pool")
  writeFileSync(join(dir, '.staged-aa@2'), payload)
  files.dropStaged('aa@')
  t.notOk(existsSync(join(shm, '.staged-aa@2')), 'but does remove what no commit took')
  const written = writeOverSpare(files.spares, join(dir, '.staged-bb@1'), payload, (n) => n.startsWith('.staged-bb@'))
  t.equal(written, join(dir, '.staged-bb@1'), 'a later launch takes it under a name of its own')
  t.same(readdirSync(shm), ['.staged-bb@1'])
  t.equal(files.take(join(root, '.staged-bb@1'), 1), undefined, 'a file outside the folder is not taken')
  t.equal(files.take(join(dir, 'n%2Fa@1'), 1), undefined, "nor one that is not a staged payload's")
  files.close()
  t.notOk(existsSync(shm), 'close() removes what is left, then the folder')
})

t.test("a staged segment let go while a snapshot holds the unlinks stays through its launch's clean-up", async (t) => {
  const root = t.testdir({ shm: {}, store: {} })
  const shm = join(root, 'shm')
  const files = new SegmentFiles(shm, join(root, 'store'))
  const dir = files.stagingDir()!
  writeFileSync(join(dir, '.staged-aa@1'), Buffer.alloc(70_000, 3))
  const name = files.take(join(dir, '.staged-aa@1'), 70_000)!
  files.retain(name)
  files.pin()
  files.release(name)
  files.dropStaged('aa@')
  t.ok(existsSync(join(shm, name)), 'held for the snapshot, which may reference it: not dropped')
  t.same([...files.spares!.names()], [], 'nor pooled yet')
  files.unpin()
  t.same([...files.spares!.names()], [name], 'let go when the snapshot is done: pooled under its name')
  files.close()
  t.notOk(existsSync(shm))
})
