/**
 * How `dora-ts state dump` shows a state value to people: the text itself when it is printable
 * UTF-8, else hex or base64, and what it decodes to when it is one MessagePack value.
 *
 * Apart from admin.ts because it is presentation only: it never touches a store, and nothing
 * but the CLI's output depends on it.
 *
 * @module
 */
import { unpackMultiple } from 'msgpackr'

/**
 * A state value for people: the text itself (JSON-quoted) when it is printable UTF-8, else
 * hex (up to 32 bytes) or base64, followed by the value it decodes to when it is one
 * MessagePack value (the `msgpack` codec's format).
 */
export function formatValue(bytes: Uint8Array): string {
  const text = printableText(bytes)
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (text !== undefined) {
    // One printable byte is also a whole MessagePack integer (0x20-0x7e): msgpack.encode(103)
    // is "g". Say both rather than guess.
    const decoded = bytes.length === 1 ? msgpackValue(buffer) : undefined
    return decoded === undefined ? JSON.stringify(text) : `${JSON.stringify(text)} (msgpack: ${decoded})`
  }
  const shown = bytes.length <= 32 ? `hex:${buffer.toString('hex')}` : `base64:${buffer.toString('base64')}`
  const decoded = msgpackValue(buffer)
  return decoded === undefined ? shown : `${shown} (msgpack: ${decoded})`
}

/** `bytes` as text when it is valid UTF-8 without control characters (tabs and newlines are fine). */
export function printableText(bytes: Uint8Array): string | undefined {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text
}

function msgpackValue(buffer: Buffer): string | undefined {
  try {
    const values = unpackMultiple(buffer) as unknown[]
    if (values.length !== 1) return undefined
    const json = JSON.stringify(values[0], (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v))
    if (json === undefined) return undefined
    return json.length > 200 ? `${json.slice(0, 200)}...` : json
  } catch {
    return undefined
  }
}
