/**
 * The KVS thread (how operators reach the KVS): every operation through a client, errors with
 * their codes, and what it exists for: terminating a client thread in the middle of a call
 * neither blocks the store for other processes nor takes the process down.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { KvsRemote, KvsService } from '../../../src/store/kvs/service.js'
import { KvsError } from '../../../src/store/kvs/errors.js'
import { KvsStore, MAX_KVS_VALUE_BYTES, type KvsChange } from '../../../src/store/kvs/store.js'
import { fixture } from '../../fixtures/nodes.js'
import { ROOT } from '../../e2e/fixtures/cli.js'

const text = (s: string): Uint8Array => Buffer.from(s)
const str = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString())

function service(t: Test): { dir: string; service: KvsService } {
  const dir = join(t.testdir({}), 'kvs')
  const svc = new KvsService({ dir, mapSizeBytes: 1 << 30 })
  t.teardown(() => svc.close())
  return { dir, service: svc }
}

t.test('every operation works through the KVS thread, with the same errors and codes', async (t) => {
  const { dir, service: svc } = service(t)
  // The client is this thread, which blocks while it waits: the thread must not wait for it.
  svc.start()
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
  t.equal(ns.update('a', () => undefined), undefined)
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
  const source = `
    const { workerData } = await import('node:worker_threads')
    const { KvsRemote } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'kvs', 'service.js')).href)})
    const ns = new KvsRemote(workerData.port, workerData.dir).namespace('n')
    for (let i = 0; i < workerData.m; i++) ns.update('count', (old) => Buffer.from(String((old ? Number(Buffer.from(old).toString()) : 0) + 1)))
  `
  const script = join(t.testdir({ 'client.mjs': source }), 'client.mjs')
  const threads = [0, 1, 2].map(() => {
    const port = svc.connect()
    const worker = new Worker(script, { workerData: { port, dir, m }, transferList: [port] })
    return new Promise<number>((resolve, reject) => {
      worker.once('error', reject)
      worker.once('exit', resolve)
    })
  })
  t.same(await Promise.all(threads), [0, 0, 0])
  const direct = KvsStore.open({ dir })
  t.teardown(() => direct.close())
  t.equal(str(direct.namespace('n').read('count')), String(3 * m))
})

t.test('terminating a client thread in the middle of KVS calls blocks no one and crashes nothing', async (t) => {
  const { dir, service: svc } = service(t)
  const source = `
    const { workerData, parentPort } = await import('node:worker_threads')
    const { KvsRemote } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'kvs', 'service.js')).href)})
    const ns = new KvsRemote(workerData.port, workerData.dir).namespace('n')
    const watch = ns.watch('', { intervalMs: 1 })
    void (async () => { for await (const _ of watch) {} })()
    parentPort.postMessage('running')
    setTimeout(() => {
      for (let i = 0; ; i++) {
        ns.write('k', Buffer.from(String(i)))
        ns.list()
        ns.update('count', (old) => Buffer.from(String((old ? Number(Buffer.from(old).toString()) : 0) + 1)))
      }
    }, 0)
  `
  const script = join(t.testdir({ 'client.mjs': source }), 'client.mjs')
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
