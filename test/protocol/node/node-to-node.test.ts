/**
 * The best-effort link message (node-to-node.capnp): round trips, what it leaves out, and its
 * size, which is the reason it exists (zeromq.js copies frames of up to 128 bytes instead of
 * sending them zero-copy, see the schema).
 */
import t from 'tap'
import * as $ from 'capnp-es'
import { decodeNodeToNode, encodeNodeToNode } from '../../../src/protocol/node/codec.js'
import { ProtocolEncodeError, ProtocolError } from '../../../src/protocol/errors.js'
import type { NodeToNode } from '../../../src/protocol/node/messages.js'
import { NodeToNode as GeneratedNodeToNode } from '../fixtures/generated/node-to-node.js'
import { UINT64_MAX } from '../fixtures/messages.js'

const typical: NodeToNode = {
  type: 'input',
  id: 'frame',
  sequence: 1234n,
  timestampNs: 1_732_480_000_123_456_789n,
  messageId: '0.1234',
  encoding: 'raw',
  metadata: {},
}

t.test('every variant survives a round trip unchanged', async (t) => {
  const samples: NodeToNode[] = [
    typical,
    { ...typical, encoding: 'json', metadata: { width: 640, big: -(2n ** 63n), ok: true, name: 'rgb8', raw: new Uint8Array([1, 2]) } },
    { ...typical, sequence: UINT64_MAX, timestampNs: 0n, messageId: '', shm: { segment: 'viewer@camera@0@7.0', offset: 0, length: 4 << 20 } },
    { type: 'input-closed', id: 'frame' },
    { ...typical, link: { seq: 1n, end: 100, newFile: true } },
    { ...typical, link: { seq: UINT64_MAX, end: 0xffff_ffff, newFile: false } },
    { type: 'link-closed', dataflowId: '01234567-89ab-cdef-0123-456789abcdef' },
    { ...typical, senderLife: 3 },
    { ...typical, senderLife: 0xffff, link: { seq: 7n, end: 1, newFile: false } },
  ]
  for (const m of samples) t.strictSame(decodeNodeToNode(encodeNodeToNode(m)), m, m.type)
})

t.test('a typical message is at most 128 bytes, so zeromq.js copies it rather than sending it zero-copy', async (t) => {
  t.ok(encodeNodeToNode(typical).byteLength <= 128, `${encodeNodeToNode(typical).byteLength} bytes`)
  t.ok(encodeNodeToNode({ ...typical, messageId: '12.1234567' }).byteLength <= 128)
  const linked = encodeNodeToNode({ ...typical, link: { seq: 123_456n, end: 9_000_000, newFile: false } })
  t.ok(linked.byteLength <= 128, `on a reliable direct link too: ${linked.byteLength} bytes`)
  // The sender's life sits in the data section's last free bits: no byte more.
  t.equal(encodeNodeToNode({ ...typical, senderLife: 0xffff }).byteLength, encodeNodeToNode(typical).byteLength, 'senderLife adds no byte')
})

t.test('capnp-es reads the sender life our codec wrote, and a life of 0 (a first process, or an older sender) is left out', async (t) => {
  const frame = encodeNodeToNode({ ...typical, senderLife: 517 })
  const root = new $.Message(frame, false).getRoot(GeneratedNodeToNode)
  t.equal(root.input.senderLife, 517)
  t.equal(root.input.sequence, typical.sequence)
  t.notOk('senderLife' in decodeNodeToNode(encodeNodeToNode({ ...typical, senderLife: 0 })), 'absent when 0')
  t.throws(() => encodeNodeToNode({ ...typical, senderLife: 65_536 }), ProtocolEncodeError)
})

t.test('a message from a newer sender with an unknown variant decodes as unknown; bad frames throw ProtocolError', async (t) => {
  const frame = encodeNodeToNode({ type: 'input-closed', id: 'x' })
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  view.setUint16(16, 9, true) // the root struct's union discriminant (data word 0)
  t.strictSame(decodeNodeToNode(frame), { type: 'unknown', which: 9 })
  t.throws(() => decodeNodeToNode(new Uint8Array(3)), ProtocolError)
  t.throws(() => encodeNodeToNode({ ...typical, sequence: -1n }), ProtocolEncodeError)
  t.throws(() => encodeNodeToNode({ ...typical, metadata: { f: () => 1 } as never }), ProtocolEncodeError)
})
