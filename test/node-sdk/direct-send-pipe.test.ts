/**
 * A best-effort sender's pipe to a receiver that stopped reading holds a bounded number of
 * bytes, not only of messages (node-sdk/direct-send.ts, sendPipeLimit): ZeroMQ's high-water
 * mark counts messages, and 64 of a camera's 4 MB frames waited in the camera's process (256
 * MB) for a viewer that had stopped. Payloads sent as shared-memory files are held to as many
 * files not yet read: their names are small and waited in the kernel's socket buffer beyond
 * any high-water mark. What finds no room is dropped and counted as the receiving input's.
 *
 * Real ZeroMQ sockets and files: the receiver is a PULL socket that never reads, with a pipe
 * of 2 messages, so what the sender accepted is what its own pipe held (and a few on the way).
 */
import t, { type Test } from 'tap'
import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DirectSender, DIRECT_PIPE_BYTES, MIN_DIRECT_PIPE, pipeQueue, sendPipeLimit } from '../../node-sdk/direct-send.js'
import { LINK_READ_AHEAD } from '../../src/transport/link-log.js'
import { DirectCounter } from '../../node-sdk/direct-counter.js'
import { AckWriter, readAck } from '../../node-sdk/link-acks.js'
import { cameraRegistration, frameHeader, viewerSocket, withEnv } from './fixtures/direct-sender.js'

t.test('the limit: messages while they fit in the budget, fewer for larger ones, never under the queue nor 2', async (t) => {
  t.equal(sendPipeLimit(1, 0), MIN_DIRECT_PIPE, 'nothing sent yet')
  t.equal(sendPipeLimit(1, 1024), MIN_DIRECT_PIPE, '64 x 1 KiB fit')
  t.equal(sendPipeLimit(100, 1024), 200, 'twice a large queue, as before')
  t.equal(sendPipeLimit(1, 4 << 20), DIRECT_PIPE_BYTES / (4 << 20), '4 MiB frames: 8 (32 MiB)')
  t.equal(sendPipeLimit(1, 64 << 20), 2, 'never under 2')
  t.equal(sendPipeLimit(20, 4 << 20), 20, 'never under the queue: a burst of a queue is not dropped for room')
  t.equal(sendPipeLimit(1, 4 << 20, 0), MIN_DIRECT_PIPE, 'budget 0: counted in messages only')
})

t.test("a reliable direct link's pipe holds no more than its receiver reads ahead of its program; a best-effort one its queue", async (t) => {
  t.equal(pipeQueue({ queueSize: 10_000_000, logDir: '/dev/shm/x/links/a@out' }), LINK_READ_AHEAD, 'a huge queue on a logged link: the read-ahead bound')
  t.equal(pipeQueue({ queueSize: 10, logDir: '/dev/shm/x/links/a@out' }), 10, 'a small one: its queue')
  t.equal(pipeQueue({ queueSize: 10_000_000 }), 10_000_000, 'best effort: its queue, whatever its size (its receiver keeps that many)')
  t.equal(pipeQueue({ queueSize: 10_000_000, logDir: '' }), 10_000_000, 'no log folder: best effort')
})

/** A viewer that reads nothing, with a pipe of 2 messages; its endpoint. */
async function stalledReceiver(t: Test): Promise<string> {
  return (await viewerSocket(t, { receiveHighWaterMark: 2 })).endpoint
}

function sender(dir: string, endpoint: string, shmThreshold: number, restartCount: number): { direct: DirectSender; counter: DirectCounter } {
  const registration = cameraRegistration(
    { endpoint, queueSize: 1 },
    { dataflowName: 'pipe-bound', shmDir: dir, shmThreshold: shmThreshold === 0 ? 0 : 1, restartCount },
  )
  const counter = new DirectCounter()
  return { direct: new DirectSender(registration, counter), counter }
}

/** Send `count` frames, one per turn of the event loop, as a camera would (the bounds hold whatever the pace). */
async function sendAll(direct: DirectSender, count: number, size: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    direct.send('frames', frameHeader(i), new Uint8Array(size), true)
    await new Promise<void>((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * A stalled receiver and a sender to it, in a fresh folder; `env`: the sender's environment
 * (`DORA_TS_DIRECT_PIPE_BYTES`, `DORA_TS_DIRECT_SHM_THRESHOLD`), read as it is made;
 * `restartCount`: the sender's life in the run.
 */
async function setUp(t: Test, env: Record<string, string> = {}, restartCount = 0): Promise<{ dir: string; direct: DirectSender; counter: DirectCounter }> {
  const dir = t.testdir({})
  const endpoint = await stalledReceiver(t)
  const { direct, counter } = withEnv(env, () => sender(dir, endpoint, env['DORA_TS_DIRECT_SHM_THRESHOLD'] === undefined ? 0 : 1, restartCount))
  t.teardown(() => direct.release(true))
  return { dir, direct, counter }
}

t.test('on the socket: 1 MiB frames to a receiver that reads nothing fill 32 MiB of pipe, the rest dropped', async (t) => {
  const { direct, counter } = await setUp(t)
  const COUNT = 100
  await sendAll(direct, COUNT, 1 << 20)
  const accepted = COUNT - counter.dropped
  // 32 in the sender's pipe, 2 in the receiver's, one or two in ZeroMQ's engines and the kernel.
  t.ok(accepted >= 32 && accepted <= 32 + 2 + 4, `${accepted} of ${COUNT} accepted (before: 64 + 2 + a few)`)
  const drops = counter.current().linkDrops ?? []
  t.same(
    drops.map((d) => ({ ...d })),
    [{ node: 'viewer', inputId: 'frames', dropped: BigInt(counter.dropped) }],
    'every drop counted as the receiving input',
  )
})

t.test('through shared-memory files: at most as many files wait unread, the rest dropped; a read one makes room', async (t) => {
  const { dir, direct, counter } = await setUp(t, { DORA_TS_DIRECT_SHM_THRESHOLD: String(1 << 20) })
  const COUNT = 40
  await sendAll(direct, COUNT, 4 << 20)
  const unread = () => readdirSync(dir).filter((name) => name.startsWith('viewer@') && !name.endsWith('.free'))
  const files = unread()
  const limit = sendPipeLimit(1, 4 << 20)
  t.equal(files.length, limit, `${files.length} files wait for the receiver (${limit} allowed; before: all ${COUNT})`)
  t.equal(counter.dropped, COUNT - limit, 'the rest were dropped, counted')
  // The receiver reads the oldest (it lets go of its name): the next frame has room.
  rmSync(join(dir, files.sort((a, b) => Number(a.split('@').at(-1)!.split('.')[0]) - Number(b.split('@').at(-1)!.split('.')[0]))[0]!))
  direct.send('frames', frameHeader(COUNT + 1), new Uint8Array(4 << 20), true)
  t.equal(unread().length, limit, 'a new file took its place')
  t.equal(counter.dropped, COUNT - limit, 'and nothing more was dropped')
})

/**
 * {@link setUp} with a budget of 8 frames of 1 MiB (the receiver's own pipe of 64 messages
 * cannot hold more of them either), and the acknowledgement writer the receiving SDK would
 * make, in the sender's folder.
 */
async function setUpAcknowledged(t: Test, restartCount = 0) {
  const set = await setUp(t, { DORA_TS_DIRECT_PIPE_BYTES: String(8 << 20) }, restartCount)
  const acks = new AckWriter(set.dir, 'viewer')
  t.teardown(() => acks.close())
  return { ...set, acks, ackFile: join(set.dir, 'viewer@ack@camera@frames@frames') }
}

/**
 * Frames `from`..`to` of 1 MiB, sent at once: the drops counted by the time it returns are
 * the acknowledgements' alone (a full socket's are counted later, when its send fails).
 */
function sendAtOnce(direct: DirectSender, from: number, to: number): void {
  for (let i = from; i <= to; i++) direct.send('frames', frameHeader(i), new Uint8Array(1 << 20), true)
}

t.test('acknowledged: what is on its way to a receiver, all pipes together, is held to the limit', async (t) => {
  const { direct, counter, acks, ackFile } = await setUpAcknowledged(t)
  // The receiver took a first large message, number 0.
  acks.write('frames', 'camera', 'frames', 0n, 0)
  t.same(readAck(ackFile), { seq: 0n, life: 0 }, 'the acknowledgement is in the file named after the receiver')
  await sendAll(direct, 40, 1 << 20)
  t.equal(counter.dropped, 32, 'frames 1..8 let on their way, 9..40 dropped (counted), whatever the sockets held')
  acks.write('frames', 'camera', 'frames', 3n, 0)
  sendAtOnce(direct, 41, 50)
  t.equal(counter.dropped, 32 + 7, 'the receiver took 1..3: three more went, seven dropped')
})

t.test('no acknowledgement to read (an older receiver, or none taken yet): the pipes bound it by messages as before', async (t) => {
  const { direct, counter } = await setUp(t, { DORA_TS_DIRECT_PIPE_BYTES: String(8 << 20) })
  await sendAll(direct, 40, 1 << 20)
  const accepted = 40 - counter.dropped
  t.ok(accepted >= 8 && accepted <= 8 + 2 + 4, `${accepted} accepted: the sender's pipe of 8, the receiver's 2, a few on the way`)
})

t.test("a sender restarted while its receiver stalls: the older life's acknowledgements are not its own, and its own unread ones bound it", async (t) => {
  // The camera's third process (restart count 2); the viewer's file still says it took frame
  // 500 of the camera's second, and it takes nothing of this one's.
  const { direct, counter, acks, ackFile } = await setUpAcknowledged(t, 2)
  acks.write('frames', 'camera', 'frames', 500n, 1)
  t.same(readAck(ackFile), { seq: 500n, life: 1 })
  await sendAll(direct, 40, 1 << 20)
  t.equal(counter.dropped, 32, 'frames 1..8 on their way, 9..40 dropped (counted)')
  // The viewer comes back and takes frames 1..5 of this life. (Before, the older life's 500
  // read as "all taken", and all ten went to the full socket.)
  acks.write('frames', 'camera', 'frames', 5n, 2)
  sendAtOnce(direct, 41, 50)
  t.equal(counter.dropped, 32 + 5, 'five more went, five dropped')
})

t.test("an older receiver's record, the sequence alone, reads as before: one above all sent lets everything through", async (t) => {
  const { dir, direct, counter } = await setUp(t, { DORA_TS_DIRECT_PIPE_BYTES: String(8 << 20) }, 2)
  const record = Buffer.alloc(16)
  record.writeBigUInt64LE(500n, 0)
  record.writeBigUInt64LE(500n, 8)
  writeFileSync(join(dir, 'viewer@ack@camera@frames@frames'), record)
  t.same(readAck(join(dir, 'viewer@ack@camera@frames@frames')), { seq: 500n, life: undefined })
  await sendAll(direct, 40, 1 << 20)
  const accepted = 40 - counter.dropped
  t.ok(accepted >= 8 && accepted <= 8 + 2 + 4, `${accepted} accepted: the pipes bound it by messages, as with no record`)
})
