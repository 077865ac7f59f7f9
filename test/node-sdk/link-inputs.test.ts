/**
 * A node's reliable direct inputs (node-sdk/link-inputs.ts) on a real link log in a temp
 * folder: the periodic look at the log reads only inputs whose socket went quiet (a flowing
 * socket shows its gaps itself), and the cursor covers each entry before the program is handed
 * it, with one write per LINK_MARK_AHEAD entries in a stream, exact once the loop has waited.
 */
import t, { type Test } from 'tap'
import { encodeNodeToNode } from '../../src/protocol/node/codec.js'
import { LinkCursor, LinkLogWriter } from '../../src/transport/link-log.js'
import { EventBuffer } from '../../node-sdk/event-buffer.js'
import { DirectCounter } from '../../node-sdk/direct-counter.js'
import { LINK_MARK_AHEAD, LINK_SETTLE_MS, LinkInputs } from '../../node-sdk/link-inputs.js'
import type { DoraEvent } from '../../node-sdk/events.js'

function setup(t: Test) {
  const dir = t.testdir({})
  const writer = LinkLogWriter.open(dir)
  t.teardown(() => writer.close())
  const buffer = new EventBuffer()
  const spec = { inputId: 'in', queueSize: 100_000, senderNode: 'src', outputId: 'out', logDir: dir, cursorName: 'sink.in' }
  const inputs = new LinkInputs([spec], buffer, new DirectCounter(), 'flow', 'sink')
  t.teardown(() => inputs.release())
  const head = (n: number): Uint8Array =>
    encodeNodeToNode({ type: 'input', id: '', sequence: BigInt(n), timestampNs: 0n, messageId: `0.${n}`, encoding: 'raw', metadata: {} })
  /** Append message n to the log; what the socket would carry for it. */
  const append = (n: number) => {
    const at = writer.append(head(n), new Uint8Array([n]))
    const event: DoraEvent = {
      type: 'input',
      id: 'in',
      data: new Uint8Array([n]),
      metadata: {
        senderNode: 'src',
        senderOperator: '',
        outputId: 'out',
        sequence: BigInt(n),
        timestampNs: 0n,
        encoding: 'raw',
        parameters: {},
        messageId: `0.${n}`,
        redelivered: false,
      },
    }
    return { id: 'in', link: { seq: at.seq, end: at.end, newFile: at.file === at.seq }, event }
  }
  const taken = (): number[] => {
    const out: number[] = []
    for (let item = buffer.shift(); item !== undefined; item = buffer.shift()) if (item.event?.type === 'input') out.push(item.event.data[0]!)
    return out
  }
  return { dir, inputs, append, taken, buffer }
}

t.test('the periodic look reads only an input whose socket was quiet since the last one', async (t) => {
  const { inputs, append, taken } = setup(t)
  inputs.poll() // at start: nothing yet
  inputs.arrived(append(1))
  t.same(taken(), [1], 'a message from the socket is taken as it came')
  // 2 and 3 are appended; their socket copies are still in the pipe.
  const two = append(2)
  const three = append(3)
  inputs.tick()
  t.same(taken(), [], 'the socket brought something since the last look: the log is not read ahead of it')
  inputs.arrived(two)
  inputs.arrived(three)
  t.same(taken(), [2, 3], 'the socket copies are taken, none dropped as already read')
  // 4 is appended and its socket copy never comes (sent before the receiver was reachable).
  append(4)
  inputs.tick()
  t.same(taken(), [], 'one look after a message arrived: still not read')
  inputs.tick()
  t.same(taken(), [4], 'a whole period quiet: read from the log')
})

t.test('the cursor covers each entry before the program has it: one write per mark-ahead in a stream, exact after a wait', async (t) => {
  const { dir, inputs, append, taken } = setup(t)
  const cursor = () => new LinkCursor(dir, 'sink.in').value
  const n = Number(LINK_MARK_AHEAD) + 5
  for (let i = 1; i <= n; i++) inputs.arrived(append(i))
  t.equal(taken().length, n)
  const writes: { consumed: bigint; inHand: bigint }[] = []
  let last = cursor()
  for (let seq = 1n; seq <= BigInt(n); seq++) {
    inputs.handedOut('in', seq)
    const now = cursor()
    t.ok(now.inHand >= seq, `entry ${seq} is covered before the program sees it`)
    if (now.inHand !== last.inHand || now.consumed !== last.consumed) writes.push(now)
    last = now
    inputs.consumed('in', seq)
  }
  t.same(
    writes,
    [
      { consumed: 0n, inHand: 1n + LINK_MARK_AHEAD },
      { consumed: 1n + LINK_MARK_AHEAD, inHand: 2n + 2n * LINK_MARK_AHEAD },
    ],
    'two writes for the stream: each covers the next mark-ahead and records what was consumed',
  )
  inputs.settleSoon()
  t.same(cursor(), last, 'the loop just started to wait: nothing written yet')
  await new Promise((resolve) => setTimeout(resolve, LINK_SETTLE_MS * 3))
  t.same(cursor(), { consumed: BigInt(n), inHand: 0n }, 'after it waited a while: exact, nothing in hand')
})
