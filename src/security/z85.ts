/**
 * Z85 (ZeroMQ RFC 32) encoding of CURVE keys: ZAP hands the handler a client's public key as
 * 32 raw bytes, while keys are written, shown and allowed as the 40-character Z85 text that
 * `curveKeyPair()` returns. Only the encoder is needed (we compare texts).
 *
 * @module
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#'

/** Z85 text of `bytes` (its length must be a multiple of 4, as a 32-byte key is). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`Z85 encodes whole 4-byte groups; got ${bytes.length} bytes`)
  let out = ''
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i]! << 24) >>> 0) + (bytes[i + 1]! << 16) + (bytes[i + 2]! << 8) + bytes[i + 3]!
    let chunk = ''
    for (let j = 0; j < 5; j++) {
      chunk = ALPHABET[value % 85]! + chunk
      value = Math.floor(value / 85)
    }
    out += chunk
  }
  return out
}

/** True when `text` looks like a Z85 CURVE key (40 characters of the Z85 alphabet). */
export function isZ85Key(text: string): boolean {
  return text.length === 40 && [...text].every((c) => ALPHABET.includes(c))
}
