/**
 * Bytes shown as text by the CLI: a KVS value (`dora-ts kvs`), a message's payload (`dora-ts
 * topic echo`). Decoding is strict UTF-8 (a stray byte makes them binary, shown another way).
 *
 * @module
 */

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** `bytes` as text when they are valid UTF-8; undefined when not. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** A value as `--json` shows it: size, base64, and its text and JSON when it has them. */
export function describeValue(bytes: Uint8Array): { bytes: number; text?: string; json?: unknown; base64: string } {
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  const text = utf8Text(bytes)
  if (text === undefined) return { bytes: bytes.byteLength, base64 }
  try {
    return { bytes: bytes.byteLength, text, json: JSON.parse(text) as unknown, base64 }
  } catch {
    return { bytes: bytes.byteLength, text, base64 }
  }
}

/**
 * `text` for one line of output: JSON-escaped when it holds control characters (they would
 * break a one-line-per-item listing), cut to `maxChars` characters; `cut` says whether it was.
 */
export function oneLine(text: string, maxChars: number): { shown: string; cut: boolean } {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  const escaped = /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text
  const chars = [...escaped]
  return chars.length <= maxChars ? { shown: escaped, cut: false } : { shown: chars.slice(0, maxChars).join(''), cut: true }
}
