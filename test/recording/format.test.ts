/**
 * The recording file (src/recording/format.ts) on real files: what goes in comes out, a torn
 * last entry is passed over by a reader and cut off by a writer that opens the file again, a
 * damaged byte ends what is read, and a file that is not a recording is refused.
 */
import t from 'tap'
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RecordingReader, RecordingWriter, type RecordedMessage, type RecordingHeader } from '../../src/recording/format.js'
import { RecordingInvalidError } from '../../src/recording/errors.js'

const HEADER: RecordingHeader = { version: 1, dataflow: 'robot', yamlFile: '/robot/dataflow.yml', topics: ['camera/image', 'lidar/scan'], startedAt: 1 }

function message(n: number, topic = 'camera/image'): RecordedMessage {
  return {
    topic,
    sequence: BigInt(n),
    timestampNs: 1_000_000_000n + BigInt(n),
    encoding: 'raw',
    messageId: `${topic}.${n}`,
    metadata: { n, label: `m${n}`, ok: n % 2 === 0, big: 2n ** 63n + BigInt(n), raw: Uint8Array.from([n, 0, 255]) },
    payload: Uint8Array.from({ length: 100 + n }, (_, i) => (i * n) & 0xff),
  }
}

function readAll(path: string): { header: RecordingHeader; messages: RecordedMessage[]; tornBytes: number } {
  const reader = RecordingReader.open(path)
  try {
    const messages = [...reader.messages()].map((m) => ({ ...m, payload: Uint8Array.from(m.payload) }))
    return { header: reader.header, messages, tornBytes: reader.tornBytes }
  } finally {
    reader.close()
  }
}

t.test('messages come back as they were written: header, order, payload, metadata types', async (t) => {
  const path = join(t.testdir(), 'a.dtsrec')
  const writer = RecordingWriter.open(path, HEADER)
  const written = [message(1), message(2, 'lidar/scan'), message(3)]
  for (const m of written) writer.append(m)
  t.equal(writer.entries, 3)
  writer.close()
  const read = readAll(path)
  t.same(read.header, HEADER)
  t.same(read.messages, written)
  t.equal(read.tornBytes, 0)
  const reader = RecordingReader.open(path)
  t.same(
    [...reader.topicCounts()],
    [
      ['camera/image', 2],
      ['lidar/scan', 1],
    ],
  )
  reader.close()
})

t.test('a torn last entry: readers stop before it, a writer opening the file cuts it and goes on', async (t) => {
  const path = join(t.testdir(), 'a.dtsrec')
  const first = RecordingWriter.open(path, HEADER)
  for (let n = 1; n <= 5; n++) first.append(message(n))
  first.close()
  const whole = statSync(path).size
  // A recorder killed inside the writev of its sixth entry.
  const sixth = RecordingWriter.open(path, HEADER)
  sixth.append(message(6))
  sixth.close()
  truncateSync(path, whole + 40)
  const torn = readAll(path)
  t.equal(torn.messages.length, 5)
  t.equal(torn.tornBytes, 40)
  const again = RecordingWriter.open(path, { ...HEADER, dataflow: 'ignored: the file has its header' })
  t.equal(again.entries, 5)
  t.same([...again.recentIds], ['camera/image.1', 'camera/image.2', 'camera/image.3', 'camera/image.4', 'camera/image.5'], 'what it may be given again')
  again.append(message(6))
  again.close()
  const after = readAll(path)
  t.equal(after.header.dataflow, 'robot')
  t.same(
    after.messages.map((m) => m.sequence),
    [1n, 2n, 3n, 4n, 5n, 6n],
  )
  t.equal(after.tornBytes, 0)
})

t.test('a damaged byte ends what is read there; a file that is no recording is refused', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'a.dtsrec')
  const writer = RecordingWriter.open(path, HEADER)
  writer.append(message(1))
  writer.append(message(2))
  writer.close()
  // The last payload byte of the second entry, just before its 4-byte checksum.
  const secondEnd = statSync(path).size
  const more = RecordingWriter.open(path, HEADER)
  more.append(message(3))
  more.close()
  const damaged = readFileSync(path)
  damaged[secondEnd - 5] = damaged[secondEnd - 5]! ^ 0xff
  writeFileSync(path, damaged)
  const read = readAll(path)
  t.same(
    read.messages.map((m) => m.sequence),
    [1n],
    'the checksum catches it',
  )
  t.equal(read.tornBytes, damaged.length - (secondEnd - entryBytes(message(2))), 'what could not be read is counted')

  const other = join(dir, 'flow.yml')
  writeFileSync(other, 'nodes: []\n')
  t.throws(() => RecordingReader.open(other), { constructor: RecordingInvalidError, message: /is not a dora-ts recording \(it does not start with DTSREC1\)/ })
  t.throws(() => RecordingWriter.open(other, HEADER), { constructor: RecordingInvalidError, message: /not a dora-ts recording/ }, 'nor appended to')
  t.equal(readFileSync(other, 'utf8'), 'nodes: []\n', 'and left as it was')
  const cut = join(dir, 'cut.dtsrec')
  writeFileSync(cut, Buffer.concat([Buffer.from('DTSREC1\n'), Buffer.from([200, 0, 0, 0]), Buffer.from('{"vers')]))
  t.throws(() => RecordingReader.open(cut), { constructor: RecordingInvalidError, message: /header of the recording .* is cut short or damaged/ })
})

/** Bytes an entry of `m` takes in a file (written alone to find out). */
function entryBytes(m: RecordedMessage): number {
  const path = join(t.testdir(), 'measure.dtsrec')
  const w = RecordingWriter.open(path, HEADER)
  const before = statSync(path).size
  w.append(m)
  w.close()
  return statSync(path).size - before
}
