/**
 * Taps on outputs (runtime/supervisor/output-taps.ts): what `record` is given, and a real link
 * log read from where its writer was when the tap opened, bounded, and handed over once more
 * when the run ends.
 */
import t from 'tap'
import { join } from 'node:path'
import { OutputTaps, TAP_QUEUE } from '../../../runtime/supervisor/output-taps.js'
import { LinkLogWriter } from '../../../src/transport/link-log.js'
import { encodeNodeToNode } from '../../../src/protocol/node/codec.js'
import type { MessageHeader } from '../../../src/events.js'

function header(sequence: number, metadata: MessageHeader['metadata'] = {}): MessageHeader {
  return {
    dataflowId: 'df',
    senderNode: 'camera',
    senderOperator: '',
    outputId: 'image',
    sequence: BigInt(sequence),
    timestampNs: 1_000_000n * BigInt(sequence),
    metadata,
    encoding: 'json',
    messageId: `${sequence}.0`,
    redelivered: false,
  }
}

/** Append message `n` to `log` as the SDK does: the header encoded, the payload after it. */
function append(log: LinkLogWriter, n: number): void {
  const h = header(n)
  const head = encodeNodeToNode({
    type: 'input',
    id: 'frame',
    sequence: h.sequence,
    timestampNs: h.timestampNs,
    messageId: h.messageId,
    encoding: 'json',
    metadata: {},
  })
  log.append(head, Buffer.from(JSON.stringify(n)))
}

t.test('record: only tapped topics, only while tapped, payload read only for a tap', async (t) => {
  const taps = new OutputTaps()
  t.notOk(taps.watching('camera/image'), 'no tap, nothing watched')
  const id = taps.open([{ topic: 'camera/image', via: 'supervisor' }], 4)
  t.ok(taps.watching('camera/image'))
  t.notOk(taps.watching('camera/depth'))
  let reads = 0
  const payload = (): Uint8Array => (reads++, Buffer.from('0123456789'))
  taps.record('camera/image', header(1, { big: 5n, raw: Buffer.from([1, 2]), ok: true }), payload)
  taps.record('camera/depth', header(2), payload)
  t.equal(reads, 1, 'the other topic never read its payload')
  const read = taps.read(id)!
  t.equal(read.skipped, 0)
  t.same(read.messages, [
    {
      topic: 'camera/image',
      sequence: '1',
      timestampNs: '1000000',
      messageId: '1.0',
      encoding: 'json',
      metadata: { big: '5', raw: { bytes: Buffer.from([1, 2]).toString('base64') }, ok: true },
      bytes: 10,
      data: Buffer.from('0123').toString('base64'),
    },
  ])
  t.same(taps.read(id)!.messages, [], 'handed over once')
  taps.close(id)
  t.notOk(taps.watching('camera/image'), 'closed: nothing watched')
  t.equal(taps.read(id), undefined)
})

t.test('a tap holds TAP_QUEUE messages; older ones are counted as skipped', async (t) => {
  const taps = new OutputTaps()
  const id = taps.open([{ topic: 'a/b', via: 'supervisor' }], 8)
  for (let i = 1; i <= TAP_QUEUE + 5; i++) taps.record('a/b', header(i), () => Buffer.from('x'))
  const read = taps.read(id)!
  t.equal(read.skipped, 5)
  t.equal(read.messages.length, TAP_QUEUE)
  t.equal(read.messages[0]!.sequence, '6', 'the newest are kept')
})

t.test('a link log is read from where its writer was when the tap opened', async (t) => {
  const dir = join(t.testdir(), 'log')
  const log = LinkLogWriter.open(dir, { fileBytes: 4096 })
  t.teardown(() => log.close())
  for (let i = 1; i <= 30; i++) append(log, i)
  const taps = new OutputTaps()
  const id = taps.open([{ topic: 'camera/image', via: 'link-log', logDir: dir }], 64)
  t.same(taps.read(id)!.messages, [], 'nothing sent before the tap')
  for (let i = 31; i <= 80; i++) append(log, i)
  const read = taps.read(id)!
  t.same(
    read.messages.map((m) => Buffer.from(m.data, 'base64').toString()),
    Array.from({ length: 50 }, (_, i) => String(31 + i)),
    'every message after it, across files',
  )
  t.equal(read.messages[0]!.topic, 'camera/image')
  t.equal(read.messages[0]!.sequence, '31')
  append(log, 81)
  append(log, 82)
  // The run ends: the tap takes what its log holds and hands it over once more.
  taps.closeAll()
  append(log, 83)
  const last = taps.read(id)!
  t.same(
    last.messages.map((m) => m.sequence),
    ['81', '82'],
  )
  t.equal(last.ended, true)
  t.equal(taps.read(id), undefined, 'then it is gone')
})

t.test('a tap on a log that has no file yet reads from its first entry', async (t) => {
  const dir = join(t.testdir(), 'log')
  const taps = new OutputTaps()
  const id = taps.open([{ topic: 'camera/image', via: 'link-log', logDir: dir }], 64)
  t.same(taps.read(id)!.messages, [])
  const log = LinkLogWriter.open(dir)
  t.teardown(() => log.close())
  append(log, 1)
  t.same(
    taps.read(id)!.messages.map((m) => m.sequence),
    ['1'],
  )
})
