/**
 * A checksum on every stored value, so that bytes damaged on disk read as damage, not as data.
 *
 * LMDB checks the structure of its pages (and page-check.ts walks them before a store is
 * trusted), but it keeps no checksum of what a page holds: random bytes over the inside of a
 * value read back as that value, with success. The torture suite's damage section found it (a
 * KVS listed with exit 0 and one value's middle replaced). So each value is stored sealed: its
 * bytes followed by a CRC-32 of its key and its bytes (4 bytes, little-endian), checked on every
 * read. The key is inside the sum, so a value that a damaged page moved under another key, or
 * a key whose bytes changed, fails too.
 *
 * CRC-32 (IEEE, zlib's) rather than a cryptographic hash: this guards against damage, not
 * against someone who can write the file (they own the store anyway), and zlib's is native
 * (3.4-4.4 GB/s measured on the 2-core CI machine). `zlib.crc32` arrived in Node 20.15; before it, a
 * table in JS computes the same sum.
 *
 * Stores whose layout record predates sealing (version 1) keep raw values: {@link RAW_VALUES}
 * reads and writes them as before, so an existing store opens as it did.
 *
 * @module
 */
import * as zlib from 'node:zlib'
import { asBuffer } from '../../bytes.js'

/** Bytes the seal adds after each value. */
export const SEAL_BYTES = 4

/** CRC-32 of any bytes followed by their CRC-32, little-endian (the CRC's residue). */
const CRC32_RESIDUE = 0x2144df1c

/**
 * Thrown (inside a store's read) when a value's seal does not match its key and bytes; the
 * stores' error mapping (errors.ts classifyLmdbError) turns it into their DORA_*_CORRUPT.
 */
export class SealMismatchError extends Error {
  constructor(what: string) {
    super(`the checksum stored with ${what} does not match its bytes`)
    this.name = 'SealMismatchError'
  }
}

type Crc32 = (data: string | Uint8Array, value?: number) => number

const nodeCrc32 = (zlib as unknown as { crc32?: Crc32 }).crc32

/** CRC-32 of `data` (strings as UTF-8), continuing from `value`. */
export const crc32: Crc32 =
  nodeCrc32 === undefined
    ? tableCrc32
    : // Empty data adds nothing. (Node 20's zlib.crc32 answers 0, whatever `value`, for a
      // view of a zero-length ArrayBuffer: Buffer.from(new Uint8Array(0).buffer).)
      (data, value = 0) => (data.length === 0 ? value : nodeCrc32(data, value))

let table: Uint32Array | undefined

/** The same sum as zlib's, for Node 20 before 20.15 (exported for its test). */
export function tableCrc32(data: string | Uint8Array, value = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  let crc = (value ^ 0xffffffff) >>> 0
  for (let i = 0; i < bytes.length; i++) crc = (table[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * How one store writes and reads its values: sealed (layout version 2 on), or raw (an older
 * store). `key` is the entry's key as stored (bytes) or as text (UTF-8), whichever the caller has.
 */
export interface ValueSeal {
  readonly sealed: boolean
  /** The bytes to store for `value` under `key`, in an ArrayBuffer of their own. */
  seal(key: string | Uint8Array, value: Uint8Array): Buffer
  /**
   * The same, in a scratch buffer of this thread that the next call overwrites: for a put that
   * copies the bytes at once (lmdb-js `putSync`). Cheaper than {@link seal} for large values:
   * besides the copy, lmdb-js looks up the address of every new ArrayBuffer it writes from
   * (~17 µs for a fresh 64 KiB one against ~2 µs for one it has seen, measured).
   */
  sealTransient(key: string | Uint8Array, value: Uint8Array): Buffer
  /**
   * The value stored under `key` (a view of `stored`, no copy); throws SealMismatchError naming
   * `what` (a function on hot paths: the text is built only for the error).
   */
  open(key: string | Uint8Array, stored: Buffer, what: string | (() => string)): Buffer
  /** The value's length from its stored length (for size estimates). */
  valueLength(storedLength: number): number
}

/** Values stored as they are (stores written before sealing). */
export const RAW_VALUES: ValueSeal = {
  sealed: false,
  seal: (_key, value) => asBuffer(value),
  sealTransient: (_key, value) => asBuffer(value),
  open: (_key, stored) => stored,
  valueLength: (storedLength) => storedLength,
}

const MAX_SCRATCH_BYTES = 1024 * 1024
let scratch = Buffer.allocUnsafeSlow(4096)

/** Write `value` and its seal into `stored` (exactly `value.byteLength + SEAL_BYTES` long); returns `stored`. */
export function sealInto(stored: Buffer, key: string | Uint8Array, value: Uint8Array): Buffer {
  stored.set(value, 0)
  stored.writeUInt32LE(crc32(value, crc32(key)), value.byteLength)
  return stored
}

/** Values followed by CRC-32(key, value). */
export const SEALED_VALUES: ValueSeal = {
  sealed: true,
  // A buffer of its own (never a slice of Node's shared pool): a worker posts it to the host,
  // and a posted view of the pool would clone all of the pool's 8 KiB (or detach it).
  seal: (key, value) => sealInto(Buffer.allocUnsafeSlow(value.byteLength + SEAL_BYTES), key, value),
  sealTransient(key, value) {
    const length = value.byteLength + SEAL_BYTES
    // Kept for values up to 1 MiB (grown in powers of two, never shrunk); a larger one gets a
    // buffer of its own, so one 64 MiB value does not pin 64 MiB in the thread for good.
    if (length > MAX_SCRATCH_BYTES) return sealInto(Buffer.allocUnsafe(length), key, value)
    if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(length)))
    return sealInto(scratch.subarray(0, length), key, value)
  },
  open(key, stored, what) {
    // The CRC of bytes followed by their own CRC (little-endian) is a constant: one pass over
    // the stored bytes as they are, no view of the value to make first (a read's hot path).
    if (stored.length < SEAL_BYTES || crc32(stored, crc32(key)) !== CRC32_RESIDUE) {
      throw new SealMismatchError(typeof what === 'string' ? what : what())
    }
    return stored.subarray(0, stored.length - SEAL_BYTES)
  },
  valueLength: (storedLength) => Math.max(0, storedLength - SEAL_BYTES),
}
