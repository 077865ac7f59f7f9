/**
 * The parts the node protocol's messages share, for the codec's modules of each direction
 * (`node-to-supervisor.ts`, `supervisor-to-node.ts`, `node-to-node.ts`): the header and
 * shared-payload structs both ways, the checks that turn a value the schema cannot carry into a
 * {@link ProtocolEncodeError} naming the field, and the decode frame that turns any malformed
 * input into one {@link ProtocolError}.
 *
 * @module
 */

import { ProtocolEncodeError, ProtocolError } from '../errors.js'
import { LAYOUT, type PointerField } from '../struct-layout.js'
import type { MessageHeader, MetadataValue, SharedPayload } from './messages.js'
import { FrameReader, type FrameWriter, type StructReader, type StructWriter } from '../wire.js'
import { errorMessage } from '../../errors.js'

const UINT64_MAX = (1n << 64n) - 1n
const INT64_MIN = -(1n << 63n)
const INT64_MAX = (1n << 63n) - 1n

const HEADER = LAYOUT.MessageHeader
const SHARED = LAYOUT.SharedPayload
const KEY_VALUE = LAYOUT.KeyValue

export function decode<R>(bytes: Uint8Array, read: (r: FrameReader) => R): R {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError(`frame is a ${describeType(bytes)}, not a Uint8Array`)
  try {
    return read(new FrameReader(bytes))
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    // wire.ts checks bounds before every read; this net turns a missed check into the
    // documented error instead of a RangeError.
    /* c8 ignore next */
    throw new ProtocolError(`malformed message: ${errorMessage(err)}`, { cause: err })
  }
}

/** A SharedPayload; offsets and lengths are byte counts a JS number holds exactly. */
export function writeShared(w: FrameWriter, s: StructWriter, shm: SharedPayload, what: string): void {
  if (typeof shm !== 'object' || shm === null) throw new ProtocolEncodeError(`${what} is not an object`)
  const segment = str(shm.segment, `${what}.segment`)
  if (segment === '') throw new ProtocolEncodeError(`${what}.segment is empty`)
  w.text(s, SHARED.fields.segment, segment)
  w.setU64(s, SHARED.fields.offset, u64(byteCount(shm.offset, `${what}.offset`), `${what}.offset`))
  w.setU64(s, SHARED.fields.length, u64(byteCount(shm.length, `${what}.length`), `${what}.length`))
}

/** Undefined for a null (absent) struct: an empty segment name means "no shared payload". */
export function readShared(r: FrameReader, s: StructReader): SharedPayload | undefined {
  const segment = r.text(s, SHARED.fields.segment)
  if (segment === '') return undefined
  return { segment, offset: safeNumber(r.u64(s, SHARED.fields.offset)), length: safeNumber(r.u64(s, SHARED.fields.length)) }
}

function byteCount(value: unknown, what: string): bigint {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new ProtocolEncodeError(`${what} must be a non-negative safe integer, got ${String(value)}`)
  return BigInt(value)
}

/** A u64 byte count as a number; beyond 2^53 it cannot name a real byte of memory: rejected. */
export function safeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`a byte count of ${value} is larger than any payload`)
  return Number(value)
}

export function writeHeader(w: FrameWriter, s: StructWriter, h: MessageHeader): void {
  if (typeof h !== 'object' || h === null) throw new ProtocolEncodeError('header is not an object')
  const f = HEADER.fields
  w.text(s, f.dataflowId, str(h.dataflowId, 'header.dataflowId'))
  w.text(s, f.senderNode, str(h.senderNode, 'header.senderNode'))
  w.text(s, f.senderOperator, str(h.senderOperator, 'header.senderOperator'))
  w.text(s, f.outputId, str(h.outputId, 'header.outputId'))
  w.setU64(s, f.sequence, u64(h.sequence, 'header.sequence'))
  w.setU64(s, f.timestampNs, u64(h.timestampNs, 'header.timestampNs'))
  writeMetadata(w, s, f.metadata, h.metadata, 'header.metadata')
  w.text(s, f.encoding, str(h.encoding, 'header.encoding'))
  w.text(s, f.messageId, str(h.messageId, 'header.messageId'))
  if (typeof h.redelivered !== 'boolean') throw new ProtocolEncodeError('header.redelivered is not a boolean')
  w.setBool(s, f.redelivered, h.redelivered)
}

/** A metadata list (MessageHeader.metadata and the like) at `field` of `s`. */
export function writeMetadata(w: FrameWriter, s: StructWriter, field: PointerField, metadata: Record<string, MetadataValue>, what: string): void {
  if (typeof metadata !== 'object' || metadata === null) throw new ProtocolEncodeError(`${what} is not an object`)
  const keys = Object.keys(metadata)
  if (keys.length > 0) {
    const entries = w.structList(s, field, KEY_VALUE, keys.length)
    const g = KEY_VALUE.fields
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      const e = entries[i] as StructWriter
      w.text(e, g.key, key)
      const value: unknown = metadata[key]
      switch (typeof value) {
        case 'string':
          w.setWhich(e, KEY_VALUE, g.text.tag)
          w.text(e, g.text, value)
          break
        case 'number':
          w.setWhich(e, KEY_VALUE, g.float64.tag)
          w.setF64(e, g.float64, value)
          break
        case 'bigint':
          if (value < INT64_MIN || value > INT64_MAX) {
            throw new ProtocolEncodeError(`metadata ${JSON.stringify(key)}: bigint ${value}n is outside Int64`)
          }
          w.setWhich(e, KEY_VALUE, g.int64.tag)
          w.setI64(e, g.int64, value)
          break
        case 'boolean':
          w.setWhich(e, KEY_VALUE, g.bool.tag)
          w.setBool(e, g.bool, value)
          break
        default:
          if (!(value instanceof Uint8Array)) {
            throw new ProtocolEncodeError(
              `metadata ${JSON.stringify(key)}: a ${describeType(value)} is not a metadata value (string, number, bigint, boolean or Uint8Array)`,
            )
          }
          w.setWhich(e, KEY_VALUE, g.data.tag)
          w.data(e, g.data, value)
      }
    }
  }
}

export function readHeader(r: FrameReader, s: StructReader): MessageHeader {
  const f = HEADER.fields
  const dataflowId = r.text(s, f.dataflowId)
  const senderNode = r.text(s, f.senderNode)
  const senderOperator = r.text(s, f.senderOperator)
  const outputId = r.text(s, f.outputId)
  const metadata = readMetadata(r, s, f.metadata)
  return {
    dataflowId,
    senderNode,
    senderOperator,
    outputId,
    sequence: r.u64(s, f.sequence),
    timestampNs: r.u64(s, f.timestampNs),
    metadata,
    encoding: r.text(s, f.encoding),
    messageId: r.text(s, f.messageId),
    redelivered: r.bool(s, f.redelivered),
  }
}

/** A metadata list at `field` of `s`; entries of unknown value types are dropped. */
export function readMetadata(r: FrameReader, s: StructReader, field: PointerField): Record<string, MetadataValue> {
  const g = KEY_VALUE.fields
  const metadata: Record<string, MetadataValue> = {}
  const list = r.structList(s, field)
  for (let i = 0; i < list.count; i++) {
    const e = r.element(list, i)
    let value: MetadataValue
    switch (r.which(e, KEY_VALUE)) {
      case g.text.tag:
        value = r.text(e, g.text)
        break
      case g.float64.tag:
        value = r.f64(e, g.float64)
        break
      case g.int64.tag:
        value = r.i64(e, g.int64)
        break
      case g.bool.tag:
        value = r.bool(e, g.bool)
        break
      case g.data.tag:
        value = r.data(e, g.data)
        break
      default:
        // A value type from a newer peer: drop this entry, keep the rest (see common.capnp).
        continue
    }
    const key = r.text(e, g.key)
    if (Object.hasOwn(metadata, key)) throw new ProtocolError(`metadata key ${JSON.stringify(key)} appears twice`)
    // `__proto__` must become an own property, not the object's prototype.
    if (key === '__proto__') Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true })
    else metadata[key] = value
  }
  return metadata
}

export function str(value: string, name: string): string {
  if (typeof value !== 'string') throw new ProtocolEncodeError(`${name} is a ${describeType(value)}, not a string`)
  return value
}

export function strList(values: readonly string[], name: string): readonly string[] {
  if (!Array.isArray(values)) throw new ProtocolEncodeError(`${name} is a ${describeType(values)}, not an array`)
  for (const v of values) if (typeof v !== 'string') throw new ProtocolEncodeError(`${name} holds a ${describeType(v)}, not a string`)
  return values
}

export function bool(value: boolean, name: string): boolean {
  if (typeof value !== 'boolean') throw new ProtocolEncodeError(`${name} is a ${describeType(value)}, not a boolean`)
  return value
}

/** `value` if it fits an unsigned field of `bits` bits; a ProtocolEncodeError naming `name` otherwise. */
function unsigned(value: number, bits: 16 | 32, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 2 ** bits - 1) {
    throw new ProtocolEncodeError(`${name} must be an integer in [0, 2^${bits} - 1], got ${String(value)}`)
  }
  return value
}

export function u32(value: number, name: string): number {
  return unsigned(value, 32, name)
}

export function u16(value: number, name: string): number {
  return unsigned(value, 16, name)
}

export function u64(value: bigint, name: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) {
    throw new ProtocolEncodeError(`${name} must be a bigint in [0, 2^64 - 1], got ${describeValue(value)}`)
  }
  return value
}

export function enumOrdinal<T extends string>(values: readonly T[], value: T, name: string): number {
  const i = values.indexOf(value)
  if (i < 0) throw new ProtocolEncodeError(`${name} must be one of ${values.join(', ')}, got ${describeValue(value)}`)
  return i
}

export function unencodable(msg: { type: string }): ProtocolEncodeError {
  return new ProtocolEncodeError(`cannot encode a message of type ${describeValue((msg as { type?: unknown }).type)}`)
}

export function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object'
  return typeof value
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value)
}
