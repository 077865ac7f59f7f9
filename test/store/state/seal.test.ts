/**
 * Every value of a state store (an operator's state, its meta record, a message waiting in the
 * outbox) carries a checksum of its key and bytes (src/store/lmdb/checksum.ts): bytes changed
 * on disk inside it read as DORA_STATE_CORRUPT naming the operator, never as state. A store
 * written before the checksums (layout 1) still opens, reads and commits as it did.
 */
import t, { type Test } from 'tap'
import { closeSync, cpSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { operatorHeader, writeRawStore } from '../fixtures/raw-store.js'
import { encodeOutboxValue, eventOrder, outboxKey } from '../../../src/store/state/outbox.js'
import { StateStore } from '../../../src/store/state/store.js'
import { StateError } from '../../../src/store/state/errors.js'

const meta = (lastEvent: bigint) => ({ lastEvent, seen: new Map<string, [bigint, number]>() })
const header = operatorHeader('1.0')

/** Every offset of `needle` in the data file of the store in `dir`. */
function offsets(dir: string, needle: Buffer): number[] {
  const bytes = readFileSync(join(dir, 'data.mdb'))
  const found: number[] = []
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) found.push(at)
  return found
}

/** Overwrite one byte at `at` in the store's data file with a printable one that differs. */
function damageAt(dir: string, at: number): void {
  const file = join(dir, 'data.mdb')
  const old = readFileSync(file).subarray(at, at + 1)[0]
  const fd = openSync(file, 'r+')
  try {
    writeSync(fd, Buffer.from([old === 0x77 ? 0x78 : 0x77]), 0, 1, at)
  } finally {
    closeSync(fd)
  }
}

/**
 * Damage each copy of `needle` (at `shift` bytes into it) in a copy of the store each, and run
 * `read` on it: returns how many copies failed it with DORA_STATE_CORRUPT (the others are
 * pages LMDB freed, which no read reaches).
 */
function damagedReads(t: Test, base: string, needle: Buffer, shift: number, read: (store: StateStore, dir: string) => void): number {
  let corrupt = 0
  const found = offsets(base, needle)
  t.ok(found.length >= 1, `the bytes are in the file (${found.length} copies)`)
  for (const [i, at] of found.entries()) {
    const dir = `${base}-${i}`
    cpSync(base, dir, { recursive: true })
    damageAt(dir, at + shift)
    const store = StateStore.open({ dir, durability: 'process' })
    try {
      read(store, dir)
    } catch (err) {
      t.ok(err instanceof StateError, `a StateError: ${String(err)}`)
      t.equal((err as StateError).code, 'DORA_STATE_CORRUPT')
      t.match((err as StateError).message, dir, 'names the store')
      t.match((err as StateError).message, '"n/', 'names the operator')
      t.match((err as StateError).message, /checksum/, 'says what did not match')
      t.match((err as StateError).hint ?? '', /snapshot/, 'says what to do')
      corrupt++
    } finally {
      store.close()
    }
  }
  return corrupt
}

t.test("bytes changed inside an operator's state value, or its meta record, read as DORA_STATE_CORRUPT", (t) => {
  const base = join(t.testdir(), 'state')
  const store = StateStore.open({ dir: base, durability: 'process' })
  store.operator('n/o').commit([{ key: 'pose', value: Buffer.from('seal-test-pose:' + 'v'.repeat(200)) }], meta(41n))
  store.operator('n/p').commit([{ key: 'other', value: Buffer.from('untouched') }], meta(3n))
  store.close()

  const load = (s: StateStore): void => void s.operator('n/o').load()
  t.equal(damagedReads(t, base, Buffer.from('seal-test-pose:'), 100, load), 1, 'the live copy of the value, damaged, fails the load')
  t.equal(damagedReads(t, base, Buffer.from('{"lastEvent":"41"'), 15, load), 1, 'the live meta record, damaged, fails the load')
  // The operator beside it still loads.
  const copy = `${base}-0`
  const again = StateStore.open({ dir: copy, durability: 'process' })
  t.teardown(() => again.close())
  t.equal(Buffer.from(again.operator('n/p').load().state.get('other') ?? []).toString(), 'untouched')
  t.end()
})

t.test('bytes changed inside a message waiting in the outbox read as DORA_STATE_CORRUPT', (t) => {
  const base = join(t.testdir(), 'state')
  const store = StateStore.open({ dir: base, durability: 'process' })
  const key = outboxKey('n/b', 'in', 'n/a', eventOrder(1, 0))
  const payload = Buffer.from('seal-test-message:' + 'm'.repeat(200))
  store.operator('n/a').commit([], meta(1n), { put: [{ key, ...encodeOutboxValue(header, payload) }], remove: [] })
  store.close()
  const pending = (s: StateStore): void => void s.operator('n/b').pending('flow')
  t.equal(damagedReads(t, base, Buffer.from('seal-test-message:'), 100, pending), 1, 'the waiting message, damaged, fails the read')
  t.end()
})

t.test('a store written before checksums (layout 1) opens, loads and commits raw values', (t) => {
  const dir = join(t.testdir(), 'state')
  // What dora-ts wrote before: the layout record of version 1, values and meta as they are.
  writeRawStore(dir, {
    __meta__: { layout: JSON.stringify({ format: 'dora-ts-state', version: 1 }), 'op/n/o': '{"lastEvent":"7","seen":{}}' },
    'op/n/o': { pose: 'x=1' },
  })

  let store = StateStore.open({ dir, durability: 'process' })
  const loaded = store.operator('n/o').load()
  t.equal(loaded.meta.lastEvent, 7n, 'the old meta record reads')
  t.equal(Buffer.from(loaded.state.get('pose') ?? []).toString(), 'x=1', 'the old value reads as it was')
  store.operator('n/o').commit([{ key: 'speed', value: Buffer.from('0.5') }], meta(8n))
  store.close()
  store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const after = store.operator('n/o').load()
  t.equal(after.meta.lastEvent, 8n)
  t.same(
    [...after.state].map(([k, v]) => `${k}=${Buffer.from(v).toString()}`),
    ['pose=x=1', 'speed=0.5'],
    'old and new values read alike',
  )
  t.end()
})
