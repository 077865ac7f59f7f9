/**
 * The worker's side of direct links between operators (worker-links.ts, event-queue.ts), on
 * real MessageChannels: which outputs go to the host and which on links (moved to a lone
 * receiver, copied when the host also needs them), what arrives becomes the input event the
 * handler sees, nothing already on a link is lost when its end is replaced or Stop comes, and
 * a linked input's queue_size drops its oldest waiting event, not the host's events.
 */
import t from 'tap'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { EventQueue } from '../../../runtime/operator/event-queue.js'
import { WorkerLinks, type LinkedEvent } from '../../../runtime/operator/worker-links.js'
import { LINK_POSTED, LINK_SETTLED, type BufferedOutput, type LinkMessage } from '../../../runtime/operator/messages.js'
import type { InputEvent } from '../../../node-sdk/events.js'

const base = { senderNode: 'cam', senderOperator: 'cam', inputId: 'frame', queueSize: 10 }

function link(role: 'in' | 'out', port: MessagePort, fields: Partial<LinkMessage> = {}): LinkMessage {
  return { type: 'link', linkId: 0, role, port, outputId: 'frame', directOnly: true, ...base, ...fields }
}

function output(outputId: string, size: number, fill: number): BufferedOutput {
  return { outputId, data: new Uint8Array(size).fill(fill), encoding: 'raw', parameters: {} }
}

/** Wait until `got` has `n` items (messages arrive on the event loop). */
async function until(got: unknown[], n: number): Promise<void> {
  while (got.length < n) await new Promise((resolve) => setImmediate(resolve))
}

t.test('outputs split between host and links; a lone direct receiver gets the bytes moved, a shared output a copy', async (t) => {
  const sender = new WorkerLinks(() => {})
  const got: LinkedEvent[] = []
  const receiver = new WorkerLinks((linked) => got.push(linked))
  const only = new MessageChannel()
  const shared = new MessageChannel()
  sender.set(link('out', only.port1, { linkId: 0, outputId: 'frame', directOnly: true }))
  sender.set(link('out', shared.port1, { linkId: 1, outputId: 'meta', directOnly: false }))
  receiver.set(link('in', only.port2, { linkId: 0, inputId: 'frame' }))
  receiver.set(link('in', shared.port2, { linkId: 1, inputId: 'meta' }))

  const big = output('frame', 64 * 1024, 7)
  const meta = output('meta', 64 * 1024, 9)
  const other = output('log', 8, 1)
  const { host, linked } = sender.split([big, meta, other])
  t.same(
    host.map((o) => o.outputId),
    ['meta', 'log'],
    'the host gets the outputs someone it routes to reads',
  )
  t.same(
    linked.map((o) => o.outputId),
    ['frame', 'meta'],
    'the links get theirs',
  )
  t.not(linked[1]!.data, meta.data, 'a large output the host also takes is copied for the link')
  sender.post(linked)
  t.equal(big.data.byteLength, 0, "the lone receiver's bytes moved (detached here)")
  t.equal(meta.data.byteLength, 64 * 1024, "the host's copy stays")
  await until(got, 2)
  const frame = got.find((g) => g.inputId === 'frame')!.event
  t.equal(frame.data.byteLength, 64 * 1024, 'the moved bytes arrive whole')
  t.ok(
    frame.data.every((b) => b === 7),
    'and right',
  )
  t.match(frame.metadata, { senderNode: 'cam', senderOperator: 'cam', outputId: 'frame', sequence: 1n, redelivered: false })
  t.match(frame.metadata.messageId, /^d[0-9a-f]{12}\.\d+$/, 'a link id')
  t.same(sender.takeCounts(), { sent: 1, received: 0, dropped: {} }, 'the sender counts what only links carried')
  t.same(receiver.takeCounts(), { sent: 0, received: 2, dropped: {} }, 'the receiver counts what arrived')
  t.equal(receiver.takeCounts(), undefined, 'counts are handed out once')
  for (const p of [only, shared]) {
    p.port1.close()
    p.port2.close()
  }
})

t.test('nothing already on a link is lost when its end is replaced or Stop comes, and nothing arrives after Stop', async (t) => {
  const got: InputEvent[] = []
  const receiver = new WorkerLinks((linked) => got.push(linked.event))
  const first = new MessageChannel()
  receiver.set(link('in', first.port2))
  const sender = new WorkerLinks(() => {})
  sender.set(link('out', first.port1))
  sender.post([output('frame', 4, 1), output('frame', 4, 2)])
  // The sender restarted: a new end replaces the old one, whose messages are taken in first.
  const second = new MessageChannel()
  receiver.set(link('in', second.port2))
  t.same(
    got.map((e) => e.data[0]),
    [1, 2],
    'what was on the old end is delivered when it is replaced',
  )
  const restarted = new WorkerLinks(() => {})
  restarted.set(link('out', second.port1))
  restarted.post([output('frame', 4, 3)])
  t.ok(receiver.hasInput('frame'), 'the input is linked')
  receiver.closeAll()
  t.same(
    got.map((e) => e.data[0]),
    [1, 2, 3],
    'Stop takes in what is already on the link, synchronously',
  )
  restarted.post([output('frame', 4, 4)])
  const third = new MessageChannel()
  receiver.set(link('in', third.port2))
  third.port1.postMessage({ data: new Uint8Array([5]), encoding: 'raw', parameters: {}, sequence: 1n, timestampNs: 0n, messageId: 'x' })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(
    got.map((e) => e.data[0]),
    [1, 2, 3],
    'nothing after Stop, on the old end or a new one',
  )
  third.port1.close()
  second.port1.close()
})

t.test("a linked input's queue_size drops its oldest waiting event, never the host's", async (t) => {
  const queue = new EventQueue()
  const linked = (n: number, inputId = 'frame'): LinkedEvent => ({
    inputId,
    queueSize: 2,
    event: { type: 'input', id: inputId, data: new Uint8Array([n]), metadata: {} as InputEvent['metadata'] },
  })
  queue.push({ type: 'stop', cause: 'manual' })
  t.equal(queue.pushLinked(linked(1)), undefined)
  t.equal(queue.pushLinked(linked(2, 'meta')), undefined, 'another input counts on its own')
  t.equal(queue.pushLinked(linked(3)), undefined)
  const displaced = queue.pushLinked(linked(4))
  t.equal(
    (displaced?.event as InputEvent | undefined)?.data[0],
    1,
    'the third waiting event of a queue_size 2 input displaces the oldest (to settle on its own channel)',
  )
  const order = (): unknown[] => {
    const out: unknown[] = []
    for (let q = queue.shift(); q !== undefined; q = queue.shift())
      out.push(q.linked === undefined ? q.event.type : `${q.linked.inputId}${(q.event as InputEvent).data[0]}`)
    return out
  }
  t.same(order(), ['stop', 'meta2', 'frame3', 'frame4'], 'the oldest of that input went; the host event and the other input stayed')
  t.equal(queue.pushLinked(linked(5)), undefined, 'handled events no longer count against the queue')
})

t.test("a channel's tally: the sender counts what it posts, the receiver what it handled or dropped", async (t) => {
  const tally = new SharedArrayBuffer(8)
  const words = new Int32Array(tally)
  const sender = new WorkerLinks(() => {})
  const got: LinkedEvent[] = []
  const receiver = new WorkerLinks((linked) => got.push(linked))
  const channel = new MessageChannel()
  sender.set(link('out', channel.port1, { tally }))
  receiver.set(link('in', channel.port2, { tally }))
  sender.post([output('frame', 8, 1), output('frame', 8, 2), output('frame', 8, 3)])
  t.equal(Atomics.load(words, LINK_POSTED), 3, 'three posted')
  await until(got, 3)
  t.equal(Atomics.load(words, LINK_SETTLED), 0, 'arrived is not settled: a worker dying now loses them')
  receiver.handling()
  receiver.handled(got[0]!)
  receiver.dropped(got[1]!)
  t.equal(Atomics.load(words, LINK_SETTLED), 2, 'one handled and one dropped by the queue rule are settled')
  t.same(receiver.takeCounts()?.dropped, { frame: 1 }, 'the drop is counted as before')
  channel.port1.close()
  channel.port2.close()
})
