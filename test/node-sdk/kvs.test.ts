/**
 * The `Kvs` handle nodes and operators use (`node.kvs`, `ctx.kvs`): dora's names, helpers,
 * namespaces, lazy opening and closing.
 */
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createKvs, type Kvs } from '../../node-sdk/kvs.js'
import { directSource, openKvs } from '../../node-sdk/kvs-direct.js'
import { encodeText, decodeText } from '../../node-sdk/payload.js'
import { msgpack } from '../../node-sdk/state-codecs.js'
import { KvsError } from '../../src/store/kvs/errors.js'
import { DEFAULT_KVS_MAP_SIZE_BYTES } from '../../src/store/kvs/store.js'

function kvsIn(t: Test, namespace = 'robot'): { kvs: Kvs; dir: string } {
  const dir = join(t.testdir({}), 'kvs')
  const kvs = openKvs({ dir, namespace })
  t.teardown(() => kvs.close())
  return { kvs, dir }
}

t.test("read/write and dora's kvsRead/kvsWrite are the same store", async (t) => {
  const { kvs } = kvsIn(t)
  t.equal(kvs.name, 'robot')
  kvs.kvsWrite('a', encodeText('1'))
  t.equal(decodeText(kvs.read('a')!), '1')
  kvs.write('b', encodeText('2'))
  t.equal(decodeText(kvs.kvsRead('b')!), '2')
  t.equal(kvs.kvsRead('missing'), undefined)
  t.same(
    kvs.list().map((e) => e.key),
    ['a', 'b'],
  )
  t.equal(kvs.delete('a'), true)
  t.equal(kvs.compareAndSet('b', encodeText('2'), encodeText('3')), true)
  t.equal(decodeText(kvs.update('b', (old) => encodeText(`${decodeText(old!)}!`))!), '3!')
})

t.test('JSON and typed-array helpers', async (t) => {
  const { kvs } = kvsIn(t)
  kvs.writeJson('settings', { maxSpeed: 1.5, modes: ['a', 'b'] })
  t.same(kvs.readJson('settings'), { maxSpeed: 1.5, modes: ['a', 'b'] })
  t.equal(kvs.readJson('missing'), undefined)
  t.equal(
    kvs.updateJson<number>('count', (n) => (n ?? 0) + 1),
    1,
  )
  t.equal(
    kvs.updateJson<number>('count', (n) => (n ?? 0) + 1),
    2,
  )
  t.equal(
    kvs.updateJson<number>('count', () => undefined),
    undefined,
  )
  t.equal(kvs.read('count'), undefined, 'updateJson returning undefined deletes')
  t.throws(() => kvs.writeJson('nothing', undefined), { code: 'DORA_KVS_BAD_VALUE' }, 'undefined has no JSON form')

  const ranges = new Float32Array([1.5, 2.25, -3])
  kvs.writeTyped('ranges', ranges)
  const back = kvs.readTyped(Float32Array, 'ranges')!
  t.ok(back instanceof Float32Array)
  t.same([...back], [1.5, 2.25, -3])
  t.equal(kvs.readTyped(Float64Array, 'missing'), undefined)
  t.throws(() => kvs.writeTyped('x', [1, 2] as never), { code: 'DORA_KVS_BAD_VALUE' })

  // Any state codec works on the bytes, msgpack included (it keeps typed arrays and bigints).
  kvs.write('packed', msgpack.encode({ big: 12n, pose: new Float64Array([1, 2]) }))
  const unpacked = msgpack.decode<{ big: bigint; pose: Float64Array }>(kvs.read('packed')!)
  t.equal(unpacked.big, 12n)
  t.same([...unpacked.pose], [1, 2])
})

t.test('namespace() hands out another pool of the same store', async (t) => {
  const { kvs } = kvsIn(t)
  const shared = kvs.namespace('shared')
  t.equal(shared.name, 'shared')
  shared.writeJson('k', 'shared value')
  kvs.writeJson('k', 'own value')
  t.equal(shared.readJson('k'), 'shared value')
  t.equal(kvs.readJson('k'), 'own value')
  t.equal(kvs.namespace('shared').readJson('k'), 'shared value')
  t.throws(() => kvs.namespace(''), { code: 'DORA_KVS_BAD_NAMESPACE' })
})

t.test('the store opens on first use, and close() closes every handle of the same root', async (t) => {
  const { kvs, dir } = kvsIn(t)
  t.notOk(existsSync(dir), 'nothing is opened or created before the first use')
  const other = kvs.namespace('other')
  const watch = other.watch()
  t.ok(existsSync(dir))
  const pending = watch.next()
  kvs.close()
  t.same(await pending, { value: undefined, done: true }, 'watches end')
  t.throws(() => kvs.read('a'), { code: 'DORA_KVS_CLOSED' })
  t.throws(() => other.write('a', encodeText('x')), { code: 'DORA_KVS_CLOSED' })
  kvs.close()
})

t.test('a handle without a configuration, or with a bad namespace, fails on use with a clear error', async (t) => {
  const none = createKvs('node "n" has no KVS: its supervisor handed over no KVS path at registration (an older dora-ts)')
  const err = t.throws(() => none.read('a')) as KvsError
  t.ok(err instanceof KvsError)
  t.equal(err.code, 'DORA_KVS_OPEN')
  t.match(err.message, /has no KVS/)
  t.match(err.hint, /same version/)
  const bad = createKvs(directSource({ dir: t.testdir({}), mapSizeBytes: DEFAULT_KVS_MAP_SIZE_BYTES, namespace: 'x'.repeat(300) }))
  t.throws(() => bad.write('a', encodeText('x')), { code: 'DORA_KVS_BAD_NAMESPACE' })
})
