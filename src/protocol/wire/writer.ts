/**
 * Builds one single-segment Cap'n Proto frame (see ../wire.ts for why this is hand-written).
 *
 * @module
 */

import { ProtocolEncodeError } from '../errors.js'
import type { DataField, PointerField, StructLayout } from '../struct-layout.js'
import { BYTE, COMPOSITE, LIST, MAX_FRAME_BYTES, POINTER, STRUCT } from './format.js'

const utf8Encoder = new TextEncoder()

/**
 * The buffer frames are built in, shared by every writer in turn. A fresh zeroed ArrayBuffer per
 * frame, plus the copy `finish` returns, cost ~5 µs of the ~5.5 µs of encoding a small header
 * (measured on the 2-vCPU VM): two backing stores allocated and later swept by the GC, on the
 * path of every message. Frames are built synchronously, one at a time (no encoder builds one
 * inside another), so one scratch buffer serves all; the bytes a writer dirtied are zeroed
 * when the next one takes it (unwritten fields must read as defaults). A writer that outgrows
 * it moves to a buffer of its own.
 */
const SCRATCH_BYTES = 4096
const scratch = new Uint8Array(SCRATCH_BYTES)
const scratchView = new DataView(scratch.buffer)
/** Bytes of the scratch written since it was last zeroed. */
let scratchDirty = 0
/** Bumped each time a writer takes the scratch: an older writer still building would be a bug. */
let scratchTurn = 0

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

  /** The scratch turn this writer took; -1: it builds in a buffer of its own. */
  private turn: number

  constructor(capacity = 512) {
    if (capacity <= SCRATCH_BYTES) {
      scratch.fill(0, 0, scratchDirty)
      scratchDirty = 0
      this.buf = scratch
      this.view = scratchView
      this.turn = ++scratchTurn
    } else {
      this.buf = new Uint8Array(capacity)
      this.view = new DataView(this.buf.buffer)
      this.turn = -1
    }
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
    if (this.buf === scratch && this.turn !== scratchTurn) {
      throw new Error("internal error: two Cap'n Proto frames were built at once in the shared scratch buffer")
    }
    this.view.setUint32(0, 0, true)
    this.view.setUint32(4, (this.end - 8) / 8, true)
    // Small frames come from Node's buffer pool (no backing store of their own), as a plain
    // Uint8Array (what is decoded from it stays one); the reader and ZeroMQ take any byteOffset.
    const pooled = Buffer.allocUnsafe(this.end)
    const frame = new Uint8Array(pooled.buffer, pooled.byteOffset, this.end)
    frame.set(this.buf.subarray(0, this.end))
    return frame
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
    if (this.buf === scratch) scratchDirty = Math.max(scratchDirty, end)
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
