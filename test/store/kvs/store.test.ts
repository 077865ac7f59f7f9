/**
 * The shared KVS in one process: reads, writes, list order, update and compare-and-set,
 * watch, the log trim, limits and errors. The multi-process guarantees are in
 * processes.test.ts.
 */
import t, { type Test } from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  KVS_LOG_KEEP_TXNS,
  KVS_LOG_TRIM_BATCH_TXNS,
  KvsStore,
  MAX_KVS_VALUE_BYTES,
  MIN_KVS_MAP_SIZE_BYTES,
  type KvsChange,
  type KvsWatch,
} from '../../../src/store/kvs/store.js'
import { KvsBadKeyError, KvsError, KvsValueTooLargeError, KVS_ERROR_CODES, type KvsErrorCode } from '../../../src/store/kvs/errors.js'
import { StateStore } from '../../../src/store/state/store.js'
import { deserializeError, serializeError } from '../../../src/errors.js'

const text = (s: string): Uint8Array => Buffer.from(s)
const str = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString())

function openStore(t: Test, mapSizeBytes?: number): KvsStore {
  const store = KvsStore.open({ dir: join(t.testdir({}), 'kvs'), ...(mapSizeBytes === undefined ? {} : { mapSizeBytes }) })
  t.teardown(() => store.close())
  return store
}

/** The error `fn` throws, checked to be a KvsError with `code`. */
function kvsError(t: Test, fn: () => unknown, code: KvsErrorCode): KvsError | undefined {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof KvsError, `a KvsError: ${String(err)}`)
    t.equal((err as KvsError).code, code)
    t.type((err as KvsError).hint, 'string', 'with a hint')
    return err as KvsError
  }
  t.fail(`expected ${code}`)
  return undefined
}

/** The next `n` changes of a watch (bounded: fails after 10 s). */
async function take(watch: KvsWatch, n: number): Promise<KvsChange[]> {
  const changes: KvsChange[] = []
  const deadline = setTimeout(() => watch.close(), 10_000)
  try {
    while (changes.length < n) {
      const next = await watch.next()
      if (next.done === true) break
      changes.push(next.value)
    }
  } finally {
    clearTimeout(deadline)
  }
  return changes
}

t.test('a write is read back; delete removes it; namespaces are separate pools', async (t) => {
  const store = openStore(t)
  const robot = store.namespace('robot')
  const other = store.namespace('other')
  t.equal(robot.read('pose'), undefined, 'absent before the first write')
  robot.write('pose', text('1,2'))
  t.equal(str(robot.read('pose')), '1,2')
  t.equal(other.read('pose'), undefined, 'another namespace does not see it')
  robot.write('pose', text('3,4'))
  t.equal(str(robot.read('pose')), '3,4', 'the latest write wins')
  t.equal(robot.delete('pose'), true)
  t.equal(robot.delete('pose'), false, 'deleting an absent key says so')
  t.equal(robot.read('pose'), undefined)
  t.same(store.namespaces(), ['robot'], 'only namespaces that were written to exist')
  t.equal(other.delete('x'), false, 'a namespace that does not exist yet has no keys')
  t.same(other.list(), [])
})

t.test('a value is a copy: changing the written or the read bytes changes nothing stored', async (t) => {
  const ns = openStore(t).namespace('n')
  const bytes = text('abc')
  ns.write('k', bytes)
  bytes[0] = 0x7a
  const read = ns.read('k')!
  read[1] = 0x7a
  t.equal(str(ns.read('k')), 'abc')
})

t.test('list returns keys and values in UTF-8 byte order, by prefix, with a limit, from one snapshot', async (t) => {
  const ns = openStore(t).namespace('n')
  for (const key of ['b/2', 'a', 'b/1', 'b/10', 'c', 'é', 'b']) ns.write(key, text(`v-${key}`))
  t.same(
    ns.list().map((e) => e.key),
    ['a', 'b', 'b/1', 'b/10', 'b/2', 'c', 'é'],
  )
  t.same(
    ns.list('b/').map((e) => [e.key, str(e.value)]),
    [
      ['b/1', 'v-b/1'],
      ['b/10', 'v-b/10'],
      ['b/2', 'v-b/2'],
    ],
  )
  t.same(
    ns.list('b', { limit: 2 }).map((e) => e.key),
    ['b', 'b/1'],
  )
  t.same(ns.list('zz'), [])
  t.same(ns.list('', { limit: 0 }), [])
})

t.test('bad keys are refused with DORA_KVS_BAD_KEY naming the key and the directory; nothing is written', async (t) => {
  const store = openStore(t)
  const ns = store.namespace('n')
  const err = kvsError(t, () => ns.write('', text('x')), 'DORA_KVS_BAD_KEY')
  t.match(err?.message, /a key must not be empty/)
  t.ok(err?.message.includes(store.dir), 'names the directory')
  t.match(err?.hint, /at most 511 UTF-8 bytes/)

  const long = 'k'.repeat(512)
  t.match(kvsError(t, () => ns.write(long, text('x')), 'DORA_KVS_BAD_KEY')?.message, /is 512 UTF-8 bytes long, the limit is 511 \(LMDB's key size limit\)/)
  // 171 three-byte characters: 513 bytes in 171 UTF-16 code units.
  kvsError(t, () => ns.read('€'.repeat(171)), 'DORA_KVS_BAD_KEY')
  ns.write('k'.repeat(511), text('fits'))
  t.equal(str(ns.read('k'.repeat(511))), 'fits', 'a key of exactly 511 bytes is fine')
  kvsError(t, () => ns.write('\uD800', text('x')), 'DORA_KVS_BAD_KEY')
  kvsError(t, () => ns.write(42 as never, text('x')), 'DORA_KVS_BAD_KEY')
  kvsError(t, () => ns.update('', () => text('x')), 'DORA_KVS_BAD_KEY')
  kvsError(t, () => ns.compareAndSet('', undefined, text('x')), 'DORA_KVS_BAD_KEY')
  kvsError(t, () => ns.delete(''), 'DORA_KVS_BAD_KEY')
  kvsError(t, () => ns.list('p'.repeat(600)), 'DORA_KVS_BAD_KEY')
  kvsError(t, () => ns.watch('p'.repeat(600)), 'DORA_KVS_BAD_KEY')
  t.same(
    ns.list().map((e) => e.key.length),
    [511],
    'only the good write landed',
  )
  kvsError(t, () => store.namespace(''), 'DORA_KVS_BAD_NAMESPACE')
  kvsError(t, () => store.namespace('a\0b'), 'DORA_KVS_BAD_NAMESPACE')
  kvsError(t, () => store.namespace('n'.repeat(256)), 'DORA_KVS_BAD_NAMESPACE')
})

t.test('a value over 64 MiB, or over what the map can hold, is refused with DORA_KVS_VALUE_TOO_LARGE', async (t) => {
  const ns = openStore(t).namespace('n')
  const err = kvsError(t, () => ns.write('big', new Uint8Array(MAX_KVS_VALUE_BYTES + 1)), 'DORA_KVS_VALUE_TOO_LARGE')
  t.match(err?.message, /key "big" .*the value is 67108865 bytes, the limit is 67108864 bytes \(64 MiB\)/)
  t.equal(err?.key, 'big')
  t.equal(ns.read('big'), undefined)
  kvsError(t, () => ns.update('big', () => new Uint8Array(MAX_KVS_VALUE_BYTES + 1)), 'DORA_KVS_VALUE_TOO_LARGE')
  t.equal(ns.read('big'), undefined, 'an update with a too large value writes nothing')

  const small = openStore(t, MIN_KVS_MAP_SIZE_BYTES).namespace('n')
  t.match(kvsError(t, () => small.write('big', new Uint8Array(MIN_KVS_MAP_SIZE_BYTES)), 'DORA_KVS_VALUE_TOO_LARGE')?.message, /can never hold it/)
  kvsError(t, () => small.write('s', 'text' as never), 'DORA_KVS_BAD_VALUE')
  kvsError(t, () => small.compareAndSet('s', 'x' as never, text('y')), 'DORA_KVS_BAD_VALUE')
})

t.test('a full KVS refuses writes with DORA_KVS_MAP_FULL, and takes them again once keys are deleted', async (t) => {
  const ns = openStore(t, 2 * MIN_KVS_MAP_SIZE_BYTES).namespace('n')
  const value = new Uint8Array(100 * 1024).fill(7)
  let written = 0
  let full: unknown
  for (let i = 0; i < 100 && full === undefined; i++) {
    try {
      ns.write(`k${i}`, value)
      written++
    } catch (err) {
      full = err
    }
  }
  t.ok(full instanceof KvsError && full.code === 'DORA_KVS_MAP_FULL', `full after ${written} values: ${String(full)}`)
  t.match((full as KvsError).hint, /delete keys that are no longer needed/)
  t.match((full as KvsError).hint, /kvs_map_size:.*--kvs-map-size/, 'the hint names the settings that exist')
  t.ok(written >= 5, 'it held several values first')
  t.equal(ns.read(`k${written}`), undefined, 'the refused write left nothing')
  for (let i = 0; i < written; i++) t.equal(ns.read(`k${i}`)?.length, value.length, `k${i} intact`)
  // Regression (issue 12): every kind of delete works on a full KVS (it was refused).
  t.equal(
    ns.update('k0', () => undefined),
    undefined,
    'update deleting on a full KVS',
  )
  t.equal(ns.compareAndSet('k1', value, undefined), true, 'compareAndSet deleting on a full KVS')
  for (let i = 2; i < written; i++) t.equal(ns.delete(`k${i}`), true, `delete k${i} on a full KVS`)
  ns.write('after', value)
  t.equal(ns.read('after')?.length, value.length, 'freed pages are reused (the change log gave way)')
})

t.test('a full KVS takes writes again when opened with a larger map size', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const small = KvsStore.open({ dir, mapSizeBytes: 2 * MIN_KVS_MAP_SIZE_BYTES })
  const value = new Uint8Array(100 * 1024).fill(7)
  let written = 0
  try {
    for (; written < 100; written++) small.namespace('n').write(`k${written}`, value)
  } catch (err) {
    t.equal((err as KvsError).code, 'DORA_KVS_MAP_FULL')
  } finally {
    small.close()
  }
  const large = KvsStore.open({ dir, mapSizeBytes: 8 * MIN_KVS_MAP_SIZE_BYTES })
  t.teardown(() => large.close())
  large.namespace('n').write('more', value)
  t.equal(large.namespace('n').read('more')?.length, value.length)
  t.equal(large.namespace('n').read('k0')?.length, value.length, 'the old values are intact')
})

t.test('update is a read-modify-write in one transaction', async (t) => {
  const ns = openStore(t).namespace('n')
  const seen: Array<string | undefined> = []
  t.equal(str(ns.update('c', (old) => (seen.push(str(old)), text('1')))), '1')
  t.equal(str(ns.update('c', (old) => (seen.push(str(old)), text(`${Number(str(old)) + 1}`)))), '2')
  t.same(seen, [undefined, '1'], 'the function gets the current value')
  t.equal(
    ns.update('c', () => undefined),
    undefined,
  )
  t.equal(ns.read('c'), undefined, 'returning undefined deletes the key')
  t.equal(
    ns.update('never', () => undefined),
    undefined,
    'deleting an absent key is a no-op',
  )

  ns.write('c', text('5'))
  const boom = new Error('boom')
  t.throws(
    () =>
      ns.update('c', () => {
        ns.write('other', text('x'))
        throw boom
      }),
    boom,
    "the function's own error comes back unchanged",
  )
  t.equal(str(ns.read('c')), '5', 'nothing is written when the function throws')
  t.equal(ns.read('other'), undefined, 'not even a write made inside it')

  const promise = kvsError(t, () => ns.update('c', (() => Promise.resolve(text('9'))) as never), 'DORA_KVS_BAD_VALUE')
  t.match(promise?.message, /returned a Promise/)
  t.equal(str(ns.read('c')), '5')
  kvsError(t, () => ns.update('c', 'not a function' as never), 'DORA_KVS_BAD_VALUE')
})

t.test('writes inside an update function commit with it, across namespaces, and see each other', async (t) => {
  const store = openStore(t)
  const a = store.namespace('a')
  const b = store.namespace('b')
  const watch = b.watch()
  t.teardown(() => watch.close())
  a.update('x', () => {
    b.write('y', text('from inside'))
    t.equal(str(b.read('y')), 'from inside', 'a read inside sees the write made inside')
    t.equal(b.update('z', () => text('nested')) !== undefined, true)
    t.same(
      b.list().map((e) => e.key),
      ['y', 'z'],
    )
    return text('outer')
  })
  t.equal(str(a.read('x')), 'outer')
  t.equal(str(b.read('y')), 'from inside')
  const changes = await take(watch, 2)
  t.same(
    changes.map((c) => [c.type, 'key' in c ? c.key : '']),
    [
      ['put', 'y'],
      ['put', 'z'],
    ],
  )
  t.equal(changes[0]?.seq, changes[1]?.seq, 'one transaction, one sequence number')
})

t.test('compareAndSet sets only when the value matches, byte for byte', async (t) => {
  const ns = openStore(t).namespace('n')
  t.equal(ns.compareAndSet('leader', undefined, text('a')), true, 'claim an absent key')
  t.equal(ns.compareAndSet('leader', undefined, text('b')), false, 'a second claim fails')
  t.equal(ns.compareAndSet('leader', text('b'), text('c')), false, 'a wrong expected value fails')
  t.equal(ns.compareAndSet('leader', text('ab'), text('c')), false, 'a longer expected value fails')
  t.equal(str(ns.read('leader')), 'a')
  t.equal(ns.compareAndSet('leader', text('a'), text('b')), true)
  t.equal(str(ns.read('leader')), 'b')
  t.equal(ns.compareAndSet('leader', text('b'), undefined), true, 'undefined as next deletes')
  t.equal(ns.read('leader'), undefined)
  t.equal(ns.compareAndSet('leader', undefined, undefined), true, 'absent stays absent')
})

t.test('watch yields the changes after it started, in order, filtered by prefix', async (t) => {
  const ns = openStore(t).namespace('n')
  ns.write('settings/before', text('old'))
  const watch = ns.watch('settings/', { intervalMs: 5 })
  t.teardown(() => watch.close())
  ns.write('settings/speed', text('1'))
  ns.write('other', text('ignored'))
  ns.delete('settings/before')
  const big = new Uint8Array(4097).fill(3)
  ns.write('settings/map', big)
  ns.update('settings/speed', () => text('2'))
  ns.delete('settings/absent')
  const changes = await take(watch, 4)
  t.same(
    changes.map((c) =>
      c.type === 'put' ? ['put', c.key, c.value.length === big.length ? 'big' : str(c.value)] : c.type === 'delete' ? ['delete', c.key] : [c.type],
    ),
    [
      ['put', 'settings/speed', '1'],
      ['delete', 'settings/before'],
      ['put', 'settings/map', 'big'],
      ['put', 'settings/speed', '2'],
    ],
  )
  const seqs = changes.map((c) => c.seq)
  t.same(
    seqs,
    [...seqs].sort((x, y) => x - y),
    'sequence numbers increase',
  )
})

t.test("regression (issue 12): watch reports each put's own value at every size, around 4 KiB and up to 1 MB", async (t) => {
  const ns = openStore(t).namespace('n')
  const watch = ns.watch('', { intervalMs: 5 })
  t.teardown(() => watch.close())
  const sizes = [4095, 4096, 4097, 5000, 1_000_000]
  const expected: string[] = []
  // Each size twice with two fill bytes, all written before the watcher polls: it must see
  // the first value of each pair although the second replaced it, then a small put after.
  for (const size of sizes) {
    for (const fill of ['a', 'b']) {
      ns.write(`k${size}`, Buffer.alloc(size, fill))
      expected.push(`k${size}=${fill}*${size}`)
    }
  }
  ns.write('after', text('c'))
  expected.push('after=c*1')
  const changes = await take(watch, expected.length)
  const seen = changes.map((c) => {
    if (c.type !== 'put') return c.type
    const value = Buffer.from(c.value)
    const fill = String.fromCharCode(value[0]!)
    return value.equals(Buffer.alloc(value.length, fill)) ? `${c.key}=${fill}*${value.length}` : `${c.key}=mixed`
  })
  t.same(seen, expected)
})

t.test('a watch ends on break, on return(), on its signal and when the store closes', async (t) => {
  const store = openStore(t)
  const ns = store.namespace('n')
  const broken = ns.watch()
  ns.write('a', text('1'))
  for await (const change of broken) {
    t.equal(change.type, 'put')
    break
  }
  t.same(await broken.next(), { value: undefined, done: true }, 'break ended it')

  const controller = new AbortController()
  const aborted = ns.watch('', { signal: controller.signal })
  const pending = aborted.next()
  controller.abort()
  t.same(await pending, { value: undefined, done: true }, 'the signal ends a pending next()')

  const preAborted = ns.watch('', { signal: AbortSignal.abort() })
  t.same(await preAborted.next(), { value: undefined, done: true })

  const open = ns.watch()
  const waiting = open.next()
  store.close()
  t.same(await waiting, { value: undefined, done: true }, 'closing the store ends its watches')
  t.throws(() => ns.read('a'), { code: 'DORA_KVS_CLOSED' })
  t.throws(() => ns.write('a', text('x')), { code: 'DORA_KVS_CLOSED' })
  t.throws(() => store.namespace('n'), { code: 'DORA_KVS_CLOSED' })
  store.close()
})

t.test('the change log is trimmed; a watcher that fell behind the trim gets "lagged", then the rest', async (t) => {
  const ns = openStore(t).namespace('n')
  const watch = ns.watch()
  t.teardown(() => watch.close())
  const writes = KVS_LOG_KEEP_TXNS + 600
  for (let i = 0; i < writes; i++) ns.write('k', text(String(i)))
  const first = await take(watch, 1)
  t.equal(first[0]?.type, 'lagged', 'the watcher is told it missed changes')
  // Read up to the latest write (take() fails the wait after 10 s), rather than until the
  // watch has been quiet for a while.
  const rest: KvsChange[] = []
  const isLatest = (c: KvsChange | undefined): boolean => c?.type === 'put' && str(c.value) === String(writes - 1)
  while (!isLatest(rest.at(-1))) {
    const batch = await take(watch, 1)
    if (batch.length === 0) break
    rest.push(...batch)
  }
  t.ok(rest.length <= KVS_LOG_KEEP_TXNS + KVS_LOG_TRIM_BATCH_TXNS && rest.length > 0, `it then gets the changes still in the log (${rest.length})`)
  const last = rest.at(-1)
  t.equal(last?.type === 'put' ? str(last.value) : undefined, String(writes - 1), 'up to the latest')
})

t.test('two stores on one directory in one thread share the environment', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const one = KvsStore.open({ dir })
  const two = KvsStore.open({ dir })
  one.namespace('n').write('k', text('v'))
  t.equal(str(two.namespace('n').read('k')), 'v')
  one.close()
  t.equal(str(two.namespace('n').read('k')), 'v', 'closing one leaves the other open')
  two.close()
  const three = KvsStore.open({ dir })
  t.equal(str(three.namespace('n').read('k')), 'v', 'and it reopens')
  three.close()
})

t.test('a directory that holds something else is refused, never wiped', async (t) => {
  const root = t.testdir({ 'not-a-dir': 'x', garbage: { 'data.mdb': 'this is not an LMDB file, it is just some text long enough' } })
  const state = StateStore.open({ dir: join(root, 'state'), durability: 'process' })
  state.close()
  kvsError(t, () => KvsStore.open({ dir: join(root, 'state') }), 'DORA_KVS_LAYOUT')
  const corrupt = kvsError(t, () => KvsStore.open({ dir: join(root, 'garbage') }), 'DORA_KVS_CORRUPT')
  t.match(corrupt?.message, /^cannot open the KVS in .*garbage: data\.mdb .*/)
  t.match(corrupt?.hint, /move .*garbage aside/)
  kvsError(t, () => KvsStore.open({ dir: join(root, 'not-a-dir', 'kvs') }), 'DORA_KVS_OPEN')
  kvsError(t, () => KvsStore.open({ dir: join(root, 'small'), mapSizeBytes: 1000 }), 'DORA_KVS_OPEN')
  const plainLmdb = join(root, 'plain')
  mkdirSync(plainLmdb)
  writeFileSync(join(plainLmdb, 'README'), 'an unrelated folder is fine: the KVS files sit next to it')
  const store = KvsStore.open({ dir: plainLmdb })
  store.close()
})

t.test('KVS errors keep their class and code across a thread boundary', async (t) => {
  t.equal(KVS_ERROR_CODES.length, new Set(KVS_ERROR_CODES).size)
  const err = new KvsBadKeyError('cannot write in KVS namespace "n" (/d): a key must not be empty', { hint: 'use a key', dir: '/d' })
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))))
  t.ok(back instanceof KvsBadKeyError)
  t.ok(back instanceof KvsError)
  t.notOk(back instanceof KvsValueTooLargeError)
  t.equal((back as KvsError).code, 'DORA_KVS_BAD_KEY')
  t.equal((back as KvsError).hint, 'use a key')
})
