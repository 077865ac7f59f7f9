/**
 * The KVS thread (how operators reach the KVS): every operation through a client, errors with
 * their codes, its lifecycle (lazy start, close), and what it exists for: terminating a client
 * thread in the middle of a call neither blocks the store for other processes nor takes the
 * process down.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { kvsThreadEntry, KvsService } from '../../../src/store/kvs/service.js'
import { KvsRemote } from '../../../src/store/kvs/remote.js'
import { KvsError } from '../../../src/store/kvs/errors.js'
import { UPDATE_HOLD_MS } from '../../../src/store/kvs/service-protocol.js'
import { KvsStore, MAX_KVS_VALUE_BYTES, type KvsChange } from '../../../src/store/kvs/store.js'
import { fixture } from '../../fixtures/nodes.js'
import { ROOT } from '../../e2e/fixtures/cli.js'
import { waitFor } from '../../fixtures/wait-for.js'

const text = (s: string): Uint8Array => Buffer.from(s)
const str = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString())

function service(t: Test): { dir: string; service: KvsService } {
  const dir = join(t.testdir({}), 'kvs')
  const svc = new KvsService({ dir, mapSizeBytes: 1 << 30 })
  t.teardown(() => svc.close())
  return { dir, service: svc }
}

let scripts = 0
/**
 * Write a client thread's module next to the KVS directory `dir` (in the test's directory:
 * calling t.testdir() again would wipe it, maybe under a thread that is loading its script).
 */
function clientScript(dir: string, source: string): string {
  const file = join(dirname(dir), `client-${++scripts}.mjs`)
  writeFileSync(file, source)
  return file
}

/** The compiled client module, as an operator worker loads it. */
const remoteModule = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'kvs', 'remote.js')).href

/**
 * Run `body` (the source of an ES module's body; it has `ns`, namespace `n` through a KvsRemote,
 * and `workerData`) in a client worker thread; its exit code.
 */
async function inClientThread(svc: KvsService, dir: string, body: string, data: Record<string, unknown> = {}): Promise<number> {
  const source = `
    const { workerData, parentPort } = await import('node:worker_threads')
    const { KvsRemote } = await import(${JSON.stringify(remoteModule)})
    const ns = new KvsRemote(workerData.port, workerData.dir).namespace('n')
    ${body}
  `
  const script = clientScript(dir, source)
  const port = svc.connect()
  const worker = new Worker(script, { workerData: { port, dir, ...data }, transferList: [port] })
  return new Promise<number>((resolve, reject) => {
    worker.once('error', reject)
    worker.once('exit', resolve)
  })
}

/**
 * Start the KVS thread the way operators do, by a first request from a client thread: a
 * client in the test's own thread blocks it in Atomics.wait, so this thread could not see
 * that first request and start the KVS thread.
 */
async function startThread(t: Test, svc: KvsService, dir: string): Promise<void> {
  t.equal(await inClientThread(svc, dir, `ns.read('warm-up')`), 0, 'a client thread started the KVS thread')
}

t.test('every operation works through the KVS thread, with the same errors and codes', async (t) => {
  const { dir, service: svc } = service(t)
  // The client is this thread, which blocks while it waits: the thread must be running already.
  await startThread(t, svc, dir)
  const remote = new KvsRemote(svc.connect(), dir)
  t.teardown(() => remote.close())
  const ns = remote.namespace('robot')
  t.equal(ns.read('a'), undefined)
  ns.write('a', text('1'))
  t.equal(str(ns.read('a')), '1')
  t.equal(str(ns.update('a', (old) => text(`${Number(str(old)) + 1}`))), '2')
  t.equal(ns.compareAndSet('a', text('2'), text('3')), true)
  t.equal(ns.compareAndSet('a', text('2'), text('4')), false)
  ns.write('b', text('x'))
  t.same(
    ns.list().map((e) => [e.key, str(e.value)]),
    [
      ['a', '3'],
      ['b', 'x'],
    ],
  )
  t.equal(ns.delete('b'), true)
  t.equal(
    ns.update('a', () => undefined),
    undefined,
  )
  t.equal(ns.read('a'), undefined)

  const watch = ns.watch('w/', { intervalMs: 5 })
  ns.write('w/1', text('one'))
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  direct.namespace('robot').write('w/2', text('two'))
  const changes: KvsChange[] = []
  for await (const change of watch) {
    changes.push(change)
    if (changes.length === 2) break
  }
  t.same(
    changes.map((c) => (c.type === 'put' ? `${c.key}=${str(c.value)}` : c.type)),
    ['w/1=one', 'w/2=two'],
    'it sees its own writes and those of others',
  )

  const badKey = t.throws(() => ns.write('', text('x'))) as KvsError
  t.ok(badKey instanceof KvsError)
  t.equal(badKey.code, 'DORA_KVS_BAD_KEY')
  t.match(badKey.message, /a key must not be empty/)
  t.throws(() => ns.update('', () => text('x')), { code: 'DORA_KVS_BAD_KEY' })
  t.throws(() => ns.write('big', new Uint8Array(MAX_KVS_VALUE_BYTES + 1)), { code: 'DORA_KVS_VALUE_TOO_LARGE' })
  t.throws(() => ns.update('p', (() => Promise.resolve(text('x'))) as never), { code: 'DORA_KVS_BAD_VALUE' })
  t.throws(() => ns.update('p', (() => 'text') as never), { code: 'DORA_KVS_BAD_VALUE' })
  t.throws(() => remote.namespace(''), { code: 'DORA_KVS_BAD_NAMESPACE' })
  remote.close()
  t.throws(() => ns.read('a'), { code: 'DORA_KVS_CLOSED' })
})

t.test('update through the KVS thread is linearizable: clients in several threads lose no update', async (t) => {
  const { dir, service: svc } = service(t)
  const m = 200
  const body = `for (let i = 0; i < workerData.m; i++) ns.update('count', (old) => Buffer.from(String((old ? Number(Buffer.from(old).toString()) : 0) + 1)))`
  const threads = [0, 1, 2].map(() => inClientThread(svc, dir, body, { m }))
  t.same(await Promise.all(threads), [0, 0, 0])
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  t.equal(str(direct.namespace('n').read('count')), String(3 * m))
})

t.test('an update through the KVS thread beside a process updating the same key in a loop is not starved: its function runs twice at most', async (t) => {
  // Before, every try was a read and a compare-and-set: the compare-and-set waited for the write
  // lock after the process's updates and found the value changed, try after try (an operator's
  // update took up to 10 s in the KVS torture). Now a try that lost holds the write transaction.
  const { dir, service: svc } = service(t)
  await startThread(t, svc, dir)
  const writer = spawn(process.execPath, [fixture('kvs-child.mjs'), 'increment', dir, 'n', 'count', String(1e9)], { stdio: 'ignore' })
  const writerExited = new Promise((resolve) => writer.once('exit', resolve))
  // Ended before the test does (its directory is removed then), and on any failure.
  const stopWriter = async (): Promise<void> => {
    writer.kill('SIGKILL')
    await writerExited
  }
  t.teardown(stopWriter)
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  await waitFor(() => direct.namespace('n').read('count'), { what: 'the writer process updating "count"' })
  const out = join(dirname(dir), 'calls.json')
  const body = `
    const calls = []
    for (let i = 0; i < workerData.m; i++) {
      let n = 0
      ns.update('count', (old) => {
        n++
        return Buffer.from(JSON.stringify((old === undefined ? 0 : JSON.parse(Buffer.from(old).toString())) + 1))
      })
      calls.push(n)
    }
    ;(await import('node:fs')).writeFileSync(workerData.out, JSON.stringify(calls))
  `
  const m = 40
  const exit = await inClientThread(svc, dir, body, { m, out })
  await stopWriter()
  t.equal(exit, 0, 'the client thread made its updates')
  const calls = JSON.parse(readFileSync(out, 'utf8')) as number[]
  t.equal(calls.length, m)
  t.ok(
    calls.some((n) => n === 2),
    `the writer got in between at least once (function calls per update: ${calls.join(' ')})`,
  )
  t.ok(
    calls.every((n) => n <= 2),
    `no update ran its function more than twice: an optimistic try, then one holding the transaction (${calls.join(' ')})`,
  )
})

/**
 * The body of a client thread whose update's first try always loses: its function's first run
 * writes the key itself (through the same client, outside any transaction), so the
 * compare-and-set finds it changed and the second run holds the write transaction. `second` is
 * the source of what that run does; the runs and the outcome go to `workerData.out`.
 */
function losingFirstTry(second: string): string {
  return `
    const { writeFileSync } = await import('node:fs')
    let runs = 0
    let outcome
    try {
      const value = ns.update('k', (old) => {
        runs++
        if (runs === 1) {
          ns.write('k', Buffer.from('changed under it'))
          return Buffer.from('first')
        }
        ${second}
      })
      outcome = { value: Buffer.from(value).toString() }
    } catch (err) {
      outcome = { error: err.message }
    }
    writeFileSync(workerData.out, JSON.stringify({ runs, ...outcome }))
  `
}

async function runLosingFirstTry(svc: KvsService, dir: string, second: string): Promise<{ runs: number; value?: string; error?: string }> {
  const out = join(dirname(dir), `outcome-${++scripts}.json`)
  const exit = await inClientThread(svc, dir, losingFirstTry(second), { out })
  if (exit !== 0) throw new Error(`the client thread exited with ${exit}`)
  return JSON.parse(readFileSync(out, 'utf8')) as { runs: number; value?: string; error?: string }
}

t.test('an update whose first try lost: its second run sees the newer value and commits, or throws and writes nothing', async (t) => {
  const { dir, service: svc } = service(t)
  await startThread(t, svc, dir)
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())

  const committed = await runLosingFirstTry(svc, dir, `return Buffer.from(Buffer.from(old).toString() + ', then second')`)
  t.same(committed, { runs: 2, value: 'changed under it, then second' }, 'the second run got the value written under the first')
  t.equal(str(direct.namespace('n').read('k')), 'changed under it, then second')

  // KVS calls of the second run are served inside the transaction the thread holds for it.
  direct.namespace('n').write('other', text('o'))
  const nested = await runLosingFirstTry(
    svc,
    dir,
    `const o = Buffer.from(ns.read('other')).toString(); ns.write('side', Buffer.from('side ' + o)); return Buffer.from('with ' + o)`,
  )
  t.same(nested, { runs: 2, value: 'with o' }, 'the second run read another key')
  t.equal(str(direct.namespace('n').read('side')), 'side o', 'and wrote one, committed with the update')

  const thrown = await runLosingFirstTry(svc, dir, `throw new Error('no thanks')`)
  t.same(thrown, { runs: 2, error: 'no thanks' }, "the function's error comes through as it was thrown")
  t.equal(str(direct.namespace('n').read('k')), 'changed under it', 'nothing written by the update that threw')
  t.equal(str(direct.namespace('n').read('side')), 'side o')
  // The thread let the write transaction go: another process writes at once.
  const other = spawnSync(process.execPath, [fixture('kvs-child.mjs'), 'increment', dir, 'n', 'after', '2'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(other.status, 0, `another process wrote: ${other.stderr}`)
  t.equal(str(direct.namespace('n').read('after')), '2')
})

t.test('an update whose second run outlasts the hold: the thread writes nothing for it, and a third run commits', async (t) => {
  const { dir, service: svc } = service(t)
  await startThread(t, svc, dir)
  // Longer than UPDATE_HOLD_MS: the thread gives the transaction up meanwhile.
  const sleep = `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${UPDATE_HOLD_MS + 500})`
  const outcome = await runLosingFirstTry(svc, dir, `if (runs === 2) { ${sleep}; return Buffer.from('late') } return Buffer.from('third')`)
  t.same(outcome, { runs: 3, value: 'third' })
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  t.equal(str(direct.namespace('n').read('k')), 'third')
})

t.test('a client thread terminated while the KVS thread holds a write transaction for it: the others write again', async (t) => {
  const { dir, service: svc } = service(t)
  await startThread(t, svc, dir)
  const source = `
    const { workerData, parentPort } = await import('node:worker_threads')
    const { KvsRemote } = await import(${JSON.stringify(remoteModule)})
    const ns = new KvsRemote(workerData.port, workerData.dir).namespace('n')
    let runs = 0
    ns.update('k', () => {
      if (++runs === 1) {
        ns.write('k', Buffer.from('changed under it'))
        return Buffer.from('first')
      }
      parentPort.postMessage('holding')
      for (;;) {}
    })
  `
  const port = svc.connect()
  const worker = new Worker(clientScript(dir, source), { workerData: { port, dir }, transferList: [port] })
  await new Promise((resolve) => worker.once('message', resolve))
  await worker.terminate()
  const other = spawnSync(process.execPath, [fixture('kvs-child.mjs'), 'increment', dir, 'n', 'after', '3'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(other.status, 0, `another process wrote: ${other.stderr}`)
  t.equal(await inClientThread(svc, dir, `ns.write('k', Buffer.from('next client'))`), 0, 'another client thread wrote')
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  t.equal(str(direct.namespace('n').read('after')), '3')
  t.equal(str(direct.namespace('n').read('k')), 'next client')
})

t.test('terminating a client thread in the middle of KVS calls blocks no one and crashes nothing', async (t) => {
  const { dir, service: svc } = service(t)
  const source = `
    const { workerData, parentPort } = await import('node:worker_threads')
    const { KvsRemote } = await import(${JSON.stringify(remoteModule)})
    const ns = new KvsRemote(workerData.port, workerData.dir).namespace('n')
    const watch = ns.watch('', { intervalMs: 1 })
    void (async () => { for await (const _ of watch) {} })()
    setTimeout(() => {
      for (let i = 0; ; i++) {
        ns.write('k', Buffer.from(String(i)))
        ns.list()
        ns.update('count', (old) => Buffer.from(String((old ? Number(Buffer.from(old).toString()) : 0) + 1)))
        // Running once one update has landed: the termination below then always hits a client
        // in the middle of its calls (CI once terminated all 8 before any update completed).
        if (i === 0) parentPort.postMessage('running')
      }
    }, 0)
  `
  const script = clientScript(dir, source)
  for (let i = 0; i < 8; i++) {
    const port = svc.connect()
    const worker = new Worker(script, { workerData: { port, dir }, transferList: [port] })
    await new Promise((resolve) => worker.once('message', resolve))
    await new Promise((resolve) => setTimeout(resolve, 5 + (i % 5) * 3))
    await worker.terminate()
  }
  // Another process can still write (the LMDB write lock is free) and read what is there.
  const other = spawnSync(process.execPath, [fixture('kvs-child.mjs'), 'increment', dir, 'n', 'after', '3'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(other.status, 0, `another process wrote: ${other.stderr}`)
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  t.equal(str(direct.namespace('n').read('after')), '3')
  t.ok(Number(str(direct.namespace('n').read('count'))) > 0, "the clients' updates landed")
})

t.test('close() is idempotent: every call gets the same promise, resolved once the thread has exited', async (t) => {
  const { dir, service: svc } = service(t)
  await startThread(t, svc, dir)
  const first = svc.close()
  t.equal(svc.close(), first, 'a second call gets the same promise')
  t.equal(svc.open, false)
  await first
  t.equal(svc.close(), first, 'so does a call after it settled')
  // The thread wrote through the store it closed on its way out; the data is there.
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  t.same(direct.namespaces(), [], 'the warm-up only read')
})

t.test('regression: a second close() resolved at once, before the thread had exited', async (t) => {
  const { dir, service: svc } = service(t)
  await startThread(t, svc, dir)
  const settled: string[] = []
  // The first close() resolves on the thread's 'exit'; the old second one returned at once,
  // so it settled first.
  const first = svc.close().then(() => settled.push('first'))
  const second = svc.close().then(() => settled.push('second'))
  await Promise.all([first, second])
  t.same(settled, ['first', 'second'])
})

t.test('after close(), connect() throws DORA_KVS_CLOSED; a service never started closes at once', async (t) => {
  const { service: svc } = service(t)
  svc.connect() // a port whose client never calls: the thread never starts
  await svc.close()
  const err = t.throws(() => svc.connect()) as KvsError
  t.ok(err instanceof KvsError)
  t.equal(err.code, 'DORA_KVS_CLOSED')
  t.match(err.message, /KVS service is closed/)
})

t.test('await using closes the service', async (t) => {
  const dir = join(t.testdir({}), 'kvs')
  let svc: KvsService
  {
    await using scoped = new KvsService({ dir, mapSizeBytes: 1 << 30 })
    svc = scoped
    await startThread(t, scoped, dir)
  }
  t.equal(svc.open, false)
  t.throws(() => svc.connect(), { code: 'DORA_KVS_CLOSED' })
})

t.test('the thread entry is the compiled service-thread.js, from the sources or from dist', async (t) => {
  t.equal(
    kvsThreadEntry(pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'kvs', 'service.js')).href),
    join(ROOT, 'dist', 'src', 'store', 'kvs', 'service-thread.js'),
  )
  t.equal(kvsThreadEntry(pathToFileURL(join(ROOT, 'src', 'store', 'kvs', 'service.ts')).href), join(ROOT, 'dist', 'src', 'store', 'kvs', 'service-thread.js'))
})

t.test('the client module an operator worker loads does not load LMDB (a store does once it opens)', async (t) => {
  /** The native addons a fresh node loads when it imports `module` and runs `then` (the module as `m`). */
  const addons = (module: string, then = ''): string[] => {
    const probe = `
      const loaded = []
      const dlopen = process.dlopen
      process.dlopen = function (module, file, ...rest) { loaded.push(file); return dlopen.call(this, module, file, ...rest) }
      const m = await import(${JSON.stringify(module)})
      ${then}
      process.stdout.write(JSON.stringify(loaded))
    `
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 30_000 })
    t.equal(result.status, 0, result.stderr)
    return JSON.parse(result.stdout) as string[]
  }
  t.same(addons(remoteModule), [], 'remote.js loads no native addon')
  // Every store loads lmdb-js through this module, on first use (src/store/lmdb/lmdb-js.ts).
  const lmdbJs = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'lmdb', 'lmdb-js.js')).href
  t.same(addons(lmdbJs), [], 'importing the loader loads nothing')
  t.ok(
    addons(lmdbJs, 'm.lmdbJs()').some((file) => file.includes('lmdb')),
    'the probe does see LMDB where it is loaded',
  )
})
