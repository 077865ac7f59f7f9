/** What a custom node has not consumed, replayed to its restarted process. */
import t from 'tap'
import type { DeliveredEvent } from '../../../src/events.js'
import { Redelivery } from '../../../runtime/supervisor/redelivery.js'

const input = (n: number): DeliveredEvent => ({
  type: 'input',
  id: 'in',
  header: {
    dataflowId: 'd',
    senderNode: 's',
    senderOperator: '',
    outputId: 'o',
    sequence: BigInt(n),
    timestampNs: 0n,
    metadata: {},
    encoding: 'raw',
    messageId: `0.${n}`,
    redelivered: false,
  },
  data: new Uint8Array([n]),
})

t.test('a batch the node died with is replayed in order, inputs marked redelivered, Stop left out', async (t) => {
  const r = new Redelivery()
  const closed = new Set(['gone'])
  for (const e of [input(1), { type: 'input-closed', id: 'other' } as const, input(2), { type: 'stop', cause: 'all-inputs-closed' } as const]) {
    r.delivered(e, closed)
    if (e.type === 'input-closed') closed.add(e.id)
  }
  r.died()
  const { closedBefore, replay } = r.takeReplay(new Set(['gone', 'other']))
  t.strictSame(closedBefore, ['gone'], 'the inputs closed before the batch, not the one closed in it')
  t.strictSame(
    replay.map((e) => (e.type === 'input' ? `${e.header.messageId}:${e.header.redelivered}` : e.type)),
    ['0.1:true', 'input-closed', '0.2:true'],
  )
  t.strictSame(r.takeReplay(new Set(['x'])), { closedBefore: ['x'], replay: [] }, 'handed over once')
})

t.test('a consumed batch is not replayed', async (t) => {
  const r = new Redelivery()
  r.delivered(input(1), new Set())
  r.consumedAll()
  r.died()
  t.strictSame(r.takeReplay(new Set(['c'])), { closedBefore: ['c'], replay: [] })
})

t.test('the original event is left unmarked (other receivers share it)', async (t) => {
  const r = new Redelivery()
  const original = input(3)
  r.delivered(original, new Set())
  r.died()
  r.takeReplay(new Set())
  t.equal(original.type === 'input' && original.header.redelivered, false)
})

t.test('push mode: a cumulative credit consumes a prefix, and the rest is replayed after what it closed', async (t) => {
  const r = new Redelivery()
  const closed = new Set<string>()
  const events: DeliveredEvent[] = [input(1), { type: 'input-closed', id: 'a' }, input(2), { type: 'input-recovered', id: 'a' }, input(3)]
  for (const e of events) {
    r.delivered(e, closed)
    if (e.type === 'input-closed') closed.add(e.id)
    if (e.type === 'input-recovered') closed.delete(e.id)
  }
  t.equal(r.lastSent, 5)
  t.equal(r.inFlightOf('in'), 3)
  t.strictSame(
    r.consumedUpTo(3).map((e) => e.type),
    ['input', 'input-closed', 'input'],
    'events 1-3',
  )
  t.equal(r.inFlightOf('in'), 1, 'per-input count follows the consumption')
  t.strictSame(r.consumedUpTo(2), [], 'a credit below what was consumed changes nothing')
  t.strictSame(r.consumedUpTo(99).length, 2, 'numbers never sent are capped at the last one sent')
  r.delivered(input(4), closed)
  r.delivered(input(5), closed)
  r.consumedUpTo(6)
  r.died()
  const { closedBefore, replay } = r.takeReplay(closed)
  t.strictSame(closedBefore, [], "'a' was recovered before the unconsumed event")
  t.strictSame(
    replay.map((e) => (e.type === 'input' ? e.header.messageId : e.type)),
    ['0.5'],
    'only the unconsumed input, numbered 7 on the dead connection',
  )
})

t.test('push mode: the closed inputs of a replay are those before the oldest unconsumed event', async (t) => {
  const r = new Redelivery()
  const closed = new Set<string>()
  r.delivered(input(1), closed)
  r.delivered({ type: 'input-closed', id: 'x' }, closed)
  closed.add('x')
  r.delivered(input(2), closed)
  r.consumedUpTo(2)
  r.died()
  const { closedBefore, replay } = r.takeReplay(closed)
  t.strictSame(closedBefore, ['x'], 'the consumed input-closed moved into the state before the replay')
  t.strictSame(
    replay.map((e) => (e.type === 'input' ? e.header.messageId : e.type)),
    ['0.2'],
  )
  r.newConnection()
  t.equal(r.lastSent, 0, 'a new connection numbers from 1')
})
