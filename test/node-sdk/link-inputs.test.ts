/**
 * A node's reliable direct inputs (node-sdk/link-inputs.ts) on a real link log in a temp
 * folder: the periodic look at the log, and a busy program's catch-up, read only inputs whose
 * socket went quiet (a flowing socket shows its gaps itself), and the cursor covers each entry before the program is handed
 * it, with one write per LINK_MARK_AHEAD entries in a stream, exact once the loop has waited.
 */
import t, { type Test } from 'tap'
import { encodeNodeToNode } from '../../src/protocol/node/codec.js'
import { LinkCursor, LinkLogWriter } from '../../src/transport/link-log.js'
import { EventBuffer } from '../../node-sdk/event-buffer.js'
import { DirectCounter } from '../../node-sdk/direct-counter.js'
import { LINK_MARK_AHEAD, LINK_READ_AHEAD, LINK_READ_AHEAD_BYTES, LINK_SETTLE_MS, LinkInputs } from '../../node-sdk/link-inputs.js'
import type { DoraEvent } from '../../node-sdk/events.js'

/**
 * A process of the sink: input `in` of node `sink` reading the log in `dir` from its cursor
 * (`sink.in`), as a new process (or the next run) opens it.
 */
function sinkProcess(t: Test, dir: string, queueSize = 100_000) {
  const buffer = new EventBuffer()
  const counter = new DirectCounter()
  const spec = { inputId: 'in', queueSize, senderNode: 'src', outputId: 'out', logDir: dir, cursorName: 'sink.in' }
  const inputs = new LinkInputs([spec], buffer, counter, 'flow', 'sink')
  t.teardown(() => inputs.release())
  return { inputs, buffer, counter }
}

function setup(t: Test, queueSize = 100_000, dir = t.testdir({}), fileBytes?: number) {
  const writer = LinkLogWriter.open(dir, fileBytes === undefined ? {} : { fileBytes })
  t.teardown(() => writer.close())
  const { inputs, buffer, counter } = sinkProcess(t, dir, queueSize)
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
  /**
   * The program takes up to `count` events as node.ts hands them over (handed out, then come
   * back from): the link seqs of the inputs, and 'closed' for the input's end.
   */
  const take = (count: number): Array<bigint | 'closed'> => {
    const out: Array<bigint | 'closed'> = []
    while (out.length < count) {
      const item = buffer.shift()
      if (item === undefined) break
      const event = item.event
      if (event === undefined) continue
      if (item.link !== undefined) inputs.handedOut(item.link.input, item.link.seq, event)
      out.push(event.type === 'input-closed' ? 'closed' : item.link!.seq)
      if (item.link !== undefined) inputs.consumed(item.link.input, item.link.seq)
    }
    return out
  }
  return { dir, inputs, append, taken, take, buffer, writer, counter }
}

/** Let the reads the inputs scheduled (one slice per turn) run. */
async function turns(n = 8): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
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

t.test("a busy program's catch-up reads the log only of inputs whose socket brought nothing meanwhile", async (t) => {
  const { inputs, append, taken } = setup(t)
  inputs.poll()
  inputs.arrived(append(1))
  t.same(taken(), [1])
  // The program was busy; 2 and 3 were appended, 2's socket copy comes during the catch-up.
  const two = append(2)
  const three = append(3)
  let endCatchUp = inputs.beginCatchUp()
  inputs.arrived(two)
  endCatchUp()
  t.same(taken(), [2], 'the socket flowed: 3 is left to its socket copy, not read ahead from the log')
  inputs.arrived(three)
  t.same(taken(), [3], 'its socket copy is taken, not dropped as already read')
  // 4's socket copy never comes (its sender's pipe refused it): a catch-up that hears nothing reads it.
  append(4)
  endCatchUp = inputs.beginCatchUp()
  endCatchUp()
  t.same(taken(), [4], 'a quiet socket during the catch-up: read from the log')
})

t.test('the cursor covers each entry before the program has it: one write per mark-ahead read in a stream, exact after a wait', async (t) => {
  const { dir, inputs, append, taken } = setup(t)
  const cursor = () => new LinkCursor(dir, 'sink.in').value
  const n = Number(LINK_MARK_AHEAD) + 5
  const writes: { consumed: bigint; inHand: bigint; read: bigint }[] = []
  let last = cursor()
  // A receiver that keeps up: each message is read, handed over and come back from in turn.
  for (let seq = 1n; seq <= BigInt(n); seq++) {
    inputs.arrived(append(Number(seq)))
    t.same(taken(), [Number(seq)])
    inputs.handedOut('in', seq)
    const now = cursor()
    t.ok(now.inHand >= seq, `entry ${seq} is covered before the program sees it`)
    if (now.inHand !== last.inHand || now.consumed !== last.consumed || now.read !== last.read) writes.push(now)
    last = now
    inputs.consumed('in', seq)
  }
  t.same(
    writes,
    [
      { consumed: 0n, inHand: 1n + LINK_MARK_AHEAD, read: 1n + LINK_MARK_AHEAD },
      { consumed: 1n + LINK_MARK_AHEAD, inHand: 2n + 2n * LINK_MARK_AHEAD, read: 2n + 2n * LINK_MARK_AHEAD },
    ],
    'two writes for the stream, as entries past the marks are read: each covers the next mark-ahead, read and in hand, and records what was consumed',
  )
  inputs.settleSoon()
  t.same(cursor(), last, 'the loop just started to wait: nothing written yet')
  await new Promise((resolve) => setTimeout(resolve, LINK_SETTLE_MS * 3))
  t.same(cursor(), { consumed: BigInt(n), inHand: 0n, read: BigInt(n) }, 'after it waited a while: exact, nothing in hand')
})

t.test(
  'reading ahead of the program: read bounds what was read, inHand what was handed, consumed stays behind what waits, and what the queue dropped is consumed',
  async (t) => {
    const { dir, inputs, append, buffer } = setup(t, 2)
    const cursor = () => new LinkCursor(dir, 'sink.in').value
    const n = Number(LINK_MARK_AHEAD) + 5
    for (let i = 1; i <= n; i++) inputs.arrived(append(i))
    // Read 1 .. n, handed none: its queue of 2 holds n - 1 and n, the rest were dropped.
    // Written when 1 and 2 + LINK_MARK_AHEAD were read; at the first, nothing waited before it
    // (it is covered as in hand too, as the next to be handed over); at the second, its queue held
    // the two before it, and had dropped the rest: consumed unseen.
    t.same(
      cursor(),
      { consumed: LINK_MARK_AHEAD - 1n, inHand: 1n + LINK_MARK_AHEAD, read: 2n + 2n * LINK_MARK_AHEAD },
      'every entry read is covered; consumed: those dropped before what waits',
    )
    t.equal(buffer.oldestLinkSeq('in'), BigInt(n - 1), 'the queue holds the newest two')
    inputs.settle(true)
    t.same(
      cursor(),
      { consumed: BigInt(n - 2), inHand: 0n, read: BigInt(n - 2) },
      "settled: the dropped ones are consumed, the two waiting are not, none in hand; read: what was accounted for, not the two waiting (never the program's: gone from the log, they are drops)",
    )
    const item = buffer.shift()!
    inputs.handedOut('in', item.link!.seq)
    t.same(cursor(), { consumed: BigInt(n - 2), inHand: BigInt(n - 1) + LINK_MARK_AHEAD, read: BigInt(n - 2) }, 'handed after a settle: covered again')
    inputs.settle(true)
    t.same(
      cursor(),
      { consumed: BigInt(n - 2), inHand: BigInt(n - 1), read: BigInt(n - 1) },
      'settled holding one: it is in hand, the one after it still waits',
    )
  },
)

t.test('a new process counts as drops only the entries gone past what the last one may have read', async (t) => {
  const dir = t.testdir({})
  // Log files of ~3 entries each, so the bound can remove some.
  const first = setup(t, 100_000, dir, 160)
  first.inputs.arrived(first.append(1))
  first.inputs.handedOut('in', 1n)
  const n = 80
  for (let i = 2; i <= n; i++) first.append(i)
  // The process died holding entry 1, having read nothing else; the sender's bound removed
  // the files holding nothing past entry n - 10.
  first.writer.collect(0n, BigInt(n - 10))
  const before = new LinkCursor(dir, 'sink.in').value
  t.same(before, { consumed: 0n, inHand: 1n + LINK_MARK_AHEAD, read: 1n + LINK_MARK_AHEAD }, 'it had marked up to the mark-ahead past entry 1 as maybe read')
  const { inputs: again, buffer: next, counter } = sinkProcess(t, dir)
  again.poll()
  const got: bigint[] = []
  for (let item = next.shift(); item !== undefined; item = next.shift()) if (item.link !== undefined) got.push(item.link.seq)
  const oldest = got[0]!
  t.ok(oldest > 2n + LINK_MARK_AHEAD, `the oldest entry left (${oldest}) is past the mark`)
  t.equal(counter.dropped, Number(oldest - 2n - LINK_MARK_AHEAD), `drops counted: ${2n + LINK_MARK_AHEAD} .. ${oldest - 1n}, not the ones it may have read`)
})

t.test('a program that fell behind has at most LINK_READ_AHEAD entries read ahead of it; taking half reads on, and its close waits for the rest', async (t) => {
  const { inputs, append, take, buffer } = setup(t)
  const n = 2 * LINK_READ_AHEAD + 100
  // A backlog in the log whose socket copies never came (the receiver was busy, or restarting).
  for (let i = 1; i <= n; i++) append(i)
  inputs.poll()
  await turns()
  t.equal(buffer.directQueued('in'), LINK_READ_AHEAD, 'the reads stop at the bound: the log keeps the rest')
  inputs.arrived(append(n + 1))
  inputs.tick()
  await turns()
  t.equal(buffer.directQueued('in'), LINK_READ_AHEAD, 'neither a message from the socket nor the periodic look reads past it')
  // The sender closes: the input ends after all of its log, not at the bound.
  inputs.supervisorClosed('in', 0)
  await turns()
  const got = take(LINK_READ_AHEAD / 2)
  t.same(
    got,
    Array.from({ length: LINK_READ_AHEAD / 2 }, (_, i) => BigInt(i + 1)),
    'the program gets the oldest first',
  )
  await turns()
  t.equal(buffer.directQueued('in'), LINK_READ_AHEAD, 'half taken: read on to the bound')
  for (let round = 0; round < 20 && !got.includes('closed'); round++) {
    got.push(...take(1000))
    await turns()
  }
  t.same(got, [...Array.from({ length: n + 1 }, (_, i) => BigInt(i + 1)), 'closed'], 'every entry once, in order, then the end')
})

t.test('payload bytes read ahead are bounded too (LINK_READ_AHEAD_BYTES)', async (t) => {
  const { inputs, writer, take, buffer } = setup(t)
  const MiB = 1024 * 1024
  const fit = LINK_READ_AHEAD_BYTES / MiB
  const head = encodeNodeToNode({ type: 'input', id: '', sequence: 0n, timestampNs: 0n, messageId: 'm', encoding: 'raw', metadata: {} })
  const payload = new Uint8Array(MiB)
  // The bound, what taking half lets in again, and one more that stays in the log.
  for (let i = 0; i < fit + fit / 2 + 1; i++) writer.append(head, payload)
  inputs.poll()
  await turns()
  t.equal(buffer.directQueued('in'), fit, `${fit} entries of 1 MiB wait: the bound's bytes`)
  t.equal(take(fit / 2 - 1).length, fit / 2 - 1)
  await turns()
  t.equal(buffer.directQueued('in'), fit / 2 + 1, 'less than half taken: nothing more read')
  t.equal(take(1).length, 1)
  await turns()
  t.equal(buffer.directQueued('in'), fit, 'half taken: read on to the bound')
  t.equal(take(fit).length, fit)
  await turns()
  t.equal(buffer.directQueued('in'), 1, 'the last one read once there was room')
})

t.test("a dataflow's Stop withholds what was read ahead: the cursor leaves it unconsumed and unaccounted, the next process gets it unmarked", async (t) => {
  const dir = t.testdir({})
  const first = setup(t, 100_000, dir)
  for (let i = 1; i <= 500; i++) first.append(i)
  first.inputs.poll()
  await turns()
  t.same(
    first.take(10),
    Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
    'the program took 10',
  )
  first.inputs.withhold()
  first.inputs.arrived(first.append(501))
  first.inputs.tick()
  first.inputs.supervisorClosed('in', 0)
  await turns()
  t.same(first.take(1000), [], 'the program gets nothing more of the link, nor its close')
  t.equal(first.buffer.directQueued('in'), 490, 'nothing more was read')
  first.inputs.settle(true)
  t.same(new LinkCursor(dir, 'sink.in').value, { consumed: 10n, inHand: 0n, read: 10n }, 'consumed and accounted for: the 10 taken')
  first.inputs.release()
  const { inputs: again, buffer: next } = sinkProcess(t, dir)
  again.poll()
  const got: Array<{ seq: bigint; redelivered: boolean }> = []
  for (let item = next.shift(); item !== undefined; item = next.shift())
    if (item.event?.type === 'input') got.push({ seq: item.link!.seq, redelivered: item.event.metadata.redelivered })
  t.same(
    got,
    Array.from({ length: 491 }, (_, i) => ({ seq: BigInt(i + 11), redelivered: false })),
    'the next process gets 11..501, none marked redelivered (none was handed over)',
  )
})

for (const [how, end] of [
  ['stopped', (inputs: LinkInputs) => (inputs.withhold(), inputs.settle(true))],
  ['released', (inputs: LinkInputs) => inputs.release()],
] as const) {
  t.test(`a process ${how} while re-handing a dead one's entries keeps its bound: the rest come marked in the next`, async (t) => {
    const dir = t.testdir({})
    const first = setup(t, 100_000, dir)
    for (let i = 1; i <= 100; i++) first.append(i)
    first.inputs.poll()
    // The first process took 1..49 and died holding 50 (no settle: SIGKILLed).
    t.equal(first.take(49).length, 49)
    const held = first.buffer.shift()!
    first.inputs.handedOut('in', held.link!.seq, held.event)
    const died = new LinkCursor(dir, 'sink.in').value
    t.ok(died.inHand >= 50n && died.consumed < 50n, `its cursor covers 50 (${JSON.stringify(died, (_, v) => (typeof v === 'bigint' ? Number(v) : v))})`)
    /** A new process of the sink on the same cursor: what it is handed, `n` entries, marked or not. */
    const life = (n: number, finish: (inputs: LinkInputs) => void): Array<[bigint, boolean]> => {
      const { inputs, buffer } = sinkProcess(t, dir)
      inputs.poll()
      const got: Array<[bigint, boolean]> = []
      while (got.length < n) {
        const item = buffer.shift()
        if (item === undefined) break
        if (item.event?.type !== 'input') continue
        inputs.handedOut('in', item.link!.seq, item.event)
        got.push([item.link!.seq, item.event.metadata.redelivered])
        inputs.consumed('in', item.link!.seq)
      }
      finish(inputs)
      return got
    }
    const second = life(1, end)
    t.same(second, [[died.consumed + 1n, true]], 'the second process re-handed one, marked, and ended')
    const third = life(100, () => {})
    const unmarked = third.filter(([seq, marked]) => seq <= 50n && !marked).map(([seq]) => seq)
    t.same(unmarked, [], 'the third process marks every entry up to the one the first held')
  })
}
