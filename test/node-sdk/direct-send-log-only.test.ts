/**
 * On a reliable direct link, a payload of LINK_READ_BYTES (8 KiB) or more travels in the link
 * log only: the socket carries the header, which says where the entry is, and the receiver
 * reads the payload back from the log (node-sdk/direct-send.ts). Below it the payload rides the
 * socket as well. A node's `DORA_TS_LINK_READ_BYTES` moves the line (0: never in the log only).
 *
 * Real ZeroMQ sockets and a real link log in a temporary folder: what the receiving socket gets
 * and what the log holds are read back as the receiver's SDK would.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import type { Pull } from 'zeromq'
import { DirectSender, LINK_READ_BYTES } from '../../node-sdk/direct-send.js'
import { DirectCounter } from '../../node-sdk/direct-counter.js'
import { decodeNodeToNode } from '../../src/protocol/node/codec.js'
import { LinkLogReader } from '../../src/transport/link-log.js'
import { cameraRegistration, frameHeader, viewerSocket, withEnv } from './fixtures/direct-sender.js'

/** A payload of `size` bytes whose bytes say which message it is (byte i = (seq + i) mod 251). */
function payload(seq: number, size: number): Uint8Array {
  const data = new Uint8Array(size)
  for (let i = 0; i < size; i++) data[i] = (seq + i) % 251
  return data
}

interface Link {
  sender: DirectSender
  pull: Pull
  logDir: string
}

async function link(t: Test, linkReadBytes: string | undefined): Promise<Link> {
  const { pull, endpoint, dir } = await viewerSocket(t)
  const logDir = join(dir, 'log')
  const registration = cameraRegistration(
    { endpoint, queueSize: 100, logDir, cursorName: 'viewer.frames' },
    { dataflowName: 'log-only', shmDir: '', shmThreshold: 0, restartCount: 0 },
  )
  const sender = withEnv({ DORA_TS_LINK_READ_BYTES: linkReadBytes }, () => new DirectSender(registration, new DirectCounter()))
  t.teardown(() => sender.release(true))
  return { sender, pull, logDir }
}

/** Send one message of each size and report, per message, whether the socket carried its payload and what the log holds. */
async function sendAndRead(l: Link, sizes: readonly number[]): Promise<{ onSocket: boolean[]; logIntact: boolean[] }> {
  const onSocket: boolean[] = []
  sizes.forEach((size, i) => l.sender.send('frames', frameHeader(i + 1), payload(i + 1, size)))
  for (let i = 0; i < sizes.length; i++) {
    const frames = await l.pull.receive()
    const head = decodeNodeToNode(frames[0]!)
    if (head.type !== 'input' || head.link === undefined) throw new Error(`message ${i + 1}: not a logged input (${head.type})`)
    if (frames.length > 1) {
      const expected = payload(i + 1, sizes[i]!)
      if (Buffer.compare(frames[1]!, expected) !== 0) throw new Error(`message ${i + 1}: the socket's payload differs from what was sent`)
    }
    onSocket.push(frames.length > 1)
  }
  const reader = new LinkLogReader(l.logDir, 0n)
  const logIntact = sizes.map((size, i) => {
    const entry = reader.next()
    return entry !== undefined && Buffer.compare(entry.payload, payload(i + 1, size)) === 0
  })
  reader.close()
  return { onSocket, logIntact }
}

const SIZES = [1024, LINK_READ_BYTES - 1, LINK_READ_BYTES, 300 * 1024]

t.test('from LINK_READ_BYTES on, the payload is in the log only; below, on the socket too; every one in the log', async (t) => {
  t.equal(LINK_READ_BYTES, 8 * 1024, 'the line is 8 KiB')
  const { onSocket, logIntact } = await sendAndRead(await link(t, undefined), SIZES)
  t.same(onSocket, [true, true, false, false], 'payloads under 8 KiB ride the socket, those of 8 KiB and more do not')
  t.same(logIntact, [true, true, true, true], 'the log holds every payload as sent')
})

t.test("a node's DORA_TS_LINK_READ_BYTES moves the line; 0 keeps every payload on the socket", async (t) => {
  const low = await sendAndRead(await link(t, '1024'), SIZES)
  t.same(low.onSocket, [false, false, false, false], '1024: from 1 KiB on, in the log only')
  const never = await sendAndRead(await link(t, '0'), SIZES)
  t.same(never.onSocket, [true, true, true, true], '0: on the socket too, whatever the size')
  t.same(never.logIntact, [true, true, true, true], 'and in the log as ever')
  const wrong = await sendAndRead(await link(t, 'lots'), SIZES)
  t.same(wrong.onSocket, [true, true, false, false], 'a value that is not a byte count: the default')
})
