/**
 * The lost-commit guard (src/store/kvs/write-base.ts). What another process's open does to
 * LMDB's shared record of the last commit (lock.mdb `mti_txnid`, at byte 8 on 64-bit Linux,
 * whatever the mutex kind) is done here on purpose, from a child process: set back by one
 * transaction, as an open racing with a commit leaves it. The race itself (a few
 * microseconds wide) is what processes.test.ts's open/update/close churn hits now and then.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { endianness } from 'node:os'
import { join } from 'node:path'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { writeBaseRepairCount } from '../../../src/store/kvs/write-base.js'
import { fixture } from '../../fixtures/nodes.js'

const LMDB_LOCK_MAGIC = 0xbeefc0de
const TXNID_OFFSET = 8

const str = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString())

/**
 * The last-commit id lock.mdb records, checked to sit where this test assumes. Read in another
 * process: closing a descriptor of lock.mdb here would drop this process's lock on it (POSIX
 * record locks belong to the process), and the next opener would take the lock region for
 * unused and tear it down.
 */
function recordedTxnId(t: Test, dir: string): bigint {
  const source = `const b = require('node:fs').readFileSync(process.argv[1]); process.stdout.write(b.readUInt32LE(0) + ' ' + b.readBigUInt64LE(${TXNID_OFFSET}))`
  const result = spawnSync(process.execPath, ['-e', source, join(dir, 'lock.mdb')], { encoding: 'utf8' })
  const [magic, id] = result.stdout.split(' ')
  t.equal(Number(magic), LMDB_LOCK_MAGIC, 'lock.mdb is an LMDB lock file')
  return BigInt(id ?? '0')
}

/** Write `id` as the recorded last commit, from another process. */
function setRecordedTxnId(dir: string, id: bigint): void {
  const source = `const fs = require('node:fs'); const b = Buffer.alloc(8); b.writeBigUInt64LE(${id}n); const fd = fs.openSync(process.argv[1], 'r+'); fs.writeSync(fd, b, 0, 8, ${TXNID_OFFSET}); fs.closeSync(fd)`
  const result = spawnSync(process.execPath, ['-e', source, join(dir, 'lock.mdb')], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`could not write lock.mdb: ${result.stderr}`)
}

/** A store with keys a and b written in two commits, and the record set back to before b's. */
function staleAfterB(t: Test): { store: KvsStore; dir: string } {
  const dir = join(t.testdir({}), 'kvs')
  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  const ns = store.namespace('ns')
  ns.write('a', Buffer.from('1'))
  const before = recordedTxnId(t, dir)
  ns.write('b', Buffer.from('2'))
  const after = recordedTxnId(t, dir)
  t.equal(after, before + 1n, 'one commit recorded')
  setRecordedTxnId(dir, before)
  return { store, dir }
}

const layoutKnown = endianness() === 'LE' && ['x64', 'arm64'].includes(process.arch) && process.platform === 'linux'

t.test(
  'regression: a write after an open set the record of the last commit back does not undo that commit (issue 12 lost update)',
  { skip: !layoutKnown && 'lock.mdb layout of 64-bit Linux only' },
  async (t) => {
    const { store, dir } = staleAfterB(t)
    const ns = store.namespace('ns')
    const repairs = writeBaseRepairCount()
    // Before the guard this write was built on the state before b's commit and overwrote it.
    ns.write('c', Buffer.from('3'))
    t.equal(writeBaseRepairCount(), repairs + 1, 'the writer found the stale record and repaired it')
    t.same([str(ns.read('a')), str(ns.read('b')), str(ns.read('c'))], ['1', '2', '3'], 'no commit lost')
    const ids = recordedTxnId(t, dir)
    ns.update('n', () => Buffer.from('x'))
    t.equal(recordedTxnId(t, dir), ids + 1n, 'later commits go on from the newest one')
  },
)

t.test('update and compareAndSet after a stale record see the newest value', { skip: !layoutKnown && 'lock.mdb layout of 64-bit Linux only' }, async (t) => {
  const { store } = staleAfterB(t)
  const ns = store.namespace('ns')
  let seen: string | undefined
  ns.update('b', (old) => {
    seen = str(old)
    return Buffer.from('20')
  })
  t.equal(seen, '2', 'the update function got the value of the newest commit')
  t.equal(ns.compareAndSet('b', Buffer.from('20'), Buffer.from('200')), true)
  t.equal(str(ns.read('b')), '200')
})

t.test(
  'a process that opens the KVS repairs a stale record, so readers see the newest commit again',
  { skip: !layoutKnown && 'lock.mdb layout of 64-bit Linux only' },
  async (t) => {
    const { store, dir } = staleAfterB(t)
    const ns = store.namespace('ns')
    t.equal(ns.read('b'), undefined, 'while stale, a reader sees the state before b (why openers check at once)')
    // Any process opening the KVS: here one that opens it and closes it again.
    const opener = spawn(process.execPath, [fixture('kvs-child.mjs'), 'churn', dir, 'ns', '1'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    opener.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const code = await new Promise<number | null>((resolve) => opener.once('close', resolve))
    t.equal(code, 0, `the opener exited cleanly${stderr === '' ? '' : `: ${stderr}`}`)
    t.equal(str(ns.read('b')), '2', 'the reader sees b again')
  },
)
