import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import {
  decodeLayout,
  decodeMeta,
  encodeLayout,
  encodeMeta,
  LAYOUT_FORMAT,
  LAYOUT_VERSION,
  MAX_KEY_BYTES,
  metaProblem,
  operatorDbName,
  operatorKeyOf,
  operatorKeyProblem,
  stateKeyProblem,
  type OperatorMeta,
} from '../../../src/store/state/disk-layout.js'
import { StateStore } from '../../../src/store/state/store.js'
import { buildLmdbTools } from '../fixtures/lmdb-tools.js'
import { haveTool } from '../../fixtures/external-tool.js'

const keyProblem = (key: string): string | undefined => stateKeyProblem(key, Buffer.byteLength(key))

t.test('meta round-trips exactly, bigints beyond 2^53 included', async (t) => {
  const big = 2n ** 64n + 12345n
  const meta: OperatorMeta = {
    lastEvent: big,
    seen: new Map<string, [bigint, number]>([
      ['camera/image', [2n ** 53n + 1n, 3]],
      ['lidar/scan', [0n, 0]],
      ['__proto__', [7n, 1]],
    ]),
  }
  t.equal(metaProblem(meta), undefined)
  const bytes = encodeMeta(meta)
  const text = bytes.toString('utf8')
  t.match(text, `"lastEvent":"${big}"`, 'bigints are decimal strings, readable in mdb_dump')
  const back = decodeMeta(bytes)
  t.equal(back.lastEvent, big)
  t.same([...back.seen], [...meta.seen])
  t.equal(back.seen.get('camera/image')?.[0], 2n ** 53n + 1n)
  t.equal(Object.getPrototypeOf(back.seen), Map.prototype, 'a producer named __proto__ is just a key')
})

t.test('meta records that do not decode are reported, not guessed at', async (t) => {
  for (const text of [
    'not json',
    '[]',
    '{"lastEvent":5,"seen":{}}',
    '{"lastEvent":"-1","seen":{}}',
    '{"lastEvent":"1"}',
    '{"lastEvent":"1","seen":{"a":["1"]}}',
    '{"lastEvent":"1","seen":{"a":["x",0]}}',
    '{"lastEvent":"1","seen":{"a":["1",-1]}}',
  ]) {
    t.throws(() => decodeMeta(Buffer.from(text)), text)
  }
})

t.test('metaProblem rejects what the JSON form cannot carry', async (t) => {
  t.match(metaProblem({ lastEvent: 1, seen: new Map() }), /lastEvent must be a non-negative bigint, got 1/)
  t.match(metaProblem({ lastEvent: -1n, seen: new Map() }), /non-negative bigint, got -1n/)
  t.match(metaProblem({ lastEvent: 1n, seen: {} }), /seen must be a Map/)
  t.match(metaProblem({ lastEvent: 1n, seen: new Map([['a', [1, 0]]]) }), /\[0\] must be a non-negative bigint/)
  t.match(metaProblem({ lastEvent: 1n, seen: new Map([['a', [1n, 0.5]]]) }), /\[1\] must be a non-negative integer/)
  t.match(metaProblem({ lastEvent: 1n, seen: new Map([[1, [1n, 0]]]) }), /keys must be strings/)
  t.match(metaProblem(null), /must be an object/)
})

t.test('state keys: non-empty, at most 511 UTF-8 bytes, well-formed', async (t) => {
  t.equal(MAX_KEY_BYTES, 511)
  t.equal(keyProblem('pose'), undefined)
  t.equal(keyProblem('k'.repeat(511)), undefined)
  t.equal(keyProblem('\0binary\u00ff'), undefined, 'any well-formed string works, NUL included')
  t.match(keyProblem(''), /must not be empty/)
  t.match(keyProblem('k'.repeat(512)), /512 UTF-8 bytes long, the limit is 511/)
  t.match(keyProblem('é'.repeat(256)), /512 UTF-8 bytes/, 'the limit counts bytes, not characters')
  t.match(keyProblem('a\uD800b'), /lone surrogate/)
  t.equal(keyProblem('😀'), undefined, 'a surrogate pair is fine')
  t.match(stateKeyProblem(5, 0), /must be a string, got number/)
})

t.test('operator keys name op/<node>/<operator> databases', async (t) => {
  t.equal(operatorDbName('planner/path'), 'op/planner/path')
  t.equal(operatorKeyOf('op/planner/path'), 'planner/path')
  t.equal(operatorKeyOf('__meta__'), undefined)
  t.equal(operatorKeyProblem('planner/path'), undefined)
  t.match(operatorKeyProblem(''), /must not be empty/)
  t.match(operatorKeyProblem('a\0b'), /NUL/)
  t.match(operatorKeyProblem('x'.repeat(509)), /too long \(512 bytes as a database name/)
})

t.test('the layout record names the format and version', async (t) => {
  t.same(decodeLayout(encodeLayout()), { format: LAYOUT_FORMAT, version: LAYOUT_VERSION })
  t.equal(encodeLayout().toString(), '{"format":"dora-ts-state","version":2}')
  t.equal(decodeLayout(Buffer.from('{"format":"x"}')), undefined)
  t.equal(decodeLayout(Buffer.from('garbage')), undefined)
})

t.test('the real LMDB tools see the layout: mdb_stat lists op/<node>/<op>, mdb_dump shows the records', async (t) => {
  // Skipped with the install command on a machine without make and cc; fails in CI.
  if (!haveTool(t, { commands: ['make', 'cc'], install: 'apt-get install build-essential', purpose: 'the disk layout with mdb_stat/mdb_dump' })) return
  const root = t.testdir()
  const tools = buildLmdbTools(join(root, 'tools'))
  const dir = join(root, 'state')
  const store = StateStore.open({ dir, durability: 'process' })
  store.operator('planner/path').commit([{ key: 'pose', value: Buffer.from('x=1') }], { lastEvent: 2n ** 60n, seen: new Map([['camera/image', [9n, 2]]]) })
  store.close()

  const stat = spawnSync(tools.mdbStat, ['-a', dir], { encoding: 'utf8' })
  t.equal(stat.status, 0, stat.stderr)
  t.match(stat.stdout, /Status of op\/planner\/path\n[^]*Entries: 1/)
  t.match(stat.stdout, /Status of __meta__\n[^]*Entries: 2/)

  const dump = spawnSync(tools.mdbDump, ['-p', '-s', '__meta__', dir], { encoding: 'utf8' })
  t.equal(dump.status, 0, dump.stderr)
  t.match(dump.stdout, /\n layout\n \{"format":"dora-ts-state","version":2\}\n/)
  // The JSON, then its seal (4 bytes, printed escaped when not printable).
  t.match(dump.stdout, /\n op\/planner\/path\n \{"lastEvent":"1152921504606846976","seen":\{"camera\/image":\["9",2\]\}\}\S{4,12}\n/)

  const values = spawnSync(tools.mdbDump, ['-p', '-s', 'op/planner/path', dir], { encoding: 'utf8' })
  t.match(values.stdout, /\n pose\n x=1\S{4,12}\n/, 'keys and values are stored as plain bytes (then the seal)')
})
