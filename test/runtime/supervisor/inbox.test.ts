import t from 'tap'
import { Inbox } from '../../../runtime/supervisor/inbox.js'
import { atStop } from '../../../runtime/supervisor/run-units.js'
import { parseDataflow } from '../../../src/spec/load.js'
import { PublishedHeaders } from '../../../runtime/supervisor/topic-publish.js'
import type { DeliveredEvent, MessageHeader } from '../../../src/events.js'

function header(sequence: number): MessageHeader {
  return {
    dataflowId: 'df',
    senderNode: 'src',
    senderOperator: '',
    outputId: 'out',
    sequence: BigInt(sequence),
    timestampNs: 0n,
    metadata: {},
    encoding: 'raw',
    messageId: '',
    redelivered: false,
  }
}

function input(id: string, sequence: number): DeliveredEvent {
  return { type: 'input', id, header: header(sequence), data: new Uint8Array([sequence]) }
}

function sequences(inbox: Inbox): string[] {
  const out: string[] = []
  for (let item = inbox.shift(); item !== undefined; item = inbox.shift()) {
    out.push(item.type === 'input' ? `${item.id}:${item.header.sequence}` : item.type)
  }
  return out
}

t.test('drop_oldest keeps the newest queue_size messages of one input and counts the drops', async (t) => {
  const inbox = new Inbox(new Map([['scan', { queueSize: 3, queuePolicy: 'drop_oldest' as const }]]))
  for (let i = 1; i <= 7; i++) inbox.push(input('scan', i))
  t.equal(inbox.queued('scan'), 3)
  t.equal(inbox.dropped.get('scan'), 4)
  t.same(sequences(inbox), ['scan:5', 'scan:6', 'scan:7'])
})

t.test('one busy input does not evict messages of another input', async (t) => {
  const inbox = new Inbox(
    new Map([
      ['fast', { queueSize: 2, queuePolicy: 'drop_oldest' as const }],
      ['slow', { queueSize: 2, queuePolicy: 'drop_oldest' as const }],
    ]),
  )
  inbox.push(input('slow', 1))
  for (let i = 1; i <= 5; i++) inbox.push(input('fast', i))
  t.same(sequences(inbox), ['slow:1', 'fast:4', 'fast:5'])
  t.equal(inbox.dropped.get('slow'), undefined)
})

t.test('control events are never dropped and keep their place in arrival order', async (t) => {
  const inbox = new Inbox(new Map([['a', { queueSize: 1, queuePolicy: 'drop_oldest' as const }]]))
  inbox.push(input('a', 1))
  inbox.push({ type: 'input-closed', id: 'b' })
  inbox.push(input('a', 2))
  inbox.push({ type: 'stop', cause: 'manual' })
  t.same(sequences(inbox), ['input-closed', 'a:2', 'stop'])
})

t.test('unshift puts an item back at the head and keeps the per-input count right', async (t) => {
  const inbox = new Inbox(new Map([['a', { queueSize: 2, queuePolicy: 'drop_oldest' as const }]]))
  inbox.push(input('a', 1))
  inbox.push(input('a', 2))
  const first = inbox.shift()!
  t.equal(inbox.queued('a'), 1)
  inbox.unshift(first)
  t.equal(inbox.queued('a'), 2)
  t.same(sequences(inbox), ['a:1', 'a:2'])
})

t.test('backpressure never drops at the inbox', async (t) => {
  const inbox = new Inbox(new Map([['a', { queueSize: 2, queuePolicy: 'backpressure' as const }]]))
  for (let i = 1; i <= 5; i++) inbox.push(input('a', i))
  t.equal(inbox.length, 5)
  t.equal(inbox.dropped.size, 0)
})

t.test('backpressureFull: a backpressure queue at queue_size is full; drop_oldest ones never are; lengths are reported', async (t) => {
  const reported: Array<[string, number]> = []
  const inbox = new Inbox(
    new Map([
      ['slow', { queueSize: 2, queuePolicy: 'backpressure' as const }],
      ['fast', { queueSize: 1, queuePolicy: 'drop_oldest' as const }],
    ]),
    (inputId, queued) => reported.push([inputId, queued]),
  )
  inbox.push(input('slow', 1))
  t.notOk(inbox.backpressureFull('slow'))
  inbox.push(input('slow', 2))
  t.ok(inbox.backpressureFull('slow'), 'full at queue_size')
  inbox.push(input('fast', 1))
  inbox.push(input('fast', 2))
  t.notOk(inbox.backpressureFull('fast'), 'drop_oldest makes room instead')
  inbox.shift()
  t.notOk(inbox.backpressureFull('slow'))
  t.same(reported, [
    ['slow', 1],
    ['slow', 2],
    ['fast', 1],
    ['fast', 0],
    ['fast', 1],
    ['slow', 1],
  ])
})

t.test("a dataflow's Stop goes ahead of the inputs that can wait; best-effort ones and control events keep their place", async (t) => {
  const reported: string[] = []
  const inbox = new Inbox(
    new Map([
      ['kept', { queueSize: 10, queuePolicy: 'drop_oldest' as const, atStop: 'waits' as const }],
      ['tick', { queueSize: 10, queuePolicy: 'backpressure' as const, atStop: 'dropped' as const }],
      ['lossy', { queueSize: 10, queuePolicy: 'drop_oldest' as const }],
    ]),
    (inputId, queued) => reported.push(`${inputId}=${queued}`),
  )
  inbox.push(input('kept', 1))
  inbox.push(input('lossy', 1))
  inbox.push(input('tick', 1))
  inbox.push({ type: 'input-closed', id: 'lossy' })
  inbox.push(input('kept', 2))
  t.equal(inbox.atStop('kept'), 'waits')
  t.equal(inbox.atStop('lossy'), undefined)
  // The end of all inputs is no Stop of the dataflow: nothing is set aside for it.
  inbox.push({ type: 'stop', cause: 'all-inputs-closed' })
  t.equal(inbox.length, 6)
  reported.length = 0
  inbox.push({ type: 'stop', cause: 'manual' })
  t.ok(inbox.stopRequested)
  t.equal(inbox.queued('kept'), 0)
  t.equal(inbox.queued('tick'), 0)
  t.equal(inbox.queued('lossy'), 1)
  t.same(reported.sort(), ['kept=0', 'lossy=1', 'tick=0'], 'the new lengths are reported (backpressure lets waiting senders go)')
  t.same(inbox.dropped.size, 0, 'set aside is not dropped')
  t.equal(inbox.waitingForNextRun, 2, "the two of 'kept' wait for the next run; the tick is dropped")
  inbox.countWaitingForNextRun(3)
  t.equal(inbox.waitingForNextRun, 5, "and those its operator's worker handed back")
  t.same(sequences(inbox), ['lossy:1', 'input-closed', 'stop', 'stop'])
})

t.test('a Stop of the dataflow sets aside a queue of 100 000 at once', async (t) => {
  const inbox = new Inbox(new Map([['kept', { queueSize: 200_000, queuePolicy: 'drop_oldest' as const, atStop: 'waits' as const }]]))
  for (let i = 1; i <= 100_000; i++) inbox.push(input('kept', i))
  inbox.push({ type: 'stop', cause: 'manual' })
  t.same(sequences(inbox), ['stop'])
  t.equal(inbox.waitingForNextRun, 100_000)
})

t.test('what waits at a Stop: timer ticks, and messages the outbox keeps (not best-effort ones, not without a store)', async (t) => {
  const yaml = `nodes:
  - id: src
    path: src.mjs
    inputs: { tick: dora/timer/millis/10 }
    outputs: [out]
  - id: sink
    path: sink.mjs
    inputs:
      tick: dora/timer/millis/10
      kept: src/out
      lossy: { source: src/out, reliability: best_effort }
`
  const sink = parseDataflow(yaml, '/flows/dataflow.yml', { checkFiles: false }).nodes.find((n) => n.id === 'sink')
  if (sink?.kind !== 'custom') throw new Error('the sink is a custom node')
  const verdicts = (outbox: boolean): Record<string, string> => Object.fromEntries(sink.inputs.map((i) => [i.id, atStop(i, outbox) ?? 'keeps its place']))
  t.same(verdicts(true), { tick: 'dropped', kept: 'waits', lossy: 'keeps its place' })
  t.same(verdicts(false), { tick: 'dropped', kept: 'keeps its place', lossy: 'keeps its place' })
})

t.test('a message topic pub put in a queue makes way at a Stop without counting as waiting in the outbox', async (t) => {
  const inbox = new Inbox(new Map([['kept', { queueSize: 10, queuePolicy: 'drop_oldest' as const, atStop: 'waits' as const }]]))
  const published = new PublishedHeaders().next('df', 'src', 'out', 'json')
  inbox.push(input('kept', 1))
  inbox.push({ type: 'input', id: 'kept', header: published, data: new Uint8Array([7]) })
  inbox.push({ type: 'stop', cause: 'manual' })
  t.same(sequences(inbox), ['stop'])
  t.equal(inbox.waitingForNextRun, 1, 'only the one with an outbox entry waits for the next run')
})
