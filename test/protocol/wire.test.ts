// The frame reader's defences, one hand-built hostile frame at a time: each must be rejected with
// ProtocolError, quickly, without allocating what the frame claims.

import t from 'tap'
import { decodeNodeToSupervisor, decodeSupervisorToNode, encodeNodeToSupervisor } from '../../src/protocol/node/codec.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import { MAX_FRAME_BYTES, MAX_SEGMENTS } from '../../src/protocol/wire.js'
import { farPtr, frame, listPtr, NULL, structPtr, type Word } from './fixtures/frames.js'

const BYTE = 2
const POINTER = 6
const COMPOSITE = 7

interface Asserts {
  ok(value: unknown, message: string): boolean
  fail(message: string): boolean
  match(found: unknown, pattern: RegExp, message: string): boolean
}

/** CPU time (user + system) this process has used, in milliseconds. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * Assert `fn` throws ProtocolError within `ms` of CPU time, mentioning `pattern`. CPU time, not
 * wall time: what the bound catches is a decoder doing work out of proportion to the frame, and
 * on a loaded machine a quick decode can still wait a long while for a core.
 */
function rejects(t: Asserts, fn: () => unknown, pattern: RegExp, message: string, ms = 1000): void {
  const start = cpuMs()
  try {
    fn()
    t.fail(`${message}: decoded without error`)
  } catch (err) {
    t.ok(err instanceof ProtocolError, `${message}: ProtocolError`)
    t.match((err as Error).message, pattern, message)
  }
  const took = cpuMs() - start
  t.ok(took < ms, `${message}: rejected in ${took.toFixed(1)} ms of CPU`)
}

/** An `output` message whose header's metadata pointer (ptr[4]) is `metadata`, then `rest`. */
function outputWithMetadata(metadata: Word, rest: Word[] = []): Uint8Array {
  return frame([
    structPtr(0, 1, 1), // root -> w1
    [1, 0], // discriminant 1: output
    structPtr(0, 0, 1), // -> Output at w3
    structPtr(0, 3, 7), // Output.header -> w4
    NULL, // sequence
    NULL, // timestampNs
    NULL, // redelivered
    NULL, // dataflowId (w7)
    NULL,
    NULL,
    NULL,
    metadata, // ptr[4] at w11
    NULL,
    NULL, // w13
    ...rest, // from w14
  ])
}

/** A `registered` message whose Registration.inputs (ptr[3]) is `inputs`, then `rest`. */
function registeredWithInputs(inputs: Word, rest: Word[] = []): Uint8Array {
  return frame([
    structPtr(0, 1, 1), // root -> w1
    NULL, // discriminant 0: registered
    structPtr(0, 1, 5), // -> Registration at w3
    NULL, // restartCount
    NULL, // dataflowId (w4)
    NULL,
    NULL,
    inputs, // ptr[3] at w7
    NULL, // w8
    ...rest, // from w9
  ])
}

t.test('framing: sizes, segment counts and tables that do not add up are rejected', async (t) => {
  rejects(t, () => decodeNodeToSupervisor(new Uint8Array(0)), /not a whole number/, 'empty frame')
  rejects(t, () => decodeNodeToSupervisor(new Uint8Array(12)), /not a whole number/, 'ragged length')
  rejects(t, () => decodeNodeToSupervisor(new Uint8Array(MAX_FRAME_BYTES + 8)), /exceeds/, 'frame over the limit')
  const huge = new Uint8Array(16)
  new DataView(huge.buffer).setUint32(0, 0xffff_ffff, true)
  rejects(t, () => decodeNodeToSupervisor(huge), /segments/, '2^32 segments claimed')
  const many = new Uint8Array(16)
  new DataView(many.buffer).setUint32(0, MAX_SEGMENTS, true)
  rejects(t, () => decodeNodeToSupervisor(many), /segments/, 'one segment over the limit')
  const cut = new Uint8Array(16)
  new DataView(cut.buffer).setUint32(0, 8, true)
  rejects(t, () => decodeNodeToSupervisor(cut), /cut off/, 'table longer than the frame')
  const big = new Uint8Array(16)
  new DataView(big.buffer).setUint32(4, 0xffff_ffff, true)
  rejects(t, () => decodeNodeToSupervisor(big), /claims/, 'segment size beyond the frame')
  const trailing = new Uint8Array([...encodeNodeToSupervisor({ type: 'next' }), 0, 0, 0, 0, 0, 0, 0, 0])
  rejects(t, () => decodeNodeToSupervisor(trailing), /after its last segment/, 'trailing bytes')
  rejects(t, () => decodeNodeToSupervisor(frame([])), /no root pointer/, 'empty segment 0')
})

t.test('a frame of exactly the size limit is accepted', async (t) => {
  const words = (MAX_FRAME_BYTES - 8) / 8
  const bytes = frame(Array.from({ length: words }, (): Word => NULL))
  t.equal(bytes.byteLength, MAX_FRAME_BYTES)
  t.strictSame(decodeNodeToSupervisor(bytes), { type: 'register', nodeId: '', protocolVersion: 0, pid: 0 })
})

t.test('pointers outside their segment are rejected, even when the bytes exist in the frame', async (t) => {
  rejects(t, () => decodeNodeToSupervisor(frame([structPtr(100, 1, 0)])), /outside its segment/, 'past the end')
  rejects(t, () => decodeNodeToSupervisor(frame([structPtr(-5, 1, 0)])), /outside its segment/, 'before the start')
  // Segment 1 holds only the landing pad; the struct it describes would be segment 2's word.
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 0)], [structPtr(0, 1, 0)], [[4, 0]])), /outside its segment/, 'into the next segment')
  const big = registeredWithInputs(listPtr(1, BYTE, 1 << 28))
  rejects(t, () => decodeSupervisorToNode(big), /expected a list of pointers/, 'text list of the wrong kind')
  rejects(t, () => decodeSupervisorToNode(registeredWithInputs(listPtr(1, POINTER, 1 << 28))), /outside its segment/, 'list longer than the segment')
})

t.test('far pointers: bad segments, out-of-bounds pads and far-to-far chains are rejected', async (t) => {
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(5, 0)])), /names segment 5/, 'missing segment')
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 3)], [NULL])), /landing pad/, 'pad out of bounds')
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 0)], [farPtr(0, 0)])), /another far pointer/, 'far to far (a loop)')
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 0, true)], [NULL])), /landing pad/, 'double-far pad out of bounds')
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 0, true)], [structPtr(0, 0, 0), NULL])), /single far/, 'double-far pad not far')
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 0, true)], [farPtr(1, 0), farPtr(0, 0)])), /tag is a far pointer/, 'double-far tag is far')
  rejects(t, () => decodeNodeToSupervisor(frame([farPtr(1, 0, true)], [farPtr(9, 0), NULL])), /names segment 9/, 'double-far to a missing segment')
  t.strictSame(decodeNodeToSupervisor(frame([farPtr(1, 0)], [NULL])), decodeNodeToSupervisor(frame([NULL])), 'a null landing pad is a null pointer')
})

t.test('a struct that points at itself is not followed forever', async (t) => {
  // The root pointer (offset -1) targets its own word: a struct whose one pointer is the root
  // pointer again. Decoding follows the schema's fixed depth, then finds a struct where a text
  // belongs.
  rejects(t, () => decodeNodeToSupervisor(frame([structPtr(-1, 0, 1)])), /expected a list pointer/, 'self-referencing root')
  rejects(t, () => decodeSupervisorToNode(frame([structPtr(-1, 0, 1)])), /expected a list pointer/, 'self-referencing root')
})

t.test('many pointers to one big text cannot amplify a frame into a huge decode', async (t) => {
  // 4000 List(Text) elements all pointing at the same 256 KiB text: 1 GiB of strings if each
  // were read, from a 290 KB frame. The word budget stops it after a few.
  const n = 4000
  const textBytes = 256 * 1024
  const list: Word[] = []
  const textAt = 9 + n
  for (let i = 0; i < n; i++) list.push(listPtr(textAt - (9 + i) - 1, BYTE, textBytes + 1))
  const text = Array.from({ length: Math.ceil((textBytes + 1) / 8) }, (_, i): Word => (i * 8 < textBytes - 8 ? [0x61616161, 0x61616161] : [0, 0]))
  const bytes = registeredWithInputs(listPtr(1, POINTER, n), [...list, ...text])
  t.ok(bytes.byteLength < 300_000)
  rejects(t, () => decodeSupervisorToNode(bytes), /more words than it holds/, 'aliased texts')
})

t.test('a list of 2^28 zero-size structs is rejected before it is iterated', async (t) => {
  const bytes = outputWithMetadata(listPtr(2, COMPOSITE, 0), [[(1 << 28) << 2, 0]])
  rejects(t, () => decodeNodeToSupervisor(bytes), /more words than it holds/, 'zero-size elements')
})

t.test('lists of the wrong kind are rejected, never reinterpreted', async (t) => {
  rejects(
    t,
    () => decodeNodeToSupervisor(outputWithMetadata(listPtr(2, 1, (1 << 29) - 1))),
    /expected a list of structs, found a list of bits/,
    'bits as metadata',
  )
  rejects(t, () => decodeNodeToSupervisor(outputWithMetadata(structPtr(2, 1, 1))), /expected a list pointer, found a struct/, 'struct as metadata')
  rejects(t, () => decodeNodeToSupervisor(outputWithMetadata([3, 0])), /found a capability/, 'capability as metadata')
  rejects(t, () => decodeNodeToSupervisor(frame([[3, 0]])), /expected a struct pointer, found a capability/, 'capability as root')
})

t.test('composite list tags that do not fit their list are rejected', async (t) => {
  rejects(
    t,
    () => decodeNodeToSupervisor(outputWithMetadata(listPtr(2, COMPOSITE, 8), [[5 << 2, 2 | (2 << 16)], ...Array.from({ length: 8 }, () => NULL)])),
    /overruns/,
    'more elements than words',
  )
  rejects(t, () => decodeNodeToSupervisor(outputWithMetadata(listPtr(2, COMPOSITE, 1), [[1, 0], NULL])), /not a struct tag/, 'tag of the wrong kind')
  rejects(t, () => decodeNodeToSupervisor(outputWithMetadata(listPtr(2, COMPOSITE, 1), [[-4, 0], NULL])), /overruns/, 'negative element count')
})

t.test('text must be NUL-terminated', async (t) => {
  const register = (text: Word, bytes: Word[]) => frame([structPtr(0, 1, 1), NULL, structPtr(0, 1, 1), NULL, text, ...bytes])
  t.strictSame(decodeNodeToSupervisor(register(listPtr(0, BYTE, 4), [[0x00636261, 0]])), { type: 'register', nodeId: 'abc', protocolVersion: 0, pid: 0 })
  rejects(t, () => decodeNodeToSupervisor(register(listPtr(0, BYTE, 3), [[0x00636261, 0]])), /NUL-terminated/, 'missing NUL')
  rejects(t, () => decodeNodeToSupervisor(register(listPtr(0, BYTE, 0), [])), /NUL-terminated/, 'zero-length text')
})
