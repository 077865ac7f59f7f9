import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { pbkdf2 } from 'node:crypto'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { StateError } from '../../../src/store/state/errors.js'
import { encodeOutboxHeader, encodeOutboxValue, eventOrder, outboxKey, type OutboxPut } from '../../../src/store/state/outbox.js'
import { segmentName, STAGED_PREFIX } from '../../../src/store/state/segments.js'
import { SegmentSpares, SPARE_PREFIX } from '../../../src/store/state/segment-spares.js'
import { StateStore, type StateStoreOptions } from '../../../src/store/state/store.js'
import type { MessageHeader } from '../../../src/events.js'
import { waitFor } from '../../fixtures/wait-for.js'
import { restoreSnapshot, takeSnapshot } from '../../../runtime/state/snapshots.js'
import { withStore } from '../../../runtime/state/store-access.js'
import { sourceDir } from '../../fixtures/paths.js'

const SIZE = 256 * 1024
const pbkdf2Async = promisify(pbkdf2)
/** Threads in libuv's pool (UV_THREADPOOL_SIZE, 4 by default). */
const threadPoolSize = (): number => Math.max(1, Number(process.env['UV_THREADPOOL_SIZE'] ?? 4) || 4)
const payload = Buffer.alloc(SIZE)
for (let i = 0; i < SIZE; i++) payload[i] = i % 251
const SEGMENT = segmentName('n/a', eventOrder(1, 0))
const meta = (n: bigint) => ({ lastEvent: n, seen: new Map<string, [bigint, number]>() })

function header(messageId: string): MessageHeader {
  return {
    dataflowId: 'df',
    senderNode: 'n',
    senderOperator: 'a',
    outputId: 'out',
    sequence: 1n,
    timestampNs: 1n,
    metadata: {},
    encoding: 'bytes',
    messageId,
    redelivered: false,
  }
}

interface Dirs {
  dir: string
  segmentDir: string
  root: string
}

function dirsOf(t: Test): Dirs {
  const root = t.testdir()
  return { root, dir: join(root, 'state'), segmentDir: join(root, 'shm', 'store') }
}

function openStore(t: Test, dirs: Dirs, options: Partial<StateStoreOptions> = {}): StateStore {
  const store = StateStore.open({ dir: dirs.dir, durability: 'process', segmentDir: dirs.segmentDir, ...options })
  t.teardown(() => store.close())
  return store
}

/** The files of `dir`, without spares (consumed segments kept to be written over, segment-spares.ts). */
const files = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => !n.startsWith(SPARE_PREFIX))
        .sort()
    : []
const spares = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(SPARE_PREFIX)) : [])

/** Commit one event of n/a sending `data` to n/b and n/c (fan-out: one segment, two entries). */
function sendFanOut(store: StateStore, data: Uint8Array = payload, event = 1): void {
  const order = eventOrder(event, 0)
  const { value, data: apart } = encodeOutboxValue(header(`n/a:${event}.0`), data)
  const put = ['n/b', 'n/c'].map((receiver) => ({ key: outboxKey(receiver, 'in', 'n/a', order), value, data: apart }))
  store.operator('n/a').commit([], meta(BigInt(event)), { put, remove: [] })
}

t.test('a large payload is one segment file for all its receivers, unlinked after the last consumes it', async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  sendFanOut(store)
  t.same(files(dirs.segmentDir), [SEGMENT], 'one file for two receivers')
  t.equal(statSync(join(dirs.segmentDir, SEGMENT)).size, SIZE)
  const [b] = store.receiverOutbox('n/b').pending('df')
  t.ok(Buffer.from(b!.data).equals(payload), 'the receiver reads the payload back from the file')
  store.receiverOutbox('n/b').discard([b!.key])
  t.same(files(dirs.segmentDir), [SEGMENT], 'still referenced by n/c')
  const c = store.operator('n/c')
  const [entry] = c.pending('df')
  t.ok(Buffer.from(c.payload(entry!.key)!).equals(payload), 'payload() reads it too')
  c.commit([], meta(1n), { put: [], remove: [entry!.key] })
  t.same(files(dirs.segmentDir), [], 'the commit that deleted the last entry let its file go')
  t.equal(spares(dirs.segmentDir).length, 1, 'kept as a spare for the next segment to be written over')
  t.same(store.receiverOutbox('n/c').pending('df'), [])
})

t.test("a payload its operator's worker staged is taken under its own name; one no commit took is dropped", async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  const op = store.operator('n/a')
  const staging = op.staging()
  t.ok(staging !== undefined, 'durability process with a shm folder: the worker may stage')
  t.equal(staging!.dir, dirs.segmentDir, 'in the segment folder itself (the file stays where the worker wrote it)')
  t.equal(store.operator('n/p', { durability: 'power' }).staging(), undefined, "'power': payloads stay in LMDB, nothing is staged")
  const name = `${STAGED_PREFIX}w1@1`
  const staged = join(staging!.dir, name)
  writeFileSync(staged, payload)
  const put = ['n/b', 'n/c'].map((receiver) => ({
    key: outboxKey(receiver, 'in', 'n/a', eventOrder(1, 0)),
    value: encodeOutboxHeader(header('n/a:1.0')),
    file: { path: staged, size: SIZE, owned: true },
  }))
  op.commit([], meta(1n), { put, remove: [] })
  t.same(files(dirs.segmentDir), [name], 'the staged file is the one segment of both entries, under its name')
  t.ok(Buffer.from(store.receiverOutbox('n/b').pending('df')[0]!.data).equals(payload), 'read back intact')
  // A worker that died mid-event left a file no commit took.
  writeFileSync(join(staging!.dir, `${STAGED_PREFIX}w1@2`), payload)
  writeFileSync(join(staging!.dir, `${STAGED_PREFIX}w2@1`), payload)
  op.dropStaged('w1@')
  t.same(files(dirs.segmentDir), [`${STAGED_PREFIX}w2@1`, name].sort(), "only that worker's leftovers go, not the segment a commit took")
  store.close()
  t.same(files(dirs.segmentDir), [name], 'close() drops what is still staged, the committed segment stays')
  const again = openStore(t, dirs)
  t.same(files(dirs.segmentDir), [name], 'reopened: the sweep keeps the referenced segment')
  const b = again.receiverOutbox('n/b')
  const [entry] = b.pending('df')
  t.ok(Buffer.from(entry!.data).equals(payload), 'and the entry reads it after the reopen')
  b.discard([entry!.key])
  const c = again.receiverOutbox('n/c')
  c.discard(c.pending('df').map((e) => e.key))
  t.same(files(dirs.segmentDir), [name], 'let go once both receivers consumed it: kept as a spare under its name')
  again.close()
  t.notOk(existsSync(dirs.segmentDir), 'which close() removes with the folder')
})

t.test('a commit names the segment a staged payload became, and its consumer deletes the entry by that name', async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  const op = store.operator('n/a')
  const staging = op.staging()!
  const name = `${STAGED_PREFIX}w1@1`
  writeFileSync(join(staging.dir, name), payload)
  const file: NonNullable<OutboxPut['file']> = { path: join(staging.dir, name), size: SIZE, owned: true }
  const put = ['n/b', 'n/c'].map((receiver) => ({
    key: outboxKey(receiver, 'in', 'n/a', eventOrder(1, 0)),
    value: encodeOutboxHeader(header('n/a:1.0')),
    file,
  }))
  op.commit([], meta(1n), { put, remove: [] })
  t.equal(put[0]!.file.segment, name, 'the commit says which segment the file became')
  const consume = (receiver: string, n: bigint): void =>
    store.operator(receiver).commit([], meta(n), { put: [], remove: [], removeSegment: [{ key: put[receiver === 'n/b' ? 0 : 1]!.key, name }] })
  consume('n/b', 1n)
  t.same(store.receiverOutbox('n/b').pending('df'), [], "n/b's entry is gone")
  t.same(files(dirs.segmentDir), [name], 'the file stays: n/c still has it')
  t.ok(Buffer.from(store.receiverOutbox('n/c').pending('df')[0]!.data).equals(payload), 'and reads it whole')
  consume('n/c', 1n)
  t.same(store.receiverOutbox('n/c').pending('df'), [], "n/c's entry is gone")
  // A second release of the same segment (the entry was gone already) must not let it go twice.
  consume('n/c', 2n)
  const pool = new SegmentSpares(staging.dir, staging.spares)
  t.same([...pool.names()], [name], 'the consumed file waits in the spare pool, under its name')
  const keep = (): boolean => true
  t.equal(pool.claim(join(staging.dir, 'x'), SIZE, keep)?.path, join(staging.dir, name), 'one writer gets it')
  t.equal(pool.claim(join(staging.dir, 'y'), SIZE, keep), undefined, 'and no second one: it was in the pool once')
  store.close()
  t.notOk(existsSync(dirs.segmentDir), 'nothing left once closed')
})

t.test('a staged file that is not a segment name, or not in the folder, is read and stored as bytes', async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  const op = store.operator('n/a')
  const staging = op.staging()!
  const elsewhere = join(dirs.root, `${STAGED_PREFIX}w1@1`)
  const unnamed = join(staging.dir, `${STAGED_PREFIX}w1-2`)
  writeFileSync(elsewhere, payload)
  writeFileSync(unnamed, payload)
  const put = [elsewhere, unnamed].map((path, i) => ({
    key: outboxKey('n/b', 'in', 'n/a', eventOrder(1, i)),
    value: encodeOutboxHeader(header(`n/a:1.${i}`)),
    file: { path, size: SIZE, owned: true },
  }))
  op.commit([], meta(1n), { put, remove: [] })
  t.same(files(dirs.segmentDir), [], 'no segment: both went into LMDB, and their files are gone')
  t.notOk(existsSync(elsewhere), 'the file outside the folder was removed once read')
  const entries = store.receiverOutbox('n/b').pending('df')
  t.equal(entries.length, 2)
  for (const e of entries) t.ok(Buffer.from(e.data).equals(payload), 'read back intact')
})

t.test('a small payload, durability power, and a threshold of 0 keep the bytes in LMDB', async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  sendFanOut(store, Buffer.alloc(1000, 7))
  t.same(files(dirs.segmentDir), [], 'below the threshold: no file')
  store.operator('n/a', { durability: 'power' }).commit([], meta(2n), {
    put: [{ key: outboxKey('n/b', 'in', 'n/a', eventOrder(2, 0)), ...encodeOutboxValue(header('n/a:2.0'), payload) }],
    remove: [],
  })
  t.same(files(dirs.segmentDir), [], "'power': the payload is fsynced with the commit, in LMDB")
  t.ok(Buffer.from(store.receiverOutbox('n/b').pending('df')[1]!.data).equals(payload))
  store.close()
  const off = StateStore.open({ dir: dirs.dir, durability: 'process', segmentDir: dirs.segmentDir, segmentThresholdBytes: 0 })
  t.teardown(() => off.close())
  sendFanOut(off, payload, 3)
  t.same(files(dirs.segmentDir), [], 'threshold 0: no file')
})

/** A custom node `cam` wrote `payload` to its run's folder and sent it to `receivers`: committed, its file adopted. */
async function adoptedSend(t: Test, receivers: readonly string[]): Promise<{ dirs: Dirs; store: StateStore; file: string }> {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  const run = join(dirs.root, 'shm', 'run')
  mkdirSync(run, { recursive: true })
  const file = join(run, 'cam@0@1')
  writeFileSync(file, payload)
  const put = receivers.map((receiver) => ({
    key: outboxKey(receiver, 'in', 'cam', '1n'),
    value: encodeOutboxHeader(header('cam:1')),
    file: { path: file, size: SIZE },
  }))
  await new Promise<void>((resolve, reject) => store.senderOutbox('cam').commitLater(put, 1n, (err) => (err === undefined ? resolve() : reject(err))))
  return { dirs, store, file }
}

t.test("a custom node's shared-memory file is adopted by a hard link, not copied", async (t) => {
  const { dirs, store, file } = await adoptedSend(t, ['a', 'b'])
  const name = segmentName('cam', '1n')
  t.same(files(dirs.segmentDir), [name])
  t.equal(statSync(file).nlink, 2, 'the store holds a second name of the same file')
  unlinkSync(file) // the run ends: its shm directory goes
  const [a] = store.receiverOutbox('a').pending('df')
  t.ok(Buffer.from(a!.data).equals(payload), 'the message survives its run')
  store.receiverOutbox('a').discard([a!.key])
  store.receiverOutbox('b').discard([store.receiverOutbox('b').pending('df')[0]!.key])
  t.same(files(dirs.segmentDir), [])
})

t.test("an adopted file's store name goes with the group commit that consumed it, so its writer may reuse the file", async (t) => {
  const { dirs, store, file } = await adoptedSend(t, ['a'])
  t.equal(statSync(file).nlink, 2, 'adopted: the store holds a second name')
  const receiver = store.receiverOutbox('a')
  const [entry] = receiver.pending('df')
  // As a custom node's consumption (run-outbox.ts consumedByNode): the discard, then the run's
  // hold lets go once the group committed. By then the file must be the run's alone, or the
  // run deletes it instead of handing it back to its writer (shm-payloads.ts delete). Every
  // thread of libuv's pool is kept busy meanwhile: an unlink left to the pool would still be
  // waiting when the callbacks run (it raced them before, and lost now and then).
  const busy = Promise.all(Array.from({ length: threadPoolSize() }, () => pbkdf2Async('x', 'y', 300_000, 32, 'sha256')))
  const links = await new Promise<number>((resolve, reject) => {
    receiver.discardLater([entry!.key], (err) => {
      if (err !== undefined) reject(err)
    })
    receiver.afterGroup(() => resolve(statSync(file).nlink))
  })
  await busy
  t.equal(links, 1, "when the group's callbacks run, the store's name is gone: the file is its run's alone")
  t.same(files(dirs.segmentDir), [], 'nothing left in the store')
  t.ok(Buffer.from(readFileSync(file)).equals(payload), "the run's name still reads the payload")
})

t.test('the store says when its name of an adopted file is gone while the run still names it, and only then', async (t) => {
  const { store, file } = await adoptedSend(t, ['a', 'b'])
  const told: string[] = []
  store.onAdoptedLetGo((origin) => told.push(origin))
  const take = (receiver: string): void => {
    const outbox = store.receiverOutbox(receiver)
    outbox.discard([outbox.pending('df')[0]!.key])
  }
  take('a')
  t.same(told, [], 'b still needs it: the store keeps its name')
  take('b')
  t.same(told, [file], "the last consumer's commit removed the store's name: told, with the run's path")
  t.equal(statSync(file).nlink, 1, "the run's name is the file's only one")
})

t.test('nothing to tell when the run no longer names an adopted file', async (t) => {
  const { store, file } = await adoptedSend(t, ['a'])
  const told: string[] = []
  store.onAdoptedLetGo((origin) => told.push(origin))
  unlinkSync(file) // the run let go first (its folder went, say)
  const outbox = store.receiverOutbox('a')
  outbox.discard([outbox.pending('df')[0]!.key])
  t.same(told, [])
})

t.test('a missing or truncated segment is DORA_STATE_CORRUPT naming the file', async (t) => {
  const dirs = dirsOf(t)
  let store = openStore(t, dirs)
  sendFanOut(store)
  store.close()
  truncateSync(join(dirs.segmentDir, SEGMENT), 1000)
  store = openStore(t, dirs)
  const read = (): unknown => store.receiverOutbox('n/b').pending('df')
  t.throws(read, { code: 'DORA_STATE_CORRUPT', message: new RegExp(`${SEGMENT}.*holds 1000 bytes, not ${SIZE}`) })
  store.close()
  unlinkSync(join(dirs.segmentDir, SEGMENT))
  store = openStore(t, dirs)
  try {
    store.receiverOutbox('n/c').pending('df')
    t.fail('expected DORA_STATE_CORRUPT')
  } catch (err) {
    t.ok(err instanceof StateError)
    t.equal((err as StateError).code, 'DORA_STATE_CORRUPT')
    t.match((err as Error).message, join(dirs.segmentDir, SEGMENT), 'names the missing file')
    t.match((err as StateError).hint, /snapshot|clean-state/)
  }
  store.clear('n/c')
  t.same(store.receiverOutbox('n/c').pending('df'), [], 'clearing the operator drops its broken entry')
})

t.test('clearing the store (--clean-state) drops every waiting message and its segment', async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  sendFanOut(store)
  store.clear('n/b')
  t.same(files(dirs.segmentDir), [SEGMENT], "clearing n/b leaves n/c's reference")
  store.clear()
  t.same(store.receiverOutbox('n/c').pending('df'), [])
  t.same(files(dirs.segmentDir), [], 'the file went with the last entry')
})

t.test('a snapshot carries its segments; a store opened from it reads them', async (t) => {
  const dirs = dirsOf(t)
  const store = openStore(t, dirs)
  sendFanOut(store)
  const snap = join(dirs.root, 'snap')
  await store.snapshot(snap)
  t.ok(files(snap).includes(`segment-${SEGMENT}`), 'the snapshot holds the file')
  const copy = StateStore.open({ dir: snap, durability: 'process', segmentDir: join(dirs.root, 'shm', 'copy') })
  t.teardown(() => copy.close())
  t.ok(Buffer.from(copy.receiverOutbox('n/b').pending('df')[0]!.data).equals(payload), 'read from segment-<name> in the store folder')
})

t.test('state restore brings back the segments of the snapshot with its data file', async (t) => {
  // The CLI opens stores with the default segment folder: under this test's shm root.
  const saved = process.env['DORA_TS_SHM_DIR']
  process.env['DORA_TS_SHM_DIR'] = join(t.testdir(), 'shm-root')
  mkdirSync(process.env['DORA_TS_SHM_DIR'], { recursive: true })
  t.teardown(() => {
    if (saved === undefined) delete process.env['DORA_TS_SHM_DIR']
    else process.env['DORA_TS_SHM_DIR'] = saved
  })
  const root = join(process.env['DORA_TS_SHM_DIR'], '..')
  const target = { name: 'flow', root, dir: join(root, 'flow') }
  await withStore(target.dir, (store) => sendFanOut(store))
  const snapshot = await takeSnapshot(target)
  t.ok(files(snapshot.dir).includes(`segment-${SEGMENT}`), 'the snapshot holds the payload file')
  await withStore(target.dir, (store) => {
    for (const receiver of ['n/b', 'n/c'])
      store.receiverOutbox(receiver).discard(
        store
          .receiverOutbox(receiver)
          .pending('df')
          .map((e) => e.key),
      )
  })
  await restoreSnapshot(target, snapshot.id)
  const data = await withStore(target.dir, (store) => store.receiverOutbox('n/c').pending('df')[0]?.data)
  t.ok(data !== undefined && Buffer.from(data).equals(payload), 'the restored entry reads its payload')
})

// The crash tests run the compiled store in children, like the supervisor.
const child = join(sourceDir(import.meta.url), '..', 'fixtures', 'segment-child.mjs')

function start(args: string[]): { proc: ChildProcess; line: (text: string) => Promise<void> } {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const seen = new Set<string>()
  const waiters = new Map<string, () => void>()
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    const lines = out.split('\n')
    out = lines.pop() ?? ''
    for (const line of lines) {
      seen.add(line)
      waiters.get(line)?.()
    }
  })
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = once(proc, 'exit')
  const line = (text: string): Promise<void> =>
    seen.has(text)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.set(text, resolve)),
          exited.then(() => {
            throw new Error(`${args[0]} child exited before "${text}": ${err}`)
          }),
        ])
  return { proc, line }
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = once(proc, 'exit')
  proc.kill('SIGKILL')
  await exited
}

t.test('SIGKILL between the segment write and its commit: the file is swept, nothing committed is lost', async (t) => {
  const dirs = dirsOf(t)
  // Created (with its layout) before the children share it.
  StateStore.open({ dir: dirs.dir, durability: 'process', segmentDir: dirs.segmentDir }).close()
  const writer = start(['commit', dirs.dir, dirs.segmentDir])
  t.teardown(() => kill(writer.proc))
  await writer.line('ready')
  // Another process holds LMDB's write lock: the writer's commit waits after its segment write.
  const holder = start(['hold', dirs.dir])
  t.teardown(() => kill(holder.proc))
  await holder.line('locked')
  writer.proc.stdin!.write('go\n')
  const path = join(dirs.segmentDir, SEGMENT)
  await waitFor(() => existsSync(path) && statSync(path).size === SIZE, { what: 'the segment, complete, before its commit' })
  await kill(writer.proc)
  await kill(holder.proc)
  t.equal(statSync(path).size, SIZE, 'killed with the segment written and the commit not made')

  const store = openStore(t, dirs)
  t.same(files(dirs.segmentDir), [], 'the segment no entry references is swept on open')
  t.same(store.receiverOutbox('n/b').pending('df'), [], 'no entry: the event never committed')
  t.equal(store.operator('n/a').load().meta.lastEvent, 0n)
})

t.test('SIGKILL after the commit that consumed the last entry, before the unlink: swept on open', async (t) => {
  const dirs = dirsOf(t)
  StateStore.open({ dir: dirs.dir, durability: 'process', segmentDir: dirs.segmentDir }).close()
  const writer = start(['commit', dirs.dir, dirs.segmentDir])
  t.teardown(() => kill(writer.proc))
  await writer.line('ready')
  writer.proc.stdin!.write('go\n')
  await writer.line('committed')
  await once(writer.proc, 'exit')
  t.same(files(dirs.segmentDir), [SEGMENT], 'committed: one segment for both receivers')

  // Each receiver left alive: a crash here must lose no entry.
  const crashed = start(['discard-pinned', dirs.dir, dirs.segmentDir, join(dirs.root, 'snap')])
  t.teardown(() => kill(crashed.proc))
  await crashed.line('discarded')
  t.same(files(dirs.segmentDir), [SEGMENT], 'both entries consumed and committed, the file not unlinked yet')
  await kill(crashed.proc)

  const store = openStore(t, dirs)
  t.same(store.receiverOutbox('n/b').pending('df'), [], 'n/b consumed it')
  t.same(store.receiverOutbox('n/c').pending('df'), [], 'n/c consumed it')
  t.same(files(dirs.segmentDir), [], 'the file nothing references is swept on open')
})

t.test('SIGKILL with committed entries left: reopened, every payload is intact', async (t) => {
  const dirs = dirsOf(t)
  StateStore.open({ dir: dirs.dir, durability: 'process', segmentDir: dirs.segmentDir }).close()
  const writer = start(['commit', dirs.dir, dirs.segmentDir])
  t.teardown(() => kill(writer.proc))
  await writer.line('ready')
  writer.proc.stdin!.write('go\n')
  await writer.line('committed')
  await kill(writer.proc)
  const store = openStore(t, dirs)
  t.same(files(dirs.segmentDir), [SEGMENT], 'kept: two entries reference it')
  for (const receiver of ['n/b', 'n/c']) {
    const [entry] = store.receiverOutbox(receiver).pending('df')
    t.ok(entry !== undefined && Buffer.from(entry.data).equals(payload), `${receiver}'s payload is intact`)
  }
})
