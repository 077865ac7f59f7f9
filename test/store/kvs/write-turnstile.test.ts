/**
 * The KVS's write turnstile (src/store/kvs/write-turnstile.ts), with real processes and
 * threads: a SIGKILLed holder is taken over at once, a live holder that hangs gives
 * DORA_KVS_STALLED naming its pid within the (small) bound, two threads of one process exclude
 * each other, a terminated holder thread is taken over, and re-entrancy is an immediate error.
 * Holders are test/fixtures/nodes/kvs-child.mjs processes (the built package) and workers that
 * load the built module.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { ENV_KVS_STALL_MS, KvsReentrantWriteError, TURNSTILE_FILE, turnstileHolder, withWriteTurnstile } from '../../../src/store/kvs/write-turnstile.js'
import { fixture } from '../../fixtures/nodes.js'
import { waitFor } from '../../fixtures/wait-for.js'

const CHILD = fixture('kvs-child.mjs')
const BUILT = pathToFileURL(resolve('dist/src/store/kvs/write-turnstile.js')).href
/** The bound of a wait in these tests: a holder that hangs must be reported within it. */
const SMALL_BOUND_MS = 300

function kvsDir(t: Test): string {
  const dir = join(t.testdir({}), 'kvs')
  mkdirSync(dir, { recursive: true })
  return realpathSync(dir)
}

/** A kvs-child process in `mode`, resolved once it printed `line`; SIGKILLed at teardown. */
async function holder(t: Test, dir: string, mode: string, line: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [CHILD, mode, dir, 'ns'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (out.includes(line)) resolve()
    })
    proc.once('exit', (code, signal) => reject(new Error(`kvs-child ${mode} ended (${code ?? signal}) before "${line}": ${err}`)))
  })
  return proc
}

const context = (dir: string) => ({ dir, action: 'write' as const, namespace: 'ns', key: 'k' })

t.test('a live holder that hangs: DORA_KVS_STALLED naming its pid within the bound; SIGKILLed, it is taken over at once', async (t) => {
  const dir = kvsDir(t)
  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  const ns = store.namespace('ns')
  ns.write('before', Buffer.from('1'))
  // An update whose function never returns: the child holds the turnstile (and LMDB's lock).
  const proc = await holder(t, dir, 'hold-lock', 'holding')
  t.equal(turnstileHolder(dir)?.pid, proc.pid, 'the file names the holder')

  const started = performance.now()
  t.throws(() => withWriteTurnstile(dir, context(dir), () => t.fail('ran without the turnstile'), SMALL_BOUND_MS), {
    code: 'DORA_KVS_STALLED',
    message: new RegExp(`waited 0\\.3 s to write; its write turnstile is held by pid ${proc.pid} \\(.*kvs-child\\.mjs`),
    hint: new RegExp(`kill ${proc.pid}`),
  })
  t.ok(performance.now() - started < 30_000, 'the wait ended (its bound, plus the machine load)')

  // Through the public API, with the environment knob.
  process.env[ENV_KVS_STALL_MS] = String(SMALL_BOUND_MS)
  t.teardown(() => delete process.env[ENV_KVS_STALL_MS])
  t.throws(() => ns.write('k', Buffer.from('x')), { code: 'DORA_KVS_STALLED', message: /cannot write key "k" in KVS namespace "ns"/ })
  t.equal(ns.read('k'), undefined, 'the stalled write applied nothing')

  proc.kill('SIGKILL')
  await new Promise((resolve) => proc.once('close', resolve))
  // A dead holder's file is taken over by the next writer: no wait for any bound.
  ns.write('k', Buffer.from('after'))
  t.equal(Buffer.from(ns.read('k')!).toString(), 'after')
  t.equal(ns.read('held'), undefined, "the killed holder's update wrote nothing")
  t.notOk(existsSync(join(dir, TURNSTILE_FILE)), 'released after the write')
})

t.test('process.exit() inside update leaves the turnstile to the next writer at once (issue 12 item 2)', async (t) => {
  const dir = kvsDir(t)
  const proc = spawn(process.execPath, [CHILD, 'exit-in-update', dir, 'ns', '7'], { stdio: 'ignore' })
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  const code = await new Promise<number | null>((resolve) => proc.once('close', (exitCode) => resolve(exitCode)))
  t.equal(code, 7, 'the process exits with its code')
  // The file it left names a dead process: a writer with a small bound goes through.
  process.env[ENV_KVS_STALL_MS] = String(SMALL_BOUND_MS)
  t.teardown(() => delete process.env[ENV_KVS_STALL_MS])
  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  store.namespace('ns').write('k', Buffer.from('next'))
  t.equal(store.namespace('ns').read('exited'), undefined, 'the interrupted update wrote nothing')
  // Opening swept the prepared turnstile file the dead process left; ours is there.
  t.same(
    readdirSync(dir)
      .filter((name) => name.endsWith('.mine'))
      .map((name) => name.split('.')[2]),
    [String(process.pid)],
    "only this process's prepared file is left",
  )
})

/** A worker that takes the turnstile of `dir`, says 'held', and spins until `flag[0]` is 1 (or it is terminated). */
function holdingWorker(t: Test, dir: string, flag: Int32Array): { worker: Worker; held: Promise<void>; exited: Promise<void> } {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    import(workerData.built).then(({ withWriteTurnstile }) => {
      withWriteTurnstile(workerData.dir, { dir: workerData.dir, action: 'write' }, () => {
        parentPort.postMessage('held')
        while (Atomics.load(workerData.flag, 0) === 0) {}
      })
      parentPort.postMessage('released')
    })`
  const worker = new Worker(source, { eval: true, workerData: { dir, flag, built: BUILT } })
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  t.teardown(() => worker.terminate())
  const held = new Promise<void>((resolve, reject) => {
    worker.on('message', (m) => m === 'held' && resolve())
    worker.once('error', reject)
  })
  return { worker, held, exited }
}

t.test('two threads of one process exclude each other; a terminated holder thread is taken over', async (t) => {
  const dir = kvsDir(t)
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const first = holdingWorker(t, dir, flag)
  await first.held
  t.throws(() => withWriteTurnstile(dir, context(dir), () => t.fail('ran beside the other thread'), SMALL_BOUND_MS), {
    code: 'DORA_KVS_STALLED',
    message: new RegExp(`held by another thread of this very process, pid ${process.pid}`),
  })
  const released = new Promise<void>((resolve) => first.worker.on('message', (m) => m === 'released' && resolve()))
  Atomics.store(flag, 0, 1)
  await released
  t.equal(
    withWriteTurnstile(dir, context(dir), () => 'mine', SMALL_BOUND_MS),
    'mine',
    'taken once the other thread let go',
  )

  // A holder thread that dies holding it (a terminated worker) leaves a file naming a thread
  // that no longer exists: taken over.
  Atomics.store(flag, 0, 0)
  const second = holdingWorker(t, dir, flag)
  await second.held
  await second.worker.terminate()
  await second.exited
  t.ok(existsSync(join(dir, TURNSTILE_FILE)), 'the dead thread left its file')
  // The kernel may take a moment to reap the thread after 'exit': wait for /proc to say so.
  await waitFor(() => turnstileHolder(dir) === undefined, { what: 'the terminated thread to be gone from /proc' })
  t.equal(
    withWriteTurnstile(dir, context(dir), () => 'taken over', SMALL_BOUND_MS),
    'taken over',
  )
})

t.test('asking again while holding it is an immediate error, not a hang', async (t) => {
  const dir = kvsDir(t)
  t.throws(() => withWriteTurnstile(dir, context(dir), () => withWriteTurnstile(dir, context(dir), () => t.fail('nested'), 60_000)), KvsReentrantWriteError)
  t.throws(() => withWriteTurnstile(dir, context(dir), () => withWriteTurnstile(dir, context(dir), () => undefined)), {
    message: /dora-ts bug: a KVS write transaction in .* was started while this thread already runs one .*please report/,
  })
  t.notOk(existsSync(join(dir, TURNSTILE_FILE)), 'released after the error')
  // Writes nested in an update function join its transaction: no second request.
  const store = KvsStore.open({ dir })
  t.teardown(() => store.close())
  const ns = store.namespace('ns')
  ns.update('a', () => {
    ns.write('b', Buffer.from('2'))
    store.namespace('other').write('c', Buffer.from('3'))
    return Buffer.from('1')
  })
  t.same(
    ['a', 'b'].map((k) => Buffer.from(ns.read(k)!).toString()),
    ['1', '2'],
  )
})
