/**
 * A minimal Cap'n Proto reader and writer for the node protocol's frames: the standard unpacked
 * serialization (segment table, then segments), structs, Text, Data, List(Text) and lists of
 * structs. Field positions come from {@link LAYOUT} (checked against the compiler by the tests).
 *
 * Why not capnp-es's runtime (0.0.16): its generated accessors allocate several objects per
 * field access, about 60 µs to encode and 60 µs to decode one `output` header here (this
 * module: ~3 µs each; a ZeroMQ round trip is ~140 µs), and it trusts what it reads: it sizes
 * an array from the segment table before checking it, reallocates whole lists on a list's
 * claimed length, does not check a list's element size before reading it, and formats (reads)
 * a mistyped list into its error messages, so a crafted frame could make it allocate gigabytes.
 * capnp-es's generated classes are still committed next to the schemas, and the tests
 * cross-check this codec against them and against the reference `capnp` tool.
 *
 * The reader is defensive the way the C++ reference's `ReaderOptions` are: every pointer is
 * resolved (far pointers and landing pads included) and bounds-checked against its segment,
 * every object read is charged against a word budget proportional to the frame size (so
 * aliasing pointers cannot amplify a small frame into a huge decode), frames are limited to
 * {@link MAX_FRAME_BYTES} and {@link MAX_SEGMENTS}, and a field of the wrong kind is an error,
 * never reinterpreted. Each read copies its value out; nothing returned aliases the frame.
 * Reads of fields beyond a (smaller, older) struct return the field's default, as the
 * evolution rules require.
 */

import { ProtocolEncodeError, ProtocolError } from './errors.js'
import type { DataField, PointerField, StructLayout } from './struct-layout.js'

/** Largest frame 0 we decode or encode: headers are small, payloads travel in frame 1. */
export const MAX_FRAME_BYTES = 1 << 20

/** Most segments a frame may have (the C++ reference's limit is 512 as well). */
export const MAX_SEGMENTS = 512

/**
 * Word budget of one frame, as a multiple of its size in words. A message that shares no
 * objects (what every Cap'n Proto writer produces) reads each word at most once, so 1x would
 * do; the slack admits zero-size list elements, charged one word each as in the C++ reader.
 */
const BUDGET_FACTOR = 4
const BUDGET_SLACK_WORDS = 1024

// Pointer kinds (low two bits of a pointer's first 32-bit half).
const STRUCT = 0
const LIST = 1
const FAR = 2

// List element sizes (low three bits of a list pointer's second half).
const BYTE = 2
const POINTER = 6
const COMPOSITE = 7

/** A struct being read; offsets are bytes into the frame. */
export interface StructReader {
  readonly seg: number
  readonly data: number
  readonly dataBytes: number
  readonly ptrs: number
  readonly ptrCount: number
}

/** A list being read: `count` elements of `stride` bytes from `start`. */
export interface ListReader {
  readonly seg: number
  readonly start: number
  readonly count: number
  readonly stride: number
  /** For struct lists: the layout of each element. */
  readonly dataBytes: number
  readonly ptrCount: number
}

/** A null struct pointer reads as a struct whose every field is its default. */
const NULL_STRUCT: StructReader = { seg: 0, data: 0, dataBytes: 0, ptrs: 0, ptrCount: 0 }
const NULL_LIST: ListReader = { seg: 0, start: 0, count: 0, stride: 0, dataBytes: 0, ptrCount: 0 }

const utf8Decoder = new TextDecoder()
const utf8Encoder = new TextEncoder()

/**
 * Reads one frame. The constructor checks the segment table; the accessors resolve and check
 * pointers as they are followed.
 */
export class FrameReader {
  private readonly bytes: Uint8Array
  private readonly view: DataView
  private readonly segStart: number[] = []
  private readonly segEnd: number[] = []
  private budget: number
  // Result of the last resolve(): where the object is and its (tag) pointer words.
  private rSeg = 0
  private rTarget = 0
  private rLo = 0
  private rHi = 0

  constructor(bytes: Uint8Array) {
    const length = bytes.byteLength
    if (length > MAX_FRAME_BYTES) {
      throw new ProtocolError(`frame of ${length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit for a message header`)
    }
    if (length < 8 || length % 8 !== 0) {
      throw new ProtocolError(`frame of ${length} bytes is not a whole number of 8-byte words (at least one)`)
    }
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, length)
    const count = this.view.getUint32(0, true) + 1
    if (count > MAX_SEGMENTS) throw new ProtocolError(`segment table claims ${count} segments (limit ${MAX_SEGMENTS})`)
    // The table is a u32 (count - 1) and one u32 size per segment, padded to a whole word.
    const tableBytes = (4 + 4 * count + 7) & ~7
    if (tableBytes > length) throw new ProtocolError(`segment table of ${count} segments is cut off`)
    let offset = tableBytes
    for (let i = 0; i < count; i++) {
      const words = this.view.getUint32(4 + 4 * i, true)
      if (words > (length - offset) / 8) {
        throw new ProtocolError(`segment ${i} claims ${words} words but the frame has ${(length - offset) / 8} left`)
      }
      this.segStart.push(offset)
      offset += words * 8
      this.segEnd.push(offset)
    }
    if (offset !== length) throw new ProtocolError(`frame has ${length - offset} bytes after its last segment`)
    if (this.segEnd[0] === tableBytes) throw new ProtocolError('segment 0 is empty: the frame has no root pointer')
    this.budget = ((length - tableBytes) / 8) * BUDGET_FACTOR + BUDGET_SLACK_WORDS
  }

  /** The root struct (a null root reads as all defaults). */
  root(): StructReader {
    return this.structAt(0, this.segStart[0] as number)
  }

  // -- data section: a field past the end of the struct (an older writer) reads as 0 / false.

  /** The struct's union discriminant. */
  which(s: StructReader, layout: StructLayout): number {
    const at = (layout.tagBits ?? 0) >>> 3
    return at + 2 <= s.dataBytes ? this.view.getUint16(s.data + at, true) : 0
  }

  u16(s: StructReader, f: DataField): number {
    const at = f.bits >>> 3
    return at + 2 <= s.dataBytes ? this.view.getUint16(s.data + at, true) : 0
  }

  u32(s: StructReader, f: DataField): number {
    const at = f.bits >>> 3
    return at + 4 <= s.dataBytes ? this.view.getUint32(s.data + at, true) : 0
  }

  u64(s: StructReader, f: DataField): bigint {
    const at = f.bits >>> 3
    return at + 8 <= s.dataBytes ? this.view.getBigUint64(s.data + at, true) : 0n
  }

  i64(s: StructReader, f: DataField): bigint {
    const at = f.bits >>> 3
    return at + 8 <= s.dataBytes ? this.view.getBigInt64(s.data + at, true) : 0n
  }

  f64(s: StructReader, f: DataField): number {
    const at = f.bits >>> 3
    return at + 8 <= s.dataBytes ? this.view.getFloat64(s.data + at, true) : 0
  }

  bool(s: StructReader, f: DataField): boolean {
    const at = f.bits >>> 3
    return at < s.dataBytes ? ((this.view.getUint8(s.data + at) >>> (f.bits & 7)) & 1) === 1 : false
  }

  // -- pointer section: a pointer past the end of the struct, or a null one, reads as default.

  struct(s: StructReader, f: PointerField): StructReader {
    return f.ptr < s.ptrCount ? this.structAt(s.seg, s.ptrs + f.ptr * 8) : NULL_STRUCT
  }

  text(s: StructReader, f: PointerField): string {
    return f.ptr < s.ptrCount ? this.textAt(s.seg, s.ptrs + f.ptr * 8) : ''
  }

  data(s: StructReader, f: PointerField): Uint8Array {
    if (f.ptr >= s.ptrCount) return new Uint8Array(0)
    const l = this.listAt(s.seg, s.ptrs + f.ptr * 8, BYTE)
    return this.bytes.slice(l.start, l.start + l.count)
  }

  /** A List(Text) field. */
  textList(s: StructReader, f: PointerField): string[] {
    if (f.ptr >= s.ptrCount) return []
    const l = this.listAt(s.seg, s.ptrs + f.ptr * 8, POINTER)
    const out = new Array<string>(l.count)
    for (let i = 0; i < l.count; i++) out[i] = this.textAt(l.seg, l.start + i * 8)
    return out
  }

  /** A List(SomeStruct) field; read its elements with {@link element}. */
  structList(s: StructReader, f: PointerField): ListReader {
    return f.ptr < s.ptrCount ? this.listAt(s.seg, s.ptrs + f.ptr * 8, COMPOSITE) : NULL_LIST
  }

  element(l: ListReader, i: number): StructReader {
    const data = l.start + i * l.stride
    return { seg: l.seg, data, dataBytes: l.dataBytes, ptrs: data + l.dataBytes, ptrCount: l.ptrCount }
  }

  // -- pointer resolution

  private structAt(seg: number, pos: number): StructReader {
    if (!this.resolve(seg, pos)) return NULL_STRUCT
    if ((this.rLo & 3) !== STRUCT) throw new ProtocolError(`expected a struct pointer, found ${kindName(this.rLo)}`)
    const dataWords = this.rHi & 0xffff
    const ptrCount = this.rHi >>> 16
    this.within(this.rTarget, dataWords + ptrCount)
    this.charge(dataWords + ptrCount)
    const data = this.rTarget
    return { seg: this.rSeg, data, dataBytes: dataWords * 8, ptrs: data + dataWords * 8, ptrCount }
  }

  private textAt(seg: number, pos: number): string {
    const l = this.listAt(seg, pos, BYTE)
    if (l === NULL_LIST) return ''
    const end = l.start + l.count - 1
    if (l.count === 0 || this.bytes[end] !== 0) throw new ProtocolError('text is not NUL-terminated')
    return utf8(this.bytes, l.start, end)
  }

  private listAt(seg: number, pos: number, expected: number): ListReader {
    if (!this.resolve(seg, pos)) return NULL_LIST
    if ((this.rLo & 3) !== LIST) throw new ProtocolError(`expected a list pointer, found ${kindName(this.rLo)}`)
    const elementSize = this.rHi & 7
    const count = this.rHi >>> 3
    if (elementSize !== expected) {
      throw new ProtocolError(`expected a list of ${SIZE_NAMES[expected]}, found a list of ${SIZE_NAMES[elementSize]}`)
    }
    const start = this.rTarget
    if (elementSize === BYTE) {
      const words = Math.ceil(count / 8)
      this.within(start, words)
      this.charge(words)
      return { seg: this.rSeg, start, count, stride: 1, dataBytes: 0, ptrCount: 0 }
    }
    if (elementSize === POINTER) {
      this.within(start, count)
      this.charge(count)
      return { seg: this.rSeg, start, count, stride: 8, dataBytes: 0, ptrCount: 1 }
    }
    // Composite: `count` words of elements after a tag word shaped like a struct pointer whose
    // offset field is the element count.
    this.within(start, count + 1)
    this.charge(count + 1)
    const tagLo = this.view.getUint32(start, true)
    const tagHi = this.view.getUint32(start + 4, true)
    if ((tagLo & 3) !== STRUCT) throw new ProtocolError('composite list tag is not a struct tag')
    const elements = tagLo >> 2
    const dataWords = tagHi & 0xffff
    const ptrCount = tagHi >>> 16
    const size = dataWords + ptrCount
    if (elements < 0 || elements * size > count) {
      throw new ProtocolError(`composite list of ${elements} elements of ${size} words overruns its ${count} words`)
    }
    // Zero-size elements take no space; charge them anyway so a huge count cannot loop.
    if (size === 0) this.charge(elements)
    return { seg: this.rSeg, start: start + 8, count: elements, stride: size * 8, dataBytes: dataWords * 8, ptrCount }
  }

  /**
   * Resolve the pointer stored at byte `pos` of segment `seg` (known to be in bounds), following
   * far pointers. Returns false for a null pointer; otherwise sets rSeg/rTarget to the object's
   * position and rLo/rHi to the pointer (or landing-pad tag) that describes it.
   */
  private resolve(seg: number, pos: number): boolean {
    const view = this.view
    let lo = view.getUint32(pos, true)
    let hi = view.getUint32(pos + 4, true)
    if (lo === 0 && hi === 0) return false
    let target: number
    if ((lo & 3) === FAR) {
      const doubleFar = (lo & 4) !== 0
      const padSeg = hi
      const padStart = this.segStart[padSeg]
      if (padStart === undefined) throw new ProtocolError(`far pointer names segment ${padSeg} of ${this.segStart.length}`)
      const pad = padStart + (lo >>> 3) * 8
      if (pad + (doubleFar ? 16 : 8) > (this.segEnd[padSeg] as number)) {
        throw new ProtocolError('far pointer landing pad is outside its segment')
      }
      if (doubleFar) {
        // Pad word 0: a single far pointer to the content; word 1: a tag describing it.
        const farLo = view.getUint32(pad, true)
        if ((farLo & 7) !== FAR) throw new ProtocolError('double-far landing pad does not start with a single far pointer')
        seg = view.getUint32(pad + 4, true)
        const contentStart = this.segStart[seg]
        if (contentStart === undefined) throw new ProtocolError(`far pointer names segment ${seg}`)
        target = contentStart + (farLo >>> 3) * 8
        lo = view.getUint32(pad + 8, true)
        hi = view.getUint32(pad + 12, true)
        if ((lo & 3) === FAR) throw new ProtocolError('double-far landing pad tag is a far pointer')
      } else {
        lo = view.getUint32(pad, true)
        hi = view.getUint32(pad + 4, true)
        if (lo === 0 && hi === 0) return false
        if ((lo & 3) === FAR) throw new ProtocolError('far pointer lands on another far pointer')
        seg = padSeg
        target = pad + 8 + (lo >> 2) * 8
      }
    } else {
      target = pos + 8 + (lo >> 2) * 8
    }
    this.rSeg = seg
    this.rTarget = target
    this.rLo = lo
    this.rHi = hi
    return true
  }

  /** Check that `words` words from byte `start` lie inside segment rSeg. */
  private within(start: number, words: number): void {
    if (start < (this.segStart[this.rSeg] as number) || start + words * 8 > (this.segEnd[this.rSeg] as number)) {
      throw new ProtocolError('pointer target is outside its segment')
    }
  }

  private charge(words: number): void {
    this.budget -= words
    if (this.budget < 0) throw new ProtocolError('message reads more words than it holds (aliased or looping pointers)')
  }
}

const SIZE_NAMES = ['void', 'bits', 'bytes', '16-bit values', '32-bit values', '64-bit values', 'pointers', 'structs']

function kindName(lo: number): string {
  return ['a struct pointer', 'a list pointer', 'a far pointer', 'a capability'][lo & 3] as string
}

/** Decode UTF-8 (invalid sequences become U+FFFD, as TextDecoder does). */
function utf8(bytes: Uint8Array, start: number, end: number): string {
  // Short ASCII strings (ids, encodings) are most of a header: skip TextDecoder's call overhead.
  if (end - start <= 32) {
    let s = ''
    for (let i = start; i < end; i++) {
      const c = bytes[i] as number
      if (c >= 0x80) return utf8Decoder.decode(bytes.subarray(start, end))
      s += String.fromCharCode(c)
    }
    return s
  }
  return utf8Decoder.decode(bytes.subarray(start, end))
}

/** A struct being written; offsets are bytes into the frame. */
export interface StructWriter {
  readonly data: number
  readonly ptrs: number
}

/**
 * Builds one single-segment frame. Allocation only moves forward, so every pointer's offset is
 * positive; the buffer starts zeroed and grows by copying, so unwritten fields are defaults.
 */
export class FrameWriter {
  private buf: Uint8Array
  private view: DataView
  /** End of the allocated bytes; bytes 0-7 are the segment table, 8-15 the root pointer. */
  private end = 16

  constructor(capacity = 512) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
  }

  root(layout: StructLayout): StructWriter {
    return this.structAt(8, layout)
  }

  /** Set the struct's union discriminant. */
  setWhich(s: StructWriter, layout: StructLayout, which: number): void {
    this.view.setUint16(s.data + ((layout.tagBits ?? 0) >>> 3), which, true)
  }

  setU16(s: StructWriter, f: DataField, v: number): void {
    this.view.setUint16(s.data + (f.bits >>> 3), v, true)
  }

  setU32(s: StructWriter, f: DataField, v: number): void {
    this.view.setUint32(s.data + (f.bits >>> 3), v, true)
  }

  setU64(s: StructWriter, f: DataField, v: bigint): void {
    this.view.setBigUint64(s.data + (f.bits >>> 3), v, true)
  }

  setI64(s: StructWriter, f: DataField, v: bigint): void {
    this.view.setBigInt64(s.data + (f.bits >>> 3), v, true)
  }

  setF64(s: StructWriter, f: DataField, v: number): void {
    this.view.setFloat64(s.data + (f.bits >>> 3), v, true)
  }

  setBool(s: StructWriter, f: DataField, v: boolean): void {
    const at = s.data + (f.bits >>> 3)
    const mask = 1 << (f.bits & 7)
    const b = this.view.getUint8(at)
    this.view.setUint8(at, v ? b | mask : b & ~mask)
  }

  struct(s: StructWriter, f: PointerField, layout: StructLayout): StructWriter {
    return this.structAt(s.ptrs + f.ptr * 8, layout)
  }

  /** Write a Text field; "" stays a null pointer, which every reader reads as "". */
  text(s: StructWriter, f: PointerField, value: string): void {
    if (value !== '') this.textAt(s.ptrs + f.ptr * 8, value)
  }

  /** Write a Data field; an empty array stays a null pointer, read back as empty. */
  data(s: StructWriter, f: PointerField, value: Uint8Array): void {
    const n = value.byteLength
    if (n === 0) return
    const at = this.alloc(Math.ceil(n / 8) * 8)
    this.buf.set(value, at)
    this.listPointer(s.ptrs + f.ptr * 8, at, BYTE, n)
  }

  textList(s: StructWriter, f: PointerField, values: readonly string[]): void {
    const n = values.length
    if (n === 0) return
    const at = this.alloc(n * 8)
    this.listPointer(s.ptrs + f.ptr * 8, at, POINTER, n)
    for (let i = 0; i < n; i++) {
      const v = values[i] as string
      if (v !== '') this.textAt(at + i * 8, v)
    }
  }

  /** Allocate a list of `count` structs; returns the first element (stride: the layout's size). */
  structList(s: StructWriter, f: PointerField, layout: StructLayout, count: number): StructWriter[] {
    const words = layout.bytes / 8 + layout.ptrs
    const at = this.alloc(8 + count * words * 8)
    this.listPointer(s.ptrs + f.ptr * 8, at, COMPOSITE, count * words)
    // Tag: shaped like a struct pointer, its offset field holding the element count.
    this.view.setUint32(at, count * 4, true)
    this.view.setUint32(at + 4, layout.bytes / 8 + layout.ptrs * 0x10000, true)
    const out = new Array<StructWriter>(count)
    for (let i = 0; i < count; i++) {
      const data = at + 8 + i * words * 8
      out[i] = { data, ptrs: data + layout.bytes }
    }
    return out
  }

  /** The frame: segment table (one segment) followed by the segment. */
  finish(): Uint8Array {
    this.view.setUint32(0, 0, true)
    this.view.setUint32(4, (this.end - 8) / 8, true)
    return this.buf.slice(0, this.end)
  }

  private structAt(pos: number, layout: StructLayout): StructWriter {
    const at = this.alloc(layout.bytes + layout.ptrs * 8)
    this.view.setInt32(pos, (((at - pos - 8) / 8) << 2) | STRUCT, true)
    this.view.setUint32(pos + 4, layout.bytes / 8 + layout.ptrs * 0x10000, true)
    return { data: at, ptrs: at + layout.bytes }
  }

  private textAt(pos: number, value: string): void {
    // One pass for the UTF-8 length (lone surrogates count 3 bytes: TextEncoder writes U+FFFD).
    const n = value.length
    let bytes = n
    let ascii = true
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i)
      if (c < 0x80) continue
      ascii = false
      if (c < 0x800) bytes += 1
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        bytes += 2 // a surrogate pair: 2 UTF-16 units, 4 bytes
        i++
      } else bytes += 2
    }
    const at = this.alloc(Math.ceil((bytes + 1) / 8) * 8)
    const buf = this.buf
    if (ascii) {
      for (let i = 0; i < n; i++) buf[at + i] = value.charCodeAt(i)
    } else {
      utf8Encoder.encodeInto(value, buf.subarray(at, at + bytes))
    }
    // The NUL terminator is already there: allocated memory is zero.
    this.listPointer(pos, at, BYTE, bytes + 1)
  }

  private listPointer(pos: number, at: number, elementSize: number, count: number): void {
    this.view.setInt32(pos, (((at - pos - 8) / 8) << 2) | LIST, true)
    this.view.setUint32(pos + 4, count * 8 + elementSize, true)
  }

  private alloc(bytes: number): number {
    const at = this.end
    const end = at + bytes
    if (end > this.buf.byteLength) {
      if (end > MAX_FRAME_BYTES) {
        throw new ProtocolEncodeError(`message header would exceed the ${MAX_FRAME_BYTES}-byte frame limit receivers accept`, {
          hint: 'Keep metadata and ids small; send bulk data as the payload.',
        })
      }
      const grown = new Uint8Array(Math.min(Math.max(end, this.buf.byteLength * 2), MAX_FRAME_BYTES))
      grown.set(this.buf.subarray(0, at))
      this.buf = grown
      this.view = new DataView(grown.buffer)
    }
    this.end = end
    return at
  }
}
