/**
 * How `dora-ts topic echo` shows a message and how `topic hz` computes a rate
 * (runtime/cli/topic-format.ts), from messages as a tap hands them over.
 */
import t from 'tap'
import { formatMessage, formatRate, messageJson, payloadPreview, rateOf } from '../../../runtime/cli/topic-format.js'
import type { TappedMessage } from '../../../runtime/supervisor/output-taps.js'

function message(payload: Uint8Array, fields: Partial<TappedMessage> = {}, kept = payload.byteLength): TappedMessage {
  return {
    topic: 'camera/image',
    sequence: '42',
    timestampNs: String(BigInt(Date.UTC(2026, 11, 7, 14, 2, 11, 532)) * 1_000_000n),
    messageId: '',
    encoding: 'raw',
    metadata: {},
    bytes: payload.byteLength,
    data: Buffer.from(payload.subarray(0, kept)).toString('base64'),
    ...fields,
  }
}

t.test('JSON and text payloads are shown as text, metadata after them', async (t) => {
  const json = message(Buffer.from('{"frame":42}'), { encoding: 'json', metadata: { width: 640, tag: 'left' } })
  t.match(formatMessage(json), /^\d\d:\d\d:\d\d\.532 camera\/image #42 json 12 B: \{"frame":42\} {2}\{"width":640,"tag":"left"\}$/)
  t.equal(payloadPreview(message(Buffer.from('line one\nline two'), { encoding: 'utf8' })), '"line one\\nline two"', 'control characters escaped')
  t.same(messageJson(json), { ...json, partial: false, text: '{"frame":42}', json: { frame: 42 } })
})

t.test('a long text is cut, and a preview that ends inside a character is still text', async (t) => {
  const long = Buffer.from('é'.repeat(300))
  const shown = payloadPreview(message(long, { encoding: 'utf8' }, 101))
  t.match(shown, /^é{50}\.\.\. \(600 B\)$/, 'the 50 whole characters of 101 bytes, then the size')
  t.equal(messageJson(message(long, {}, 101))['partial'], true)
  t.notOk('text' in messageJson(message(long, {}, 101)), 'no text for a partial payload in --json')
})

t.test('numeric encodings are shown as numbers; binary as hex', async (t) => {
  const floats = new Float32Array([1.5, -2, 0.25])
  t.equal(payloadPreview(message(new Uint8Array(floats.buffer), { encoding: 'f32' })), '[1.5, -2, 0.25]')
  const reading = new Float32Array([4.99564])
  t.equal(payloadPreview(message(new Uint8Array(reading.buffer), { encoding: 'f32' })), '[4.99564]', 'not 4.995639801025391')
  const many = new Int32Array(Array.from({ length: 20 }, (_, i) => i * 10))
  t.equal(payloadPreview(message(new Uint8Array(many.buffer), { encoding: 'i32' })), '[0, 10, 20, 30, 40, 50, 60, 70, ... (20 values)]')
  const binary = Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff)
  binary[0] = 0xff
  t.equal(payloadPreview(message(binary)), '<ff 25 4a 6f 94 b9 de 03 28 4d 72 97 bc e1 06 2b ...>')
  t.equal(payloadPreview(message(new Uint8Array(0))), '(empty)')
  t.match(formatMessage(message(new Uint8Array(3 * 1024 * 1024), {}, 16)), /raw 3\.0 MiB: <00 00/)
})

t.test('what a node put in its topic or encoding cannot move the cursor', async (t) => {
  const line = formatMessage(message(Buffer.from('x'), { encoding: 'raw\x1b[2J\nnext' }))
  t.notOk(line.includes('\x1b') || line.includes('\n'), line)
})

t.test('rateOf: messages and bytes per second over the gaps of the window, with their spread', async (t) => {
  t.equal(rateOf([]), undefined)
  t.equal(rateOf([{ ns: 5n, bytes: 1 }]), undefined)
  const at = (ms: number, bytes = 1000): { ns: bigint; bytes: number } => ({ ns: BigInt(ms) * 1_000_000n, bytes })
  // Gaps of 40, 60, 40, 60 ms: 4 gaps in 200 ms, 20 Hz; 4 000 bytes after the first in 0.2 s.
  const figures = rateOf([at(0, 99_999), at(40), at(100), at(140), at(200)])!
  t.equal(figures.hz, 20)
  t.equal(figures.bytesPerSecond, 20_000)
  t.equal(figures.min, 0.04)
  t.equal(figures.max, 0.06)
  t.ok(Math.abs(figures.stdDev - 0.01) < 1e-12, `std dev ${figures.stdDev}`)
  t.equal(figures.window, 5)
  t.equal(formatRate('camera/image', figures, 3), 'camera/image: 20.00 Hz, 19.5 KiB/s (min 40.0 ms, max 60.0 ms, std dev 10.0 ms, window 5)')
  t.equal(formatRate('a/b', figures, 0), 'a/b: 20.00 Hz, 19.5 KiB/s (min 40.0 ms, max 60.0 ms, std dev 10.0 ms, window 5), nothing new')
  t.equal(formatRate('a/b', undefined, 0), 'a/b: no messages yet')
  t.equal(formatRate('a/b', rateOf([at(1), at(1)]), 2), 'a/b: 2 messages all sent at once (window 2)', 'two stamps alike: no rate to divide by')
})
