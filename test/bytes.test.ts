/** copyBytes / ownsWholeBuffer: what is safe to transfer to a worker without dragging a pool along. */
import t from 'tap'
import { copyBytes, ownsWholeBuffer } from '../src/bytes.js'

t.test('a copy owns exactly its bytes, apart from the original', async (t) => {
  // Small Buffers are views into a shared pool: slice() would keep pointing there.
  const pooled = Buffer.from('hello, pool')
  t.notOk(ownsWholeBuffer(pooled), 'a pooled Buffer is a view')
  const copy = copyBytes(pooled)
  t.ok(ownsWholeBuffer(copy))
  t.equal(copy.buffer.byteLength, pooled.byteLength, 'only its own bytes, not the pool')
  t.same([...copy], [...pooled])
  pooled[0] = 0x48
  t.equal(copy[0], 'h'.charCodeAt(0), 'writes to the original do not show in the copy')
})

t.test('ownsWholeBuffer: whole buffers yes; views, offsets and shared memory no', async (t) => {
  t.ok(ownsWholeBuffer(new Uint8Array(8)))
  t.ok(ownsWholeBuffer(copyBytes(new Uint8Array(0))), 'an empty copy too')
  const buffer = new ArrayBuffer(8)
  t.notOk(ownsWholeBuffer(new Uint8Array(buffer, 1)), 'offset view')
  t.notOk(ownsWholeBuffer(new Uint8Array(buffer, 0, 4)), 'shorter view')
  t.notOk(ownsWholeBuffer(new Uint8Array(new SharedArrayBuffer(8))), 'shared memory cannot be transferred')
  // The copy can be transferred: structuredClone with transfer detaches it.
  const copy = copyBytes(Buffer.from('move me'))
  const moved = structuredClone(copy, { transfer: [copy.buffer] })
  t.equal(Buffer.from(moved).toString(), 'move me')
  t.equal(copy.byteLength, 0, 'the original was detached')
})
