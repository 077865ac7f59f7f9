/**
 * The state store (src/store/state/store.ts) at work: commits and loads, operators kept apart,
 * durability across a reopen and a SIGKILL, clear(), snapshot(), close() and group commits. Bad
 * input, a full store, layouts it does not know and directories it cannot open are in
 * store-errors.test.ts.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { StateStore } from '../../../src/store/state/store.js'
import { ROOT, sourceDir } from '../../fixtures/paths.js'
import { bytes, meta, openStore, text, throwsState } from '../fixtures/state-store.js'

t.test('commit then load round-trips state and meta', async (t) => {
  const store = openStore(t)
  const op = store.operator('planner/path')
  t.same(op.load(), { state: new Map(), meta: meta(0n) }, 'a new operator starts empty at event 0')

  const seen: Array<[string, [bigint, number]]> = [['camera/image', [2n ** 63n + 5n, 2]]]
  op.commit(
    [
      { key: 'pose', value: bytes('x=1') },
      { key: 'map', value: Buffer.from([0, 1, 2, 255]) },
      { key: 'empty', value: new Uint8Array(0) },
      { key: 'view', value: new Uint8Array([9, 8, 7, 6]).subarray(1, 3) },
    ],
    meta(2n ** 64n + 1n, seen),
  )
  const loaded = op.load()
  t.equal(text(loaded.state.get('pose')), 'x=1')
  t.same([...(loaded.state.get('map') ?? [])], [0, 1, 2, 255])
  t.equal(loaded.state.get('empty')?.length, 0)
  t.same([...(loaded.state.get('view') ?? [])], [8, 7], 'a subarray stores only its own bytes')
  t.equal(loaded.meta.lastEvent, 2n ** 64n + 1n, 'bigints beyond 2^53 are exact')
  t.same([...loaded.meta.seen], seen)

  loaded.state.get('pose')?.fill(0)
  t.equal(text(op.load().state.get('pose')), 'x=1', 'loaded values are copies')
})

t.test('deletes remove keys; writes apply in order', async (t) => {
  const op = openStore(t).operator('n/o')
  op.commit(
    [
      { key: 'a', value: bytes('1') },
      { key: 'b', value: bytes('2') },
    ],
    meta(1n),
  )
  op.commit(
    [
      { key: 'a', delete: true },
      { key: 'missing', delete: true },
      { key: 'b', value: bytes('first') },
      { key: 'b', value: bytes('last') },
      { key: 'c', value: bytes('3') },
      { key: 'c', delete: true },
    ],
    meta(2n),
  )
  const { state, meta: m } = op.load()
  t.same([...state.keys()], ['b'])
  t.equal(text(state.get('b')), 'last')
  t.equal(m.lastEvent, 2n)
})

t.test('operators are isolated from each other', async (t) => {
  const store = openStore(t)
  const a = store.operator('node/a')
  const b = store.operator('node/b')
  a.commit([{ key: 'k', value: bytes('from a') }], meta(5n, [['x/y', [1n, 0]]]))
  b.commit([{ key: 'k', value: bytes('from b') }], meta(7n))
  t.equal(text(a.load().state.get('k')), 'from a')
  t.equal(text(b.load().state.get('k')), 'from b')
  t.equal(a.load().meta.lastEvent, 5n)
  t.equal(b.load().meta.seen.size, 0)
  t.same(
    store.stats(),
    [
      { operator: 'node/a', entries: 1, bytes: 1 + 6 },
      { operator: 'node/b', entries: 1, bytes: 1 + 6 },
    ],
    'stats count key and value bytes per operator',
  )
})

t.test('state is durable across close and reopen; the directory may contain a dot', async (t) => {
  const dir = join(t.testdir(), 'flow.v2')
  const first = StateStore.open({ dir, durability: 'power' })
  first.operator('n/o').commit([{ key: 'k', value: bytes('v') }], meta(3n))
  first.close()
  t.ok(statSync(dir).isDirectory(), 'lmdb-js did not take "flow.v2" for a file name')
  const second = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => second.close())
  const { state, meta: m } = second.operator('n/o').load()
  t.equal(text(state.get('k')), 'v')
  t.equal(m.lastEvent, 3n)
})

t.test('an operator can override the durability of the store', async (t) => {
  const store = openStore(t)
  t.equal(store.operator('n/o').durability, 'process')
  const op = store.operator('n/p', { durability: 'power' })
  t.equal(op.durability, 'power')
  t.equal(op.operatorKey, 'n/p')
  op.commit([{ key: 'k', value: bytes('v') }], meta(1n))
  t.equal(text(op.load().state.get('k')), 'v')
})

t.test('clear() of one operator leaves the others; clear() of all empties the store', async (t) => {
  const store = openStore(t)
  const a = store.operator('n/a')
  const b = store.operator('n/b')
  a.commit([{ key: 'k', value: bytes('a') }], meta(4n))
  b.commit([{ key: 'k', value: bytes('b') }], meta(6n))
  store.clear('n/a')
  t.same(a.load(), { state: new Map(), meta: meta(0n) }, 'the cleared operator restarts from nothing')
  t.equal(text(b.load().state.get('k')), 'b')
  t.equal(b.load().meta.lastEvent, 6n)
  a.commit([{ key: 'k2', value: bytes('again') }], meta(1n))
  t.equal(text(a.load().state.get('k2')), 'again', 'an old handle keeps working after clear()')

  store.clear('never/existed')
  store.clear()
  t.same(store.stats(), [])
  t.same(b.load(), { state: new Map(), meta: meta(0n) })
  throwsState(t, () => store.clear(''), 'DORA_STATE_BAD_KEY', store.dir)
})

t.test('clear() after a reopen drops operators this process never touched', async (t) => {
  const dir = t.testdir()
  const first = StateStore.open({ dir, durability: 'process' })
  for (const key of ['n/a', 'n/b', 'm/c']) first.operator(key).commit([{ key: 'k', value: bytes(key) }], meta(1n))
  first.close()
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  store.clear('n/b')
  t.same(
    store.stats().map((s) => s.operator),
    ['m/c', 'n/a'],
  )
  store.clear()
  t.same(store.stats(), [])
  t.equal(store.operator('m/c').load().meta.lastEvent, 0n)
})

t.test('snapshot() copies a consistent store while it stays open and writable', async (t) => {
  const store = openStore(t)
  const op = store.operator('n/o')
  for (let i = 1; i <= 200; i++)
    op.commit(
      [
        { key: `k${i % 50}`, value: new Uint8Array(1000).fill(i & 0xff) },
        { key: 'counter', value: bytes(String(i)) },
      ],
      meta(BigInt(i)),
    )
  const target = join(dirname(store.dir), 'snap.1')
  const copying = store.snapshot(target)
  for (let i = 201; i <= 220; i++) op.commit([{ key: 'counter', value: bytes(String(i)) }], meta(BigInt(i)))
  await copying
  op.commit([{ key: 'after', value: bytes('yes') }], meta(221n))
  t.equal(text(op.load().state.get('after')), 'yes', 'the store is still writable')

  const copy = StateStore.open({ dir: target, durability: 'process' })
  t.teardown(() => copy.close())
  const { state, meta: m } = copy.operator('n/o').load()
  t.ok(m.lastEvent >= 200n && m.lastEvent <= 220n, `the copy is at one committed event (${m.lastEvent})`)
  t.equal(text(state.get('counter')), String(m.lastEvent), 'state and meta of the copy belong to the same event')
  t.equal(state.get('k0')?.[0], 200 & 0xff)
  t.notOk(state.has('after'))

  await t.rejects(store.snapshot(target), { code: 'DORA_STATE_SNAPSHOT', message: /already holds a store/ })
  await t.rejects(store.snapshot(store.dir), { code: 'DORA_STATE_SNAPSHOT' })
})

t.test('close() is idempotent, waits for a snapshot, and later use is DORA_STATE_CLOSED', async (t) => {
  const root = t.testdir()
  const dir = join(root, 'state')
  const store = StateStore.open({ dir, durability: 'process' })
  const op = store.operator('n/o')
  op.commit([{ key: 'k', value: new Uint8Array(100_000) }], meta(1n))
  const copying = store.snapshot(join(root, 'snap'))
  store.close()
  store.close()
  await copying
  await store[Symbol.asyncDispose]()
  throwsState(t, () => op.load(), 'DORA_STATE_CLOSED', dir)
  throwsState(t, () => op.commit([], meta(2n)), 'DORA_STATE_CLOSED', dir)
  throwsState(t, () => store.operator('n/o'), 'DORA_STATE_CLOSED', dir)
  throwsState(t, () => store.stats(), 'DORA_STATE_CLOSED', dir)
  await t.rejects(store.snapshot(join(root, 'x')), { code: 'DORA_STATE_CLOSED' })
  const reopened = StateStore.open({ dir, durability: 'process' })
  t.equal(reopened.operator('n/o').load().meta.lastEvent, 1n, 'the directory can be opened again after close')
  reopened.close()
})

t.test('opening a directory twice in one process is refused', async (t) => {
  const store = openStore(t)
  throwsState(t, () => StateStore.open({ dir: store.dir, durability: 'process' }), 'DORA_STATE_OPEN', store.dir, /already open in this process/)
})

// The SIGKILL test runs the compiled store in a child, like the supervisor.
const fixture = join(sourceDir(import.meta.url), '..', 'fixtures', 'commit-loop.mjs')
const compiled = join(ROOT, 'dist', 'src', 'store', 'state', 'store.js')
const sources = ['state/store.ts', 'state/disk-layout.ts', 'state/errors.ts', 'lmdb/preflight.ts'].map((f) => join(ROOT, 'src', 'store', f))

interface Round {
  lastPrinted: number
  started: number
}

/** Run the commit loop until a random moment after its first commit, then SIGKILL it. */
function killRound(dir: string, durability: string, delayMs: number): Promise<Round> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [fixture, dir, durability], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    let lastPrinted = 0
    let started = -1
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const lines = out.split('\n')
      out = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('ready ')) started = Number(line.slice(6))
        else if (line !== '') lastPrinted = Number(line)
      }
      if (lastPrinted > 0 && timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), delayMs)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (timer !== undefined) clearTimeout(timer)
      if (signal !== 'SIGKILL') reject(new Error(`the commit loop ended with code ${code} signal ${signal}: ${err}`))
      else resolvePromise({ lastPrinted, started })
    })
  })
}

t.test('SIGKILL at a random moment: a == b, meta matches, nothing acknowledged is lost', async (t) => {
  if (!existsSync(compiled)) {
    t.fail(`${compiled} is missing: build first (npm run build, or npx tsc -p tsconfig.json)`)
    return
  }
  const built = statSync(compiled).mtimeMs
  const stale = sources.filter((f) => statSync(f).mtimeMs > built)
  if (stale.length > 0) {
    t.fail(`dist/ is older than ${stale.join(', ')}: rebuild (npx tsc -p tsconfig.json) before running this test`)
    return
  }
  const dir = t.testdir()
  let previous = 0
  for (let round = 1; round <= 10; round++) {
    const durability = round % 3 === 0 ? 'power' : 'process'
    const delay = Math.floor(Math.random() * 60)
    const { lastPrinted, started } = await killRound(dir, durability, delay)
    t.equal(started, previous, `round ${round}: the child restored the last committed event`)

    const store = StateStore.open({ dir, durability: 'process' })
    const { state, meta: m } = store.operator('loop/counter').load()
    store.close()
    const a = state.get('a')
    const b = state.get('b')
    t.ok(a !== undefined && b !== undefined, `round ${round}: both keys exist`)
    if (a === undefined || b === undefined) return
    const av = Number(Buffer.from(a).readBigUInt64BE(0))
    const bv = Number(Buffer.from(b).readBigUInt64BE(0))
    t.equal(av, bv, `round ${round} (${durability}, kill after ${delay} ms): a == b == ${av}`)
    t.equal(b.length, 3000)
    t.ok(
      b.subarray(8).every((x) => x === (bv & 0xff)),
      `round ${round}: b is whole`,
    )
    t.equal(m.lastEvent, BigInt(av), `round ${round}: meta is from the same event`)
    t.same(m.seen.get('source/out'), [BigInt(av), av % 3])
    t.ok(av >= lastPrinted, `round ${round}: committed ${av} >= last acknowledged ${lastPrinted}`)
    previous = av
  }
})

t.test('a state directory may already exist with other files in it', async (t) => {
  const dir = join(t.testdir(), 'pre')
  mkdirSync(dir)
  writeFileSync(join(dir, 'README'), 'state lives here')
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('n/o').commit([], meta(1n))
  store.close()
  t.ok(existsSync(join(dir, 'data.mdb')))
})

t.test('a group commit writes each operator the meta of its last event of the group, and its state of every event', async (t) => {
  const store = openStore(t)
  const a = store.operator('a/op')
  const b = store.operator('b/op')
  const order: string[] = []
  const done = (name: string) => (err?: unknown) => order.push(err === undefined ? name : `${name} failed`)
  a.commitLater([{ key: 'x', value: bytes('1') }], meta(1n, [['src/op>in', [1n, 0]]]), undefined, done('a1'))
  b.commitLater([{ key: 'y', value: bytes('1') }], meta(1n), undefined, done('b1'))
  a.commitLater([{ key: 'z', value: bytes('2') }], meta(2n, [['src/op>in', [2n, 3]]]), undefined, done('a2'))
  // Refused before the transaction (a bad key): the events around it still commit.
  a.commitLater([{ key: '', value: bytes('3') }], meta(3n), undefined, done('a3'))
  b.commitLater([], meta(2n, [['a/op>in', [7n, 1]]]), undefined, done('b2'))
  a.flush()
  t.same(order, ['a1', 'b1', 'a2', 'a3 failed', 'b2'], 'each told in order')
  const loadedA = a.load()
  t.same(loadedA.meta, meta(2n, [['src/op>in', [2n, 3]]]), "a's meta is its last committed event's")
  t.same(
    [...loadedA.state].map(([k, v]) => [k, text(v)]),
    [
      ['x', '1'],
      ['z', '2'],
    ],
    'and both events wrote their state',
  )
  t.same(b.load().meta, meta(2n, [['a/op>in', [7n, 1]]]))
})
