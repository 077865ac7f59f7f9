/**
 * A full file system is its own error in both stores (DORA_KVS_DISK_FULL,
 * DORA_STATE_DISK_FULL), not "Input/output error" (issue 12), and nothing committed is lost:
 * LMDB sees ENOSPC as a short write and says EIO, so errors.ts looks at the free space.
 * Uses a 2 MiB tmpfs; skipped, saying why, where mounting is not permitted (not root).
 */
import t, { type Test } from 'tap'
import { closeSync, existsSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { KvsError } from '../../../src/store/kvs/errors.js'
import { StateStore, type OperatorMeta, type StateWrite } from '../../../src/store/state/store.js'
import { StateError } from '../../../src/store/state/errors.js'
import { acquireOwnerLock } from '../../../src/store/state/owner-lock.js'
import { smallTmpfs } from '../../fixtures/small-tmpfs.js'

/** A fresh 2 MiB tmpfs holding a 256 KiB ballast file, or why not. */
function smallFileSystem(t: Test): string | { skip: string } {
  const dir = smallTmpfs(t, '2m')
  if (typeof dir === 'string') writeFileSync(join(dir, 'ballast'), new Uint8Array(256 * 1024).fill(9))
  return dir
}

const meta = (lastEvent: bigint): OperatorMeta => ({ lastEvent, seen: new Map() })

t.test('a KVS on a full file system fails writes with DORA_KVS_DISK_FULL; what was written stays; freeing space recovers', async (t) => {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const store = KvsStore.open({ dir: join(fs, 'kvs') })
  t.teardown(() => store.close())
  const ns = store.namespace('n')
  const value = new Uint8Array(50_000).fill(1)
  let written = 0
  let failure: unknown
  for (; written < 200; written++) {
    try {
      ns.write(`k${written}`, value)
    } catch (err) {
      failure = err
      break
    }
  }
  t.ok(failure instanceof KvsError, `a KvsError after ${written} writes: ${String(failure)}`)
  t.equal((failure as KvsError).code, 'DORA_KVS_DISK_FULL')
  t.match((failure as KvsError).message, /the file system is full/)
  t.match((failure as KvsError).hint, /free disk space/)
  for (let i = 0; i < written; i++) t.equal(ns.read(`k${i}`)?.length, value.length, `k${i} intact`)
  t.equal(ns.delete('k0'), true, 'a delete still works (it reuses pages)')
  rmSync(join(fs, 'ballast'))
  ns.write('after', value)
  t.equal(ns.read('after')?.length, value.length, 'once space is freed, writes work again')
})

t.test('a state store on a full file system fails commits with DORA_STATE_DISK_FULL; what was committed stays', async (t) => {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = join(fs, 'state')
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const op = store.operator('n/o')
  const value = new Uint8Array(50_000).fill(2)
  let committed = 0
  let failure: unknown
  for (; committed < 200; committed++) {
    try {
      op.commit([{ key: `k${committed}`, value }], meta(BigInt(committed + 1)))
    } catch (err) {
      failure = err
      break
    }
  }
  t.ok(failure instanceof StateError, `a StateError after ${committed} commits: ${String(failure)}`)
  t.equal((failure as StateError).code, 'DORA_STATE_DISK_FULL')
  const { state, meta: loaded } = op.load()
  t.equal(state.size, committed, 'every committed key is there')
  t.equal(loaded.lastEvent, BigInt(committed))
  rmSync(join(fs, 'ballast'))
  op.commit([{ key: 'after', value }], meta(BigInt(committed + 1)))
  t.equal(op.load().state.get('after')?.length, value.length, 'once space is freed, commits work again')
})

/** A state store in `<fs>/state` with one committed event (key `k` = [7]), closed. */
function storeWithOneEvent(fs: string): string {
  const dir = join(fs, 'state')
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('n/o').commit([{ key: 'k', value: new Uint8Array([7]) }], meta(1n))
  store.close()
  return dir
}

/** Fill the file system holding `dir` to the last byte, in a file named filler. */
function fillUp(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w')
  try {
    for (const size of [64 * 1024, 4096, 512, 1]) {
      const chunk = new Uint8Array(size)
      for (;;) {
        try {
          writeSync(fd, chunk)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
          break
        }
      }
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * Open a KVS (one key written) on a full disk: DORA_KVS_DISK_FULL with its hint, nothing left in
 * its folder, and it opens with its data once space is freed. `spareBytes` are freed after
 * filling the disk; `withoutLockFile` removes lock.mdb first.
 */
async function kvsOpenOnFullDisk(t: Test, options: { withoutLockFile: boolean; spareBytes: number; leftBehind: string }): Promise<void> {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = join(fs, 'kvs')
  const first = KvsStore.open({ dir })
  first.namespace('n').write('k', Buffer.from('v'))
  first.close()
  if (options.withoutLockFile) rmSync(join(dir, 'lock.mdb'))
  if (options.spareBytes > 0) writeFileSync(join(fs, 'spare'), new Uint8Array(options.spareBytes))
  fillUp(fs)
  rmSync(join(fs, 'spare'), { force: true })
  const before = readdirSync(dir).sort()
  let failure: unknown
  try {
    KvsStore.open({ dir }).close()
  } catch (err) {
    failure = err
  }
  t.ok(failure instanceof KvsError, `a KvsError: ${String(failure)}`)
  t.equal((failure as KvsError).code, 'DORA_KVS_DISK_FULL')
  t.match((failure as KvsError).message, /the file system is full/)
  t.match((failure as KvsError).hint, /free disk space/)
  t.same(readdirSync(dir).sort(), before, options.leftBehind)
  rmSync(join(fs, 'filler'))
  const again = KvsStore.open({ dir })
  t.teardown(() => again.close())
  t.equal(Buffer.from(again.namespace('n').read('k')!).toString(), 'v', 'once space is freed it opens, with its data')
}

t.test('regression (issue 12): opening the KVS on a completely full disk is DORA_KVS_DISK_FULL and leaves no temporary file', (t) =>
  kvsOpenOnFullDisk(t, { withoutLockFile: false, spareBytes: 0, leftBehind: 'nothing left behind (the open lock used to leave open.lock.*.tmp)' }),
)

// As a KVS copied without its lock file, or a new one: LMDB made lock.mdb sparse and wrote its
// header through a map, which on a disk with room for the open lock's pid file but not for a
// lock table was a SIGBUS that killed this process.
t.test('a KVS without lock.mdb on a disk with a few KiB left is DORA_KVS_DISK_FULL at open, never a SIGBUS; nothing left behind', (t) =>
  kvsOpenOnFullDisk(t, { withoutLockFile: true, spareBytes: 8 * 1024, leftBehind: 'no lock.mdb, half or whole, and no temporary file' }),
)

t.test('a state store on a full disk: a new one is DORA_STATE_DISK_FULL at open; one with data opens, reads, and refuses commits cleanly', async (t) => {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = storeWithOneEvent(fs)
  fillUp(fs)
  let failure: unknown
  try {
    StateStore.open({ dir: join(fs, 'fresh'), durability: 'process' }).close()
  } catch (err) {
    failure = err
  }
  t.ok(failure instanceof StateError, `a StateError: ${String(failure)}`)
  t.equal((failure as StateError).code, 'DORA_STATE_DISK_FULL')
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const op = store.operator('n/o')
  t.same([...op.load().state.keys()], ['k'], 'the store with data opens and reads')
  const big = new Uint8Array(600_000).fill(1)
  const err = t.throws(() => op.commit([{ key: 'big', value: big }], meta(2n))) as StateError
  t.equal(err.code, 'DORA_STATE_DISK_FULL')
  t.equal(op.load().meta.lastEvent, 1n, 'what was committed stays')
})

t.test('seeded writes of mixed sizes and deletes into a full state store end in DORA_STATE_DISK_FULL, never a signal', async (t) => {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const seed = 20261202
  let x = seed
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    return x % n
  }
  const store = StateStore.open({ dir: join(fs, 'state'), durability: 'process' })
  t.teardown(() => store.close())
  const op = store.operator('n/o')
  const kept = new Map<string, number>()
  let event = 0n
  let fullErrors = 0
  for (let i = 0; i < 400; i++) {
    const key = `k${next(200)}`
    const write: StateWrite = next(4) === 0 ? { key, delete: true } : { key, value: new Uint8Array(1 + next(60_000)).fill(i & 0xff) }
    try {
      op.commit([write], meta(event + 1n))
      event++
      if ('value' in write) kept.set(key, write.value.length)
      else kept.delete(key)
    } catch (err) {
      if (!(err instanceof StateError) || err.code !== 'DORA_STATE_DISK_FULL') throw new Error(`seed ${seed}: ${String(err)}`, { cause: err })
      fullErrors++
    }
  }
  t.ok(fullErrors > 0, `the disk filled up (${fullErrors} commits refused, seed ${seed})`)
  const { state, meta: loaded } = op.load()
  t.equal(loaded.lastEvent, event, `every commit that succeeded is there (seed ${seed})`)
  t.same(new Map([...state].map(([k, v]) => [k, v.length])), kept, `and holds what it said (seed ${seed})`)
})

t.test('a copied state store (no lock.mdb, not verified) on a full disk is DORA_STATE_DISK_FULL, not taken for damaged', async (t) => {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = storeWithOneEvent(fs)
  // What a copy without its lock file looks like: the open must create lock.mdb, and the
  // probe reads it all first (no stamp). The probe used to die by SIGBUS there: "damaged".
  rmSync(join(dir, 'lock.mdb'))
  rmSync(join(dir, 'verified.stamp'))
  fillUp(fs)
  let failure: unknown
  try {
    StateStore.open({ dir, durability: 'process' }).close()
  } catch (err) {
    failure = err
  }
  t.ok(failure instanceof StateError, `a StateError: ${String(failure)}`)
  t.equal((failure as StateError).code, 'DORA_STATE_DISK_FULL')
  t.notOk(existsSync(join(dir, 'lock.mdb')), 'no partial lock file left')
  rmSync(join(fs, 'filler'))
  const again = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => again.close())
  t.equal(again.operator('n/o').load().meta.lastEvent, 1n, 'once space is freed it opens, with its state')
})

t.test('taking the owner lock of a state store on a full disk is DORA_STATE_DISK_FULL with its hint, and leaves nothing behind', async (t) => {
  const fs = smallFileSystem(t)
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = storeWithOneEvent(fs)
  fillUp(fs)
  const before = readdirSync(dir).sort()
  const err = t.throws(() => acquireOwnerLock(dir)) as StateError
  t.equal(err.code, 'DORA_STATE_DISK_FULL', String(err))
  t.match(err.hint, /free disk space/)
  t.same(readdirSync(dir).sort(), before, 'no pid file or temporary file left')
})
