/**
 * Helpers for common payloads on top of raw bytes. Every payload on the wire is a
 * `Uint8Array`; these turn JSON values, text and typed arrays into bytes and back without
 * users hand-rolling encoders.
 */

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Encode any JSON-serialisable value (bigints become strings). */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
}

/** Decode bytes produced by {@link encodeJson} (or any UTF-8 JSON). */
export function decodeJson<T = unknown>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T
}

export function encodeText(text: string): Uint8Array {
  return encoder.encode(text)
}

export function decodeText(data: Uint8Array): string {
  return decoder.decode(data)
}

type NumericArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array

/** The bytes of a typed array, without copying. */
export function typedArrayBytes(array: NumericArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
}

interface TypedArrayClass<T extends NumericArray> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T
  new (length: number): T
  readonly BYTES_PER_ELEMENT: number
  readonly name: string
}

/**
 * View bytes as a typed array. Zero-copy when the bytes are suitably aligned; otherwise the
 * bytes are copied into a fresh aligned buffer (typed arrays cannot start at an odd offset).
 * @example const ranges = asTypedArray(Float32Array, input.data)
 */
export function asTypedArray<T extends NumericArray>(cls: TypedArrayClass<T>, data: Uint8Array): T {
  const size = cls.BYTES_PER_ELEMENT
  if (data.byteLength % size !== 0) {
    throw new RangeError(`${data.byteLength} bytes is not a whole number of ${cls.name} elements (${size} bytes each)`)
  }
  const length = data.byteLength / size
  if (data.byteOffset % size === 0) return new cls(data.buffer as ArrayBuffer, data.byteOffset, length)
  const copy = new Uint8Array(data.byteLength)
  copy.set(data)
  return new cls(copy.buffer, 0, length)
}

/** Encoding names the helpers declare, so receivers know what the bytes hold. */
export const Encoding = {
  raw: 'raw',
  json: 'json',
  utf8: 'utf8',
  f32: 'f32',
  f64: 'f64',
  i32: 'i32',
  u8: 'u8',
} as const
