/**
 * Reads one Cap'n Proto frame defensively (see ../wire.ts for why this is hand-written): every
 * pointer is resolved (far pointers and landing pads included) and bounds-checked against its
 * segment, every object read is charged against a word budget proportional to the frame size
 * (so aliasing pointers cannot amplify a small frame into a huge decode), frames are limited to
 * {@link MAX_FRAME_BYTES} and {@link MAX_SEGMENTS}, and a field of the wrong kind is an error,
 * never reinterpreted. Each read copies its value out; nothing returned aliases the frame.
 * Reads of fields beyond a (smaller, older) struct return the field's default, as the
 * evolution rules require.
 *
 * @module
 */

import { ProtocolError } from '../errors.js'
import type { DataField, PointerField, StructLayout } from '../struct-layout.js'
import { BYTE, COMPOSITE, FAR, LIST, MAX_FRAME_BYTES, MAX_SEGMENTS, POINTER, STRUCT } from './format.js'

/**
 * Word budget of one frame, as a multiple of its size in words. A message that shares no
 * objects (what every Cap'n Proto writer produces) reads each word at most once, so 1x would
 * do; the slack admits zero-size list elements, charged one word each as in the C++ reader.
 */
const BUDGET_FACTOR = 4
const BUDGET_SLACK_WORDS = 1024

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
