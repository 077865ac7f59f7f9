/**
 * Damage is reported, never fatal (issue 12): a store whose data.mdb has random bytes over a
 * page, is empty (0 bytes) or is another kind of file is refused with DORA_STATE_CORRUPT /
 * DORA_KVS_CORRUPT naming the directory, or (a page not in use) read correctly; never a
 * signal death of this process (the full read runs in a probe child, probe.ts), never a
 * silent wipe. The stores are opened in this test's own process: a miss would crash it.
 */
import t from 'tap'
import { copyFileSync, mkdirSync, openSync, closeSync, utimesSync, writeSync, writeFileSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { StateStore, type OperatorMeta } from '../../../src/store/state/store.js'
import { StateError } from '../../../src/store/state/errors.js'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { KvsError } from '../../../src/store/kvs/errors.js'
import { inspectDataFile, VERIFIED_FILE } from '../../../src/store/lmdb/preflight.js'

const meta = (lastEvent: bigint): OperatorMeta => ({ lastEvent, seen: new Map() })
const OPERATORS = ['flow/a', 'flow/b']
const ENTRIES = 51

/** A small deterministic generator (mulberry32), so a failing trial can be replayed by its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** A closed state store with ENTRIES small values spread over two operators. */
function pristineState(dir: string): void {
  const store = StateStore.open({ dir, durability: 'process' })
  for (let i = 0; i < ENTRIES; i++) {
    const op = store.operator(OPERATORS[i % 2]!)
    op.commit([{ key: `key/${String(i).padStart(3, '0')}`, value: Buffer.from(`value ${i}`) }], meta(BigInt(i + 1)))
  }
  store.close()
}

function copyStore(from: string, to: string): void {
  mkdirSync(to, { recursive: true })
  copyFileSync(join(from, 'data.mdb'), join(to, 'data.mdb'))
}

/** Up to `count` distinct pages of 2..last (never the meta pages 0 and 1), chosen by `seed`. */
function samplePages(last: number, count: number, seed: number): number[] {
  const all = Array.from({ length: last - 1 }, (_, i) => i + 2)
  const next = random(seed)
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  return all.slice(0, count).sort((a, b) => a - b)
}

/** Random bytes over page `page` of `<dir>/data.mdb`. */
function damagePage(dir: string, page: number, pageSize: number, next: () => number): void {
  const bytes = Buffer.alloc(pageSize)
  for (let i = 0; i < pageSize; i++) bytes[i] = Math.floor(next() * 256)
  const fd = openSync(join(dir, 'data.mdb'), 'r+')
  try {
    writeSync(fd, bytes, 0, pageSize, page * pageSize)
  } finally {
    closeSync(fd)
  }
}

t.test('random bytes over any data page of a state store: DORA_STATE_CORRUPT or a correct read, never a crash', async (t) => {
  const root = t.testdir({})
  const pristine = join(root, 'pristine')
  pristineState(pristine)
  const report = inspectDataFile(pristine)
  if (report.kind !== 'ok') throw new Error(`unexpected pristine store: ${report.kind}`)
  const pages = Number(report.lastPage) + 1
  const outcome = { corrupt: 0, correct: 0 }
  // Pages but the two meta pages (those are checked without LMDB: test/store/lmdb/preflight.test.ts).
  const sample = samplePages(pages - 1, 10, 42)
  for (const page of sample) {
    const seed = 1000 + page
    const dir = join(root, `trial-${page}`)
    copyStore(pristine, dir)
    damagePage(dir, page, report.pageSize, random(seed))
    let store: StateStore | undefined
    try {
      store = StateStore.open({ dir, durability: 'process' })
      const found = OPERATORS.map((name) => [...store!.operator(name).load().state.entries()].map(([k, v]) => `${k}=${Buffer.from(v).toString()}`))
      const expected = OPERATORS.map((_, o) =>
        Array.from({ length: ENTRIES }, (_, i) => i)
          .filter((i) => i % 2 === o)
          .map((i) => `key/${String(i).padStart(3, '0')}=value ${i}`),
      )
      t.same(found, expected, `page ${page} (seed ${seed}): opened, so every entry must read back`)
      outcome.correct++
    } catch (err) {
      t.ok(err instanceof StateError && err.code === 'DORA_STATE_CORRUPT', `page ${page} (seed ${seed}): ${String(err)}`)
      t.match((err as StateError).message, dir, 'the error names the directory')
      t.match((err as StateError).hint, /snapshot|--clean-state/, 'and says what to do')
      outcome.corrupt++
    } finally {
      store?.close()
    }
    t.ok(existsSync(join(dir, 'data.mdb')) && readFileSync(join(dir, 'data.mdb')).length > 0, 'the damaged file is left as it was, not wiped')
  }
  t.comment(`${sample.length} damaged pages: ${outcome.corrupt} DORA_STATE_CORRUPT, ${outcome.correct} read correctly`)
  t.ok(outcome.corrupt > 0, 'damage was found')
})

t.test('a state store closed cleanly is not read in full again; one changed since is', async (t) => {
  const dir = join(t.testdir({}), 'state')
  pristineState(dir)
  const stampFile = join(dir, VERIFIED_FILE)
  const stamp = readFileSync(stampFile, 'utf8')
  t.ok(stamp.length > 0, 'a clean close leaves the stamp')
  const again = StateStore.open({ dir, durability: 'process' })
  t.equal(readFileSync(stampFile, 'utf8'), stamp, 'unchanged since: opened without a full read')
  again.close()
  // Anything that touches the file after the clean close (here only its mtime) makes the next
  // open verify it, which records the file as it found it.
  utimesSync(join(dir, 'data.mdb'), new Date(), new Date(2020, 0, 1))
  const verified = StateStore.open({ dir, durability: 'process' })
  t.not(readFileSync(stampFile, 'utf8'), stamp, 'changed since: verified on open')
  verified.close()
})

t.test('a 0-byte data.mdb and a file of another format are refused, never recreated', async (t) => {
  const root = t.testdir({})
  for (const [name, content] of [
    ['empty', ''],
    ['text', 'this is not a database\n'.repeat(1000)],
    ['sqlite', Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(8192)])],
  ] as const) {
    const stateDir = join(root, `state-${name}`)
    mkdirSync(stateDir)
    writeFileSync(join(stateDir, 'data.mdb'), content)
    const stateErr = t.throws(() => StateStore.open({ dir: stateDir, durability: 'process' })) as StateError
    t.equal(stateErr.code, 'DORA_STATE_CORRUPT', `state, ${name}: ${stateErr.message}`)
    t.match(stateErr.message, stateDir)
    t.equal(readFileSync(join(stateDir, 'data.mdb')).length, Buffer.byteLength(content), 'the file is left as it was')

    const kvsDir = join(root, `kvs-${name}`)
    mkdirSync(kvsDir)
    writeFileSync(join(kvsDir, 'data.mdb'), content)
    const kvsErr = t.throws(() => KvsStore.open({ dir: kvsDir })) as KvsError
    t.equal(kvsErr.code, 'DORA_KVS_CORRUPT', `KVS, ${name}: ${kvsErr.message}`)
    t.match(kvsErr.message, kvsDir)
    t.equal(readFileSync(join(kvsDir, 'data.mdb')).length, Buffer.byteLength(content), 'the file is left as it was')
  }
})

t.test('a KVS with a damaged page is DORA_KVS_CORRUPT for a verifying open (the CLI, the supervisor), not a crash', async (t) => {
  const root = t.testdir({})
  const dir = join(root, 'kvs')
  const store = KvsStore.open({ dir })
  const ns = store.namespace('n')
  for (let i = 0; i < 200; i++) ns.write(`key/${i}`, Buffer.from(`value ${i}`))
  store.close()
  const report = inspectDataFile(dir)
  if (report.kind !== 'ok') throw new Error(report.kind)
  let corrupt = 0
  for (const page of samplePages(Number(report.lastPage), 6, 43)) {
    const trial = join(root, `trial-${page}`)
    copyStore(dir, trial)
    damagePage(trial, page, report.pageSize, random(2000 + page))
    try {
      const opened = KvsStore.open({ dir: trial, verify: true })
      try {
        const values = opened.namespace('n').list('key/')
        t.equal(values.length, 200, `page ${page}: opened, so every key must read back`)
      } finally {
        opened.close()
      }
    } catch (err) {
      t.ok(err instanceof KvsError && err.code === 'DORA_KVS_CORRUPT', `page ${page}: ${String(err)}`)
      corrupt++
    }
  }
  t.ok(corrupt > 0, `${corrupt} damaged pages found`)
})
