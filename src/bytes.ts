/**
 * A fresh copy of `bytes` that owns its whole `ArrayBuffer`. Not `bytes.slice()`: on a Node
 * Buffer (which msgpackr, zeromq and many libraries return) `slice` is a view into the same,
 * often pooled, memory, and transferring or structured-cloning that view would move or copy the
 * whole pool.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}

/** The same bytes as a Buffer: `bytes` itself when it is one, else a view (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** True when the view spans its entire, transferable ArrayBuffer. */
export function ownsWholeBuffer(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
}
