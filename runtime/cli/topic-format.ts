/**
 * How `dora-ts topic echo` shows a message and how `dora-ts topic hz` measures a rate: pure
 * functions of what a tap handed over (runtime/supervisor/output-taps.ts).
 *
 * @module
 */
import type { TappedMessage } from '../supervisor/output-taps.js'
import { escapeForTerminal } from '../../src/security/escape.js'
import { formatBytes } from './unit-table.js'
import { describeValue, oneLine, utf8Text } from './value-text.js'

/** Characters of a text payload shown on a message's line. */
export const TEXT_CHARS = 160
/** Numbers of a numeric payload (`f32`, `f64`, `i32`, `u8`) shown. */
export const NUMBERS_SHOWN = 8
/** Bytes of a binary payload shown in hex. */
export const HEX_BYTES = 16

/** Encodings whose payload is text whatever it holds. */
const TEXT_ENCODINGS = new Set(['json', 'utf8', 'text', 'yaml'])

/** Element sizes of the numeric encodings the SDK's helpers declare (node-sdk/payload.ts). */
const NUMERIC: Record<string, { size: number; read: (view: DataView, at: number) => number }> = {
  // A float32 holds ~7 significant digits: more would show the widening to a double.
  f32: { size: 4, read: (v, at) => Number(v.getFloat32(at, true).toPrecision(7)) },
  f64: { size: 8, read: (v, at) => v.getFloat64(at, true) },
  i32: { size: 4, read: (v, at) => v.getInt32(at, true) },
  u8: { size: 1, read: (v, at) => v.getUint8(at) },
}

/** The bytes a tap kept of a message's payload (its first ones, up to the tap's preview size). */
export function previewBytes(message: TappedMessage): Buffer {
  return Buffer.from(message.data, 'base64')
}

/** The payload as text when it is UTF-8 (undefined when not, or when only part of it was kept and that part is not). */
export function payloadText(message: TappedMessage): string | undefined {
  const bytes = previewBytes(message)
  const text = utf8Text(bytes)
  if (text !== undefined || bytes.byteLength === message.bytes) return text
  // A preview may end inside a character: what comes before it is still text.
  for (let cut = 1; cut <= 3 && cut < bytes.byteLength; cut++) {
    const before = utf8Text(bytes.subarray(0, bytes.byteLength - cut))
    if (before !== undefined) return before
  }
  return undefined
}

/**
 * One message on one line: `HH:MM:SS.mmm topic #sequence encoding size: payload`, then its
 * metadata. The payload: text (JSON, UTF-8) cut to {@link TEXT_CHARS}; numbers for a numeric
 * encoding; hex of its first bytes otherwise. Escaped for the terminal: a payload is what a
 * node sent, not something to let move the cursor.
 */
export function formatMessage(message: TappedMessage): string {
  const time = clockTime(BigInt(message.timestampNs))
  const head = `${time} ${message.topic} #${message.sequence} ${message.encoding || 'raw'} ${formatBytes(message.bytes)}`
  const metadata = Object.keys(message.metadata).length === 0 ? '' : `  ${JSON.stringify(message.metadata)}`
  return escapeForTerminal(`${head}: ${payloadPreview(message)}${metadata}`, { keepNewlines: false })
}

/** The payload part of {@link formatMessage}. */
export function payloadPreview(message: TappedMessage): string {
  if (message.bytes === 0) return '(empty)'
  const bytes = previewBytes(message)
  const partial = bytes.byteLength < message.bytes
  const numeric = NUMERIC[message.encoding]
  if (numeric !== undefined && message.bytes % numeric.size === 0 && bytes.byteLength >= numeric.size) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const total = message.bytes / numeric.size
    const shown = Math.min(NUMBERS_SHOWN, Math.floor(bytes.byteLength / numeric.size))
    const values = Array.from({ length: shown }, (_, i) => String(numeric.read(view, i * numeric.size)))
    return `[${values.join(', ')}${total > shown ? `, ... (${total} values)` : ''}]`
  }
  const text = numeric === undefined ? payloadText(message) : undefined
  // Zeros and other control bytes are valid UTF-8: a raw payload full of them is binary.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  if (text !== undefined && (TEXT_ENCODINGS.has(message.encoding) || !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text))) {
    const { shown, cut } = oneLine(text, TEXT_CHARS)
    return cut || partial ? `${shown}... (${formatBytes(message.bytes)})` : shown
  }
  const hex = [...bytes.subarray(0, HEX_BYTES)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
  return `<${hex}${message.bytes > HEX_BYTES ? ' ...' : ''}>`
}

/** A message as `--json` prints it: the tap's fields, and its text and JSON value when it has them. */
export function messageJson(message: TappedMessage): Record<string, unknown> {
  const bytes = previewBytes(message)
  const partial = bytes.byteLength < message.bytes
  if (partial) return { ...message, partial }
  const { text, json } = describeValue(bytes)
  return { ...message, partial, ...(text === undefined ? {} : { text }), ...(json === undefined ? {} : { json }) }
}

/** Local time of day with milliseconds, from nanoseconds since the epoch. */
export function clockTime(ns: bigint): string {
  const date = new Date(Number(ns / 1_000_000n))
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`
}

/** What `topic hz` says of a topic: as `ros2 topic hz` (and `bw`), over the last messages of a window. */
export interface RateFigures {
  /** Messages per second over the window. */
  hz: number
  /** Payload bytes per second over the window (as `ros2 topic bw`). */
  bytesPerSecond: number
  /** Shortest, longest and the standard deviation of the gaps between messages, in seconds. */
  min: number
  max: number
  stdDev: number
  /** Messages the figures are taken over. */
  window: number
}

/** One message as `topic hz` keeps it: when its sender sent it and its payload's size. */
export interface Stamp {
  ns: bigint
  bytes: number
}

/**
 * The rate of `stamps` (oldest first): undefined with fewer than two. Gaps are between
 * consecutive send times; the rate is their count over their sum, and the bandwidth the bytes
 * of every message after the first over the same time.
 */
export function rateOf(stamps: readonly Stamp[]): RateFigures | undefined {
  if (stamps.length < 2) return undefined
  const gaps: number[] = []
  let bytes = 0
  for (let i = 1; i < stamps.length; i++) {
    gaps.push(Number(stamps[i]!.ns - stamps[i - 1]!.ns) / 1e9)
    bytes += stamps[i]!.bytes
  }
  const total = gaps.reduce((a, b) => a + b, 0)
  const mean = total / gaps.length
  const variance = gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length
  return {
    hz: total > 0 ? gaps.length / total : Infinity,
    bytesPerSecond: total > 0 ? bytes / total : Infinity,
    min: Math.min(...gaps),
    max: Math.max(...gaps),
    stdDev: Math.sqrt(variance),
    window: stamps.length,
  }
}

/** One line of `topic hz`: `camera/image: 29.97 Hz, 26.3 MiB/s (min 32.1 ms, max 35.0 ms, std dev 0.9 ms, window 30)`. */
export function formatRate(topic: string, figures: RateFigures | undefined, newMessages: number): string {
  if (figures === undefined) return `${topic}: ${newMessages === 0 ? 'no messages yet' : 'one message so far'}`
  if (!Number.isFinite(figures.hz)) return `${topic}: ${figures.window} messages all sent at once (window ${figures.window})`
  const ms = (s: number): string => `${(s * 1000).toFixed(s < 0.001 ? 3 : 1)} ms`
  const hz = `${figures.hz.toFixed(figures.hz < 10 ? 3 : 2)} Hz, ${formatBytes(Math.round(figures.bytesPerSecond))}/s`
  return `${topic}: ${hz} (min ${ms(figures.min)}, max ${ms(figures.max)}, std dev ${ms(figures.stdDev)}, window ${figures.window})${newMessages === 0 ? ', nothing new' : ''}`
}
