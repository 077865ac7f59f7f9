import t from 'tap'
import {
  decodeNodeToSupervisor,
  decodeSupervisorToNode,
  encodeNodeToSupervisor,
  encodeSupervisorToNode,
  MAX_FRAME_BYTES,
} from '../../../src/protocol/node/codec.js'
import { ProtocolEncodeError, ProtocolError } from '../../../src/protocol/errors.js'
import type { MessageHeader, NodeToSupervisor, SupervisorToNode } from '../../../src/protocol/node/messages.js'
import { INT64_MAX, INT64_MIN, nodeToSupervisorSamples, supervisorToNodeSamples, typicalHeader, UINT64_MAX } from '../fixtures/messages.js'

const output = (header: Partial<MessageHeader>): NodeToSupervisor => ({ type: 'output', header: { ...typicalHeader, ...header }, sendSeq: 1n })
const roundTripN2S = (m: NodeToSupervisor) => decodeNodeToSupervisor(encodeNodeToSupervisor(m))
const roundTripS2N = (m: SupervisorToNode) => decodeSupervisorToNode(encodeSupervisorToNode(m))

t.test('every node-to-supervisor variant survives a round trip unchanged', async (t) => {
  for (const [name, msg] of nodeToSupervisorSamples) t.strictSame(roundTripN2S(msg), msg, name)
})

t.test('every supervisor-to-node variant survives a round trip unchanged', async (t) => {
  for (const [name, msg] of supervisorToNodeSamples) t.strictSame(roundTripS2N(msg), msg, name)
})

t.test('bigint sequence and timestamp keep every bit up to UInt64 max', async (t) => {
  for (const v of [0n, 1n, 2n ** 32n, 2n ** 53n + 1n, INT64_MAX, INT64_MAX + 1n, UINT64_MAX]) {
    const back = roundTripN2S(output({ sequence: v, timestampNs: v }))
    t.equal(back.type === 'output' && back.header.sequence, v)
    t.equal(back.type === 'output' && back.header.timestampNs, v)
  }
})

t.test('metadata keeps each value type, special floats and Int64 bounds', async (t) => {
  const metadata = {
    nan: Number.NaN,
    inf: Number.POSITIVE_INFINITY,
    ninf: Number.NEGATIVE_INFINITY,
    negZero: -0,
    tiny: Number.MIN_VALUE,
    i64max: INT64_MAX,
    i64min: INT64_MIN,
    s: 'α',
    b: false,
    d: new Uint8Array(300).map((_, i) => i & 0xff),
  }
  const back = roundTripN2S(output({ metadata }))
  if (back.type !== 'output') throw new Error('not an output')
  const m = back.header.metadata
  t.ok(Number.isNaN(m.nan))
  t.equal(m.inf, Number.POSITIVE_INFINITY)
  t.equal(m.ninf, Number.NEGATIVE_INFINITY)
  t.ok(Object.is(m.negZero, -0), '-0 stays -0')
  t.equal(m.tiny, Number.MIN_VALUE)
  t.equal(m.i64max, INT64_MAX)
  t.equal(m.i64min, INT64_MIN)
  t.equal(m.s, 'α')
  t.equal(m.b, false)
  t.strictSame(m.d, metadata.d)
  t.strictSame(Object.keys(m), Object.keys(metadata), 'insertion order kept')
})

t.test('a metadata key named __proto__ stays an own property and does not touch the prototype', async (t) => {
  const metadata: Record<string, string> = {}
  Object.defineProperty(metadata, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true })
  const back = roundTripN2S(output({ metadata }))
  if (back.type !== 'output') throw new Error('not an output')
  t.ok(Object.hasOwn(back.header.metadata, '__proto__'))
  t.equal(back.header.metadata['__proto__'], 'x')
  t.equal(Object.getPrototypeOf(back.header.metadata), Object.prototype)
})

t.test('unicode survives: astral planes, combining marks, NUL inside a string', async (t) => {
  for (const s of ['🚀🤖', 'e\u0301', '中文字符', 'a\u0000b', '\uffff', 'x'.repeat(40) + 'é']) {
    const back = roundTripN2S({ type: 'log', level: 'info', message: s })
    t.equal(back.type === 'log' && back.message, s)
  }
})

t.test('a lone surrogate is encoded as U+FFFD, like TextEncoder does', async (t) => {
  const back = roundTripN2S({ type: 'log', level: 'info', message: 'a\ud800b' })
  t.equal(back.type === 'log' && back.message, 'a\ufffdb')
})

t.test('a header near the frame limit round-trips; over it, encoding throws ProtocolEncodeError', async (t) => {
  const big = 'x'.repeat(MAX_FRAME_BYTES - 4096)
  const back = roundTripN2S(output({ metadata: { big } }))
  t.equal(back.type === 'output' && back.header.metadata.big, big)
  const err = t.throws(() => encodeNodeToSupervisor(output({ metadata: { big: big + 'x'.repeat(8192) } })))
  t.ok(err instanceof ProtocolEncodeError)
  t.equal((err as ProtocolEncodeError).code, 'DORA_PROTOCOL_ENCODE')
})

t.test('encoding rejects values the schema cannot carry, with ProtocolEncodeError', async (t) => {
  const bad: Array<[string, () => unknown]> = [
    ['negative sequence', () => encodeNodeToSupervisor(output({ sequence: -1n }))],
    ['sequence over UInt64', () => encodeNodeToSupervisor(output({ sequence: UINT64_MAX + 1n }))],
    ['number sequence', () => encodeNodeToSupervisor(output({ sequence: 1 as unknown as bigint }))],
    ['timestamp over UInt64', () => encodeNodeToSupervisor(output({ timestampNs: 2n ** 64n }))],
    ['metadata bigint over Int64', () => encodeNodeToSupervisor(output({ metadata: { x: INT64_MAX + 1n } }))],
    ['metadata bigint under Int64', () => encodeNodeToSupervisor(output({ metadata: { x: INT64_MIN - 1n } }))],
    ['metadata object', () => encodeNodeToSupervisor(output({ metadata: { x: {} as never } }))],
    ['metadata null', () => encodeNodeToSupervisor(output({ metadata: { x: null as never } }))],
    ['metadata undefined', () => encodeNodeToSupervisor(output({ metadata: { x: undefined as never } }))],
    ['metadata DataView', () => encodeNodeToSupervisor(output({ metadata: { x: new DataView(new ArrayBuffer(1)) as never } }))],
    ['metadata not an object', () => encodeNodeToSupervisor(output({ metadata: 'x' as never }))],
    ['header not an object', () => encodeNodeToSupervisor({ type: 'output', header: null as never, sendSeq: 1n })],
    ['redelivered not boolean', () => encodeNodeToSupervisor(output({ redelivered: 1 as never }))],
    ['string field not a string', () => encodeNodeToSupervisor(output({ outputId: 7 as never }))],
    ['pid negative', () => encodeNodeToSupervisor({ type: 'register', nodeId: 'n', protocolVersion: 1, pid: -1 })],
    ['pid over UInt32', () => encodeNodeToSupervisor({ type: 'register', nodeId: 'n', protocolVersion: 1, pid: 2 ** 32 })],
    ['pid fractional', () => encodeNodeToSupervisor({ type: 'register', nodeId: 'n', protocolVersion: 1.5, pid: 1 })],
    ['pid NaN', () => encodeNodeToSupervisor({ type: 'register', nodeId: 'n', protocolVersion: 1, pid: Number.NaN })],
    ['unknown log level', () => encodeNodeToSupervisor({ type: 'log', level: 'trace' as never, message: '' })],
    ['outputs not an array', () => encodeNodeToSupervisor({ type: 'close-outputs', outputs: 'a' as never })],
    ['outputs holding a number', () => encodeNodeToSupervisor({ type: 'close-outputs', outputs: [1 as never] })],
    ['unknown n2s type', () => encodeNodeToSupervisor({ type: 'unknown', which: 9 })],
    ['made-up n2s type', () => encodeNodeToSupervisor({ type: 'shout' } as never)],
    ['unknown stop cause', () => encodeSupervisorToNode({ type: 'stop', cause: 'bored' as never })],
    [
      'restartCount negative',
      () =>
        encodeSupervisorToNode({
          type: 'registered',
          registration: {
            dataflowId: '',
            dataflowName: '',
            nodeId: '',
            restartCount: -1,
            inputs: [],
            outputs: [],
            kvsPath: '',
            kvsMapSize: 0n,
            kvsNamespace: '',
            atLeastOnce: false,
            maxMessageSize: 0,
            shmDir: '',
            shmThreshold: 0,
          },
        }),
    ],
    ['registration missing', () => encodeSupervisorToNode({ type: 'registered', registration: undefined as never })],
    ['sendSeq not a bigint', () => encodeNodeToSupervisor({ type: 'output', header: typicalHeader, sendSeq: 1 as never })],
    ['outputs-taken negative', () => encodeSupervisorToNode({ type: 'outputs-taken', upTo: -1n })],
    [
      'atLeastOnce not a boolean',
      () =>
        encodeSupervisorToNode({
          type: 'registered',
          registration: {
            dataflowId: '',
            dataflowName: '',
            nodeId: '',
            restartCount: 0,
            inputs: [],
            outputs: [],
            kvsPath: '',
            kvsMapSize: 0n,
            kvsNamespace: '',
            atLeastOnce: 1 as never,
            maxMessageSize: 0,
            shmDir: '',
            shmThreshold: 0,
          },
        }),
    ],
    [
      'inputs holding undefined',
      () =>
        encodeSupervisorToNode({
          type: 'registered',
          registration: {
            dataflowId: '',
            dataflowName: '',
            nodeId: '',
            restartCount: 0,
            inputs: [undefined as never],
            outputs: [],
            kvsPath: '',
            kvsMapSize: 0n,
            kvsNamespace: '',
            atLeastOnce: false,
            maxMessageSize: 0,
            shmDir: '',
            shmThreshold: 0,
          },
        }),
    ],
    ['unknown s2n type', () => encodeSupervisorToNode({ type: 'unknown', which: 99 })],
    ['n2s message null', () => encodeNodeToSupervisor(null as never)],
    ['s2n message undefined', () => encodeSupervisorToNode(undefined as never)],
  ]
  for (const [name, fn] of bad) {
    try {
      fn()
      t.fail(`${name}: encoded without error`)
    } catch (err) {
      t.ok(err instanceof ProtocolEncodeError, `${name}: ${(err as Error).message}`)
    }
  }
})

t.test('an unknown union variant from a newer peer decodes as {type: unknown, which}', async (t) => {
  // Root struct data starts at byte 16 (8-byte segment table, 8-byte root pointer); the
  // discriminant is its first 16 bits.
  const n2s = encodeNodeToSupervisor({ type: 'next' })
  new DataView(n2s.buffer, n2s.byteOffset).setUint16(16, 77, true)
  t.strictSame(decodeNodeToSupervisor(n2s), { type: 'unknown', which: 77 })
  const s2n = encodeSupervisorToNode({ type: 'stop', cause: 'manual' })
  new DataView(s2n.buffer, s2n.byteOffset).setUint16(16, 0xffff, true)
  t.strictSame(decodeSupervisorToNode(s2n), { type: 'unknown', which: 0xffff })
})

t.test('a decoded message does not alias the frame it came from', async (t) => {
  const frame = encodeNodeToSupervisor(output({ metadata: { d: new Uint8Array([1, 2, 3]) } }))
  const msg = decodeNodeToSupervisor(frame)
  frame.fill(0)
  t.strictSame(msg.type === 'output' && msg.header.metadata.d, new Uint8Array([1, 2, 3]))
})

t.test('decoding accepts a frame inside a larger buffer, and a Node Buffer', async (t) => {
  const frame = encodeSupervisorToNode({ type: 'input-closed', id: 'image' })
  const big = new Uint8Array(frame.byteLength + 13)
  big.set(frame, 5)
  t.strictSame(decodeSupervisorToNode(big.subarray(5, 5 + frame.byteLength)), { type: 'input-closed', id: 'image' })
  t.strictSame(decodeSupervisorToNode(Buffer.from(frame)), { type: 'input-closed', id: 'image' })
  const shared = new Uint8Array(new SharedArrayBuffer(frame.byteLength))
  shared.set(frame)
  t.strictSame(decodeSupervisorToNode(shared), { type: 'input-closed', id: 'image' })
})

t.test('decoding something that is not a Uint8Array throws ProtocolError', async (t) => {
  for (const v of [undefined, null, 'frame', new ArrayBuffer(16), [0, 0, 0, 0]]) {
    t.throws(() => decodeNodeToSupervisor(v as never), ProtocolError)
    t.throws(() => decodeSupervisorToNode(v as never), ProtocolError)
  }
})

t.test('an all-zero root (null pointer) decodes as the first variant with default fields', async (t) => {
  // Cap'n Proto semantics: a null struct reads as all defaults, and discriminant 0 is the
  // first union member.
  const frame = new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
  t.strictSame(decodeNodeToSupervisor(frame), { type: 'register', nodeId: '', protocolVersion: 0, pid: 0 })
  t.strictSame(decodeSupervisorToNode(frame), {
    type: 'registered',
    registration: {
      dataflowId: '',
      dataflowName: '',
      nodeId: '',
      restartCount: 0,
      inputs: [],
      outputs: [],
      kvsPath: '',
      kvsMapSize: 0n,
      kvsNamespace: '',
      atLeastOnce: false,
      maxMessageSize: 0,
      shmDir: '',
      shmThreshold: 0,
    },
  })
})

t.test('frames are the standard single-segment framing and stay small', async (t) => {
  const frame = encodeNodeToSupervisor({ type: 'output', header: typicalHeader, sendSeq: 1n })
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  t.equal(view.getUint32(0, true), 0, 'one segment')
  t.equal(view.getUint32(4, true) * 8 + 8, frame.byteLength, 'segment table gives the whole length')
  t.ok(frame.byteLength < 512, `typical output header is ${frame.byteLength} bytes`)
  t.strictSame(encodeNodeToSupervisor({ type: 'next' }), encodeNodeToSupervisor({ type: 'next' }), 'deterministic')
})
