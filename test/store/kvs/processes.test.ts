/**
 * The KVS guarantees across real processes on one machine (children run
 * test/fixtures/nodes/kvs-child.mjs against the built package):
 * - update and compareAndSet never lose an update, whoever runs them;
 * - a write that returned is visible to the next read in any other process;
 * - a reader never sees a torn value;
 * - a watcher sees the writes of another process;
 * - writes survive a SIGKILL of the writer, and a writer killed holding the write lock does
 *   not block the others; nor does one that calls process.exit() inside update (it exits);
 * - no update is lost while other processes open and close the store (an open can set LMDB's
 *   record of the last commit back: src/store/kvs/write-base.ts, and write-base.test.ts);
 * - processes opening and closing it at the same moment never fail (the open lock).
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { KvsStore, type KvsChange } from '../../../src/store/kvs/store.js'
import { decodeJson } from '../../../node-sdk/payload.js'
import { fixture } from '../../fixtures/nodes.js'

const CHILD = fixture('kvs-child.mjs')

interface Child {
  process: ChildProcess
  /** stdout so far. */
  output(): string
  /** Resolves with the first stdout line matching `pattern` (fails after 30 s). */
  line(pattern: RegExp): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

function child(t: Test, mode: string, dir: string, ...args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, mode, dir, 'ns', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const l of listeners) l()
  })
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal, stderr })),
  )
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  return {
    process: proc,
    output: () => stdout,
    exited,
    line(pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = stdout.match(pattern)
          if (match === null) return
          listeners.delete(check)
          clearTimeout(timer)
          resolve(match)
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`no line matching ${pattern} within 30 s; stdout:\n${stdout}\nstderr:\n${stderr}`))
        }, 30_000)
        listeners.add(check)
        check()
      })
    },
  }
}

async function finished(t: Test, c: Child): Promise<void> {
  const { code, stderr } = await c.exited
  t.equal(code, 0, `child exited cleanly${stderr === '' ? '' : `: ${stderr}`}`)
}

function open(t: Test, dir: string): KvsStore {
  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  return store
}

t.test('N processes incrementing one counter M times each, by update and by compareAndSet, end at exactly N x M', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const m = 400
  const children = [
    child(t, 'increment', dir, 'count', String(m)),
    child(t, 'increment', dir, 'count', String(m)),
    child(t, 'increment', dir, 'count', String(m)),
    child(t, 'cas', dir, 'count', String(m)),
    child(t, 'cas', dir, 'count', String(m)),
  ]
  // This process updates too, while the others run.
  const store = open(t, dir)
  const ns = store.namespace('ns')
  for (let i = 0; i < m; i++) ns.update('count', (old) => Buffer.from(JSON.stringify((old === undefined ? 0 : decodeJson<number>(old)) + 1)))
  for (const c of children) await finished(t, c)
  t.equal(decodeJson<number>(ns.read('count')!), (children.length + 1) * m, 'no lost update')
})

t.test('regression: no update is lost while other processes open and close the store (lmdb-js NOSYNC commits)', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const m = 600
  const writers = [child(t, 'increment', dir, 'count', String(m)), child(t, 'increment', dir, 'count', String(m)), child(t, 'cas', dir, 'count', String(m))]
  const churners = [child(t, 'churn', dir, '40'), child(t, 'churn', dir, '40')]
  for (const c of [...writers, ...churners]) await finished(t, c)
  t.equal(decodeJson<number>(open(t, dir).namespace('ns').read('count')!), writers.length * m)
})

t.test('regression: processes that only open, update and close the store never fail to open it', async (t) => {
  // Nobody holds the store open, so each close may be the last one out. Without the open lock
  // (src/store/lmdb/open-lock.ts) a process opening just then got the mutexes the closer had
  // destroyed, and its opens failed with "Invalid argument: No transaction to renew".
  // And each open raced with the others' commits: 449 of 450 in 1 run of 3 (issue 12), until
  // every write checked that it starts from the newest commit (write-base.ts).
  // 600 opens each, not the 1500 that found that race: write-base.test.ts now sets the record
  // back on purpose, every run, so this churn need not hit a microseconds-wide window by
  // chance; it checks that opens, updates and closes racing for real neither fail nor lose
  // anything, at 40% of the CPU (each open/close costs ~6 ms of it: 3 x 1500 took 45 s).
  const dir = join(t.testdir({}), 'kvs')
  const m = 600
  const children = [0, 1, 2].map(() => child(t, 'churn-increment', dir, 'count', String(m)))
  for (const c of children) await finished(t, c)
  t.equal(decodeJson<number>(open(t, dir).namespace('ns').read('count')!), (children.length * m) / 10, 'every update landed')
})

t.test('a write that returned is visible to the very next read in another process', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const ns = open(t, dir).namespace('ns')
  const writer = child(t, 'ack-writer', dir, '300')
  const stale: string[] = []
  let checked = 0
  writer.process.stdout!.on('data', () => {
    // Read synchronously as soon as the writer says it wrote: no event-loop turn in between.
    const acked = [...writer.output().matchAll(/written (\d+)/g)].map((m) => Number(m[1]))
    const last = acked.at(-1)
    if (last === undefined) return
    const seen = decodeJson<number>(ns.read('seq')!)
    checked++
    if (seen < last) stale.push(`read ${seen} after "written ${last}"`)
  })
  await writer.line(/finished/)
  await finished(t, writer)
  t.ok(checked > 0, `${checked} reads checked`)
  t.same(stale, [], 'no read saw an older value than the last acknowledged write')
})

t.test('readers in another process never see a torn value', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  // Values over LMDB's page size span several (overflow) pages: the case that could tear.
  const size = 64 * 1024
  const reader = child(t, 'torn-reader', dir, String(size))
  await reader.line(/pid=/)
  const writer = child(t, 'torn-writer', dir, '2000', String(size))
  await finished(t, writer)
  const [, reads, bad] = (await reader.line(/reads=(\d+) bad=(\d+)/)) as unknown as [string, string, string]
  await finished(t, reader)
  t.ok(Number(reads) > 0, `the reader read ${reads} values while they were being rewritten`)
  t.equal(Number(bad), 0, 'every value it read was whole')
})

t.test('a watcher sees the writes of another process, in order', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const watch = open(t, dir).namespace('ns').watch('w/')
  t.teardown(() => watch.close())
  const count = 50
  const writer = child(t, 'write-keys', dir, 'w/', String(count))
  const changes: KvsChange[] = []
  const deadline = setTimeout(() => watch.close(), 30_000)
  for await (const change of watch) {
    changes.push(change)
    if (changes.length === count) break
  }
  clearTimeout(deadline)
  await finished(t, writer)
  t.same(
    changes.map((c) => (c.type === 'put' ? `${c.key}=${decodeJson<number>(c.value)}` : c.type)),
    Array.from({ length: count }, (_, i) => `w/${i}=${i}`),
  )
})

t.test('writes survive a SIGKILL of the writer; the next writer carries on', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const writer = child(t, 'write-loop', dir)
  await writer.line(/wrote 500\n/)
  writer.process.kill('SIGKILL')
  const { signal } = await writer.exited
  t.equal(signal, 'SIGKILL')
  const acked = Math.max(...[...writer.output().matchAll(/wrote (\d+)/g)].map((m) => Number(m[1])))
  const ns = open(t, dir).namespace('ns')
  const missing: number[] = []
  for (let i = 1; i <= acked; i++) if (ns.read(`n/${i}`) === undefined) missing.push(i)
  t.same(missing, [], `all ${acked} acknowledged writes are there`)
  ns.write('after', Buffer.from('ok'))
  t.equal(Buffer.from(ns.read('after')!).toString(), 'ok')
})

t.test('process.exit() inside update exits the process and releases the write lock (issue 12: it hung holding it)', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const ns = open(t, dir).namespace('ns')
  const quitter = child(t, 'exit-in-update', dir, '7')
  // Before the fix the child never exited: the 30 s bound of the test runner would catch it,
  // so bound the wait here to say what went wrong.
  const exited = await Promise.race([quitter.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20_000).unref())])
  t.ok(exited !== undefined, 'the process exited')
  t.equal(exited?.code, 7, 'with the code it asked for')
  const next = child(t, 'increment', dir, 'count', '5')
  await finished(t, next)
  t.equal(decodeJson<number>(ns.read('count')!), 5, 'other writers carry on')
  t.equal(ns.read('exited'), undefined, 'the interrupted update wrote nothing')
})

t.test('a process SIGKILLed while holding the write lock (inside update) does not block the others', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  const ns = open(t, dir).namespace('ns')
  ns.write('before', Buffer.from('1'))
  const holder = child(t, 'hold-lock', dir)
  await holder.line(/holding/)
  holder.process.kill('SIGKILL')
  await holder.exited
  // LMDB's write lock is a robust mutex: the next writer recovers it from the dead owner.
  const next = child(t, 'increment', dir, 'count', '10')
  await finished(t, next)
  ns.write('after', Buffer.from('2'))
  t.equal(decodeJson<number>(ns.read('count')!), 10)
  t.equal(ns.read('held'), undefined, 'the killed update wrote nothing')
  t.equal(Buffer.from(ns.read('before')!).toString(), '1')
})
