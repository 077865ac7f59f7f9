/**
 * Every KVS value carries a checksum of its key and bytes (src/store/lmdb/checksum.ts): bytes
 * changed on disk inside a value, which LMDB's page structure cannot show, read as
 * DORA_KVS_CORRUPT naming the key, never as the value. A KVS written before the checksums
 * (layout 1) still opens, reads and writes as it did.
 */
import t, { type Test } from 'tap'
import { closeSync, cpSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { lmdbJs } from '../../../src/store/lmdb/lmdb-js.js'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { KvsError } from '../../../src/store/kvs/errors.js'
import { crc32 } from '../../../src/store/lmdb/checksum.js'
import { writeRawStore } from '../fixtures/raw-store.js'

const MARK = 'seal-test-value:'

/** A value that is unique in the file: its mark and its key, then filler. */
const valueOf = (key: string, size = 300): Buffer => Buffer.from((MARK + key + ':').padEnd(size, 'v'))

/** Change one byte in the middle of every copy of `key`'s value in `dir`'s data file (the namespace's and the change log's, or just the `nth`). */
function damageValue(dir: string, key: string, nth?: number): number {
  const file = join(dir, 'data.mdb')
  const bytes = readFileSync(file)
  const needle = valueOf(key).subarray(0, MARK.length + key.length + 1)
  const found: number[] = []
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) found.push(at)
  const targets = nth === undefined ? found : found.slice(nth, nth + 1)
  const fd = openSync(file, 'r+')
  try {
    // 'v' -> 'w': still printable text, the length unchanged: only a checksum can tell.
    for (const at of targets) writeSync(fd, Buffer.from('w'), 0, 1, at + 150)
  } finally {
    closeSync(fd)
  }
  return found.length
}

function corruptError(t: Test, fn: () => unknown, key: string, dir: string): void {
  try {
    fn()
    t.fail('read the damaged value as data')
  } catch (err) {
    t.ok(err instanceof KvsError, `a KvsError: ${String(err)}`)
    const e = err as KvsError
    t.equal(e.code, 'DORA_KVS_CORRUPT')
    t.match(e.message, `"${key}"`, 'names the key')
    t.match(e.message, dir, 'names the KVS directory')
    t.match(e.message, /checksum/, 'says what did not match')
    t.match(e.hint ?? '', /kvs rm -n robot "b"/, 'says how to mend the key')
    t.match(e.hint ?? '', /move .* aside/, 'and the way out for a KVS that is damaged all over')
  }
}

t.test('bytes changed inside a value read as DORA_KVS_CORRUPT; the other keys read as before', (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const store = KvsStore.open({ dir })
  const ns = store.namespace('robot')
  for (const key of ['a', 'b', 'c']) ns.write(key, valueOf(key))
  store.close()
  // The namespace's copy and the change log's (and maybe freed pages that held it before).
  t.ok(damageValue(dir, 'b') >= 2, 'the value is in the namespace and in its change log')

  const again = KvsStore.open({ dir })
  t.teardown(() => again.close())
  const robot = again.namespace('robot')
  corruptError(t, () => robot.read('b'), 'b', dir)
  corruptError(t, () => robot.list(), 'b', dir)
  corruptError(t, () => robot.update('b', (v) => v), 'b', dir)
  corruptError(t, () => robot.compareAndSet('b', valueOf('b'), Buffer.from('x')), 'b', dir)
  t.same(robot.read('a'), valueOf('a'), 'a key beside it reads its own bytes')
  t.same(
    robot.list('c').map((e) => Buffer.from(e.value).toString()),
    [valueOf('c').toString()],
    'a listing that does not reach it reads',
  )
  // Writing the key anew replaces the damaged value: the KVS is usable again without a wipe.
  robot.write('b', Buffer.from('fresh'))
  t.equal(Buffer.from(robot.read('b') ?? []).toString(), 'fresh')
  t.end()
})

t.test('a damaged change-log entry fails the watch that reads it, naming the log', (t) => {
  const base = join(t.testdir({}), 'kvs')
  const store = KvsStore.open({ dir: base })
  const ns = store.namespace('robot')
  const start = ns.watchStart('')
  ns.write('a', valueOf('a'))
  ns.write('b', valueOf('b'))
  store.close()
  // Where each copy lies is LMDB's business: damage each in turn, each in a copy of the KVS.
  const copies = damageValue(base, 'b', Number.MAX_SAFE_INTEGER)
  const failed = { read: 0, log: 0 }
  for (let nth = 0; nth < copies; nth++) {
    const dir = `${base}-${nth}`
    cpSync(base, dir, { recursive: true })
    damageValue(dir, 'b', nth)
    const again = KvsStore.open({ dir })
    const robot = again.namespace('robot')
    try {
      robot.read('b')
    } catch (err) {
      failed.read++
      t.equal((err as KvsError).code, 'DORA_KVS_CORRUPT')
    }
    try {
      robot.changesSince(start, '', 100)
    } catch (err) {
      failed.log++
      t.equal((err as KvsError).code, 'DORA_KVS_CORRUPT')
      t.match((err as KvsError).message, /change log/, 'names the change log')
    }
    t.equal(Buffer.from(robot.read('a') ?? []).toString(), valueOf('a').toString(), 'the other key reads')
    again.close()
  }
  t.equal(failed.read, 1, 'the namespace copy, damaged, fails the read')
  t.equal(failed.log, 1, "the log's copy, damaged, fails the watch")
  t.end()
})

t.test('a KVS written before checksums (layout 1) opens, reads and writes raw values', (t) => {
  const dir = join(t.testdir({}), 'kvs')
  // What dora-ts wrote before: the layout record of version 1 and values as they are.
  writeRawStore(dir, { __meta__: { layout: JSON.stringify({ format: 'dora-ts-kvs', version: 1 }) }, 'ns/robot': { pose: 'x=1' } })

  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  const ns = store.namespace('robot')
  t.equal(Buffer.from(ns.read('pose') ?? []).toString(), 'x=1', 'an old value reads as it was')
  ns.write('speed', Buffer.from('0.5'))
  t.equal(Buffer.from(ns.read('speed') ?? []).toString(), '0.5')
  t.same(
    ns.list().map((e) => e.key),
    ['pose', 'speed'],
  )
  t.end()
})

t.test('a new KVS stores each value with the CRC-32 of its key and bytes after it', (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const store = KvsStore.open({ dir })
  store.namespace('robot').write('pose', Buffer.from('x=1'))
  store.close()
  const env = lmdbJs().open<Buffer, Buffer>({ path: dir, maxDbs: 10, keyEncoding: 'binary', encoding: 'binary', readOnly: true })
  t.teardown(() => env.close())
  const layout = env.openDB<Buffer, Buffer>({ name: '__meta__', keyEncoding: 'binary', encoding: 'binary' }).get(Buffer.from('layout'))
  t.same(JSON.parse(String(layout)), { format: 'dora-ts-kvs', version: 2 })
  const stored = env.openDB<Buffer, Buffer>({ name: 'ns/robot', keyEncoding: 'binary', encoding: 'binary' }).get(Buffer.from('pose'))
  t.ok(stored !== undefined)
  const expected = Buffer.alloc(4)
  expected.writeUInt32LE(crc32(Buffer.from('x=1'), crc32('pose')))
  t.same(stored, Buffer.concat([Buffer.from('x=1'), expected]))
  t.end()
})
