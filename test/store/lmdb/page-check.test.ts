/**
 * The page walk of the probe (page-check.ts): healthy stores, churned (deletes, values on
 * overflow pages, several databases, a free list) hold together; a leaf page whose free-space
 * bounds are damaged reads well but makes the first write that adds to it abort the process
 * (the torture run with seed 20261216 found it), and a verifying open now refuses it as
 * DORA_KVS_CORRUPT; a free list that names pages outside the file is found too. The writes
 * that must die run in child processes; the verifying opens in this one (a miss would crash it).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { findPageDamage } from '../../../src/store/lmdb/page-check.js'
import { inspectDataFile } from '../../../src/store/lmdb/preflight.js'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { KvsError } from '../../../src/store/kvs/errors.js'
import { StateStore } from '../../../src/store/state/store.js'
import { ROOT } from '../../fixtures/paths.js'

const HEADER = 24
const P_LEAF = 0x02

function walk(dir: string): string | undefined {
  const fd = openSync(join(dir, 'data.mdb'), 'r')
  try {
    return findPageDamage((position, length) => {
      const bytes = Buffer.alloc(length)
      return bytes.subarray(0, readSync(fd, bytes, 0, length, position))
    })
  } finally {
    closeSync(fd)
  }
}

/** Read or write `bytes.length` bytes at `position` of `<dir>/data.mdb`. */
function at(dir: string, position: number, bytes: Buffer, write = false): Buffer {
  const fd = openSync(join(dir, 'data.mdb'), write ? 'r+' : 'r')
  try {
    if (write) writeSync(fd, bytes, 0, bytes.length, position)
    else readSync(fd, bytes, 0, bytes.length, position)
    return bytes
  } finally {
    closeSync(fd)
  }
}

/** A closed KVS with two namespaces written, rewritten and partly deleted several times. */
function churnedKvs(dir: string): void {
  const store = KvsStore.open({ dir })
  try {
    for (const name of ['a', 'b']) {
      const ns = store.namespace(name)
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 150; i++) ns.write(`key/${i}`, Buffer.alloc(i % 25 === 0 ? 9000 : 40 + ((round * 37 + i) % 300), round))
        for (let i = round; i < 150; i += 7) ns.delete(`key/${i}`)
      }
    }
  } finally {
    store.close()
  }
}

t.test('healthy stores hold together: a churned KVS and a state store', async (t) => {
  const root = t.testdir({})
  const kvs = join(root, 'kvs')
  churnedKvs(kvs)
  t.equal(walk(kvs), undefined)
  const state = join(root, 'state')
  const store = StateStore.open({ dir: state, durability: 'process' })
  for (let i = 0; i < 300; i++) {
    store
      .operator(`flow/op${i % 3}`)
      .commit([{ key: `k${i % 40}`, value: Buffer.alloc(i % 11 === 0 ? 20_000 : 100, i) }], { lastEvent: BigInt(i + 1), seen: new Map() })
  }
  store.close()
  t.equal(walk(state), undefined)
})

t.test('a leaf page with damaged free-space bounds: an unverified write dies of SIGABRT, a verifying open refuses it', async (t) => {
  const root = t.testdir({})
  const dir = join(root, 'kvs')
  churnedKvs(dir)
  const report = inspectDataFile(dir)
  if (report.kind !== 'ok') throw new Error(report.kind)
  const { pageSize } = report
  let died = 0
  let leaves = 0
  // Two pages that kill a writer are enough (each trial starts a process); from the file's end,
  // where the newest pages (the live tree's, more likely than freed ones) are. The writer adds
  // keys that are not in the store, one beside each key of both namespaces, so its first
  // change to any of their leaf pages is an add: rewriting a key first deletes its entry,
  // which restores the bounds, and the trials then ran until a page met a re-added deleted key
  // (42 processes, 36 s of the suite under load; 7 now).
  for (let page = Number(report.lastPage); page >= 2 && died < 2; page--) {
    const header = at(dir, page * pageSize, Buffer.alloc(HEADER))
    if (header.readBigUInt64LE(0) !== BigInt(page) || header.readUInt16LE(18) !== P_LEAF || header.readUInt16LE(20) < 4) continue
    leaves++
    const trial = join(root, `trial-${page}`)
    mkdirSync(trial)
    copyFileSync(join(dir, 'data.mdb'), join(trial, 'data.mdb'))
    // mp_upper just below mp_lower: every entry still reads; adding one trips LMDB's assertion.
    const bounds = Buffer.alloc(2)
    bounds.writeUInt16LE(header.readUInt16LE(20) - 2)
    at(trial, page * pageSize + 22, bounds, true)
    const writer = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { openKvs } from 'dora-ts'; const kvs = openKvs({ dir: process.argv[1], namespace: 'a' }); const other = openKvs({ dir: process.argv[1], namespace: 'b' }); for (let i = 0; i < 150; i++) { kvs.write('key/' + i + '+', Buffer.alloc(333)); other.write('key/' + i + '+', Buffer.alloc(333)) } kvs.close(); other.close()`,
        trial,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    )
    if (writer.signal === null) continue
    died++
    t.comment(`page ${page}: the writer died after ${leaves} leaf pages tried`)
    t.equal(writer.signal, 'SIGABRT', `page ${page}: ${writer.stderr.trim().split('\n').pop() ?? ''}`)
    t.match(walk(trial) ?? '', new RegExp(`page ${page} of .* free-space bounds`), `page ${page}: the walk names it`)
    try {
      KvsStore.open({ dir: trial, verify: true }).close()
      t.fail(`page ${page}: a verifying open took the damaged KVS`)
    } catch (err) {
      t.ok(err instanceof KvsError && err.code === 'DORA_KVS_CORRUPT', `page ${page}: ${String(err)}`)
      t.match(String(err), /free-space bounds/, 'the message says what is damaged')
    }
  }
  t.ok(leaves > 0 && died > 0, `${died} of ${leaves} leaf pages made a write die`)
})

t.test('a free list naming a page past the end of the file is found', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  churnedKvs(dir)
  const report = inspectDataFile(dir)
  if (report.kind !== 'ok') throw new Error(report.kind)
  const { pageSize } = report
  // The newest meta page's free-list root (mm_dbs[FREE_DBI].md_root), then its first entry.
  const metas = [0, 1].map((m) => at(dir, m * pageSize, Buffer.alloc(256)))
  const meta = metas[0]!.readBigUInt64LE(152) > metas[1]!.readBigUInt64LE(152) ? metas[0]! : metas[1]!
  const freeRoot = Number(meta.readBigUInt64LE(48 + 40))
  t.ok(meta.readUInt16LE(48 + 6) === 1, 'the free list is one leaf page (a small store)')
  const leaf = at(dir, freeRoot * pageSize, Buffer.alloc(pageSize))
  t.ok(leaf.readUInt16LE(20) >= 2, 'with at least one entry')
  const node = HEADER + leaf.readUInt16LE(HEADER)
  t.equal(leaf.readUInt16LE(node + 4) & 1, 0, 'held on the page itself')
  const list = node + 8 + leaf.readUInt16LE(node + 6)
  t.ok(leaf.readBigUInt64LE(list) >= 1n, 'listing at least one page')
  const far = Buffer.alloc(8)
  far.writeBigUInt64LE(report.lastPage + 1000n)
  at(dir, freeRoot * pageSize + list + 8, far, true)
  t.match(walk(dir) ?? '', /free-list entry 0 of page \d+ lists pages? \d+/)
})
