/**
 * The frame writer builds every frame in one shared scratch buffer (wire/writer.ts): what one
 * frame wrote must never show in the next, a frame handed out must never change afterwards, and
 * two frames built at once must be caught, not silently mixed.
 */
import t from 'tap'
import { decodeNodeToNode, encodeNodeToNode } from '../../src/protocol/node/codec.js'
import type { NodeToNode } from '../../src/protocol/node/messages.js'
import { FrameWriter } from '../../src/protocol/wire/writer.js'
import { ProtocolEncodeError } from '../../src/protocol/errors.js'
import type { StructLayout } from '../../src/protocol/struct-layout.js'

const small: NodeToNode = { type: 'input', id: 'in', sequence: 1n, timestampNs: 2n, messageId: '0.1', encoding: 'raw', metadata: {} }
const large: NodeToNode = {
  type: 'input',
  id: 'a-much-longer-input-id',
  sequence: 0xffff_ffff_ffffn,
  timestampNs: 0xffff_ffff_ffff_ffffn,
  messageId: 'x'.repeat(300),
  encoding: 'json',
  metadata: { note: 'y'.repeat(500), count: 7, flag: true },
}

t.test("a small frame after a large one is byte for byte what it is alone: the scratch's leftovers are zeroed", async (t) => {
  const alone = encodeNodeToNode(small)
  encodeNodeToNode(large)
  const after = encodeNodeToNode(small)
  t.strictSame([...after], [...alone])
  t.strictSame(decodeNodeToNode(after), small)
})

t.test('a frame handed out keeps its bytes when later frames are built', async (t) => {
  const first = encodeNodeToNode(large)
  const copy = [...first]
  for (let i = 0; i < 5; i++) encodeNodeToNode({ ...small, sequence: BigInt(i) })
  t.strictSame([...first], copy)
  t.strictSame(decodeNodeToNode(first), large)
})

t.test('an encoder that throws halfway leaves nothing behind for the next frame', async (t) => {
  const alone = encodeNodeToNode(small)
  t.throws(() => encodeNodeToNode({ ...large, metadata: { big: 'z'.repeat(2_000_000) } }), ProtocolEncodeError)
  t.throws(() => encodeNodeToNode({ ...large, sequence: -1n }))
  t.strictSame([...encodeNodeToNode(small)], [...alone])
})

t.test('a frame bigger than the scratch is built in a buffer of its own, and the next one is clean', async (t) => {
  const big: NodeToNode = { ...large, metadata: { blob: 'b'.repeat(10_000) } }
  const frame = encodeNodeToNode(big)
  t.ok(frame.byteLength > 4096)
  t.strictSame(decodeNodeToNode(frame), big)
  t.strictSame(decodeNodeToNode(encodeNodeToNode(small)), small)
})

t.test('two frames built at once in the scratch are caught when the older one finishes', async (t) => {
  const layout: StructLayout = { bytes: 8, ptrs: 1, fields: {} }
  const older = new FrameWriter()
  older.root(layout)
  const newer = new FrameWriter()
  newer.root(layout)
  t.ok(newer.finish().byteLength >= 16, 'the newer one finishes')
  t.throws(() => older.finish(), /two Cap'n Proto frames were built at once/)
})
