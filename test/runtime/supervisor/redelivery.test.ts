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
  r.startBatch(new Set(['gone']))
  for (const e of [input(1), { type: 'input-closed', id: 'other' } as const, input(2), { type: 'stop', cause: 'all-inputs-closed' } as const]) r.delivered(e)
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
  r.startBatch(new Set())
  r.delivered(input(1))
  r.consumed()
  r.died()
  t.strictSame(r.takeReplay(new Set(['c'])), { closedBefore: ['c'], replay: [] })
})

t.test('the original event is left unmarked (other receivers share it)', async (t) => {
  const r = new Redelivery()
  const original = input(3)
  r.startBatch(new Set())
  r.delivered(original)
  r.died()
  r.takeReplay(new Set())
  t.equal(original.type === 'input' && original.header.redelivered, false)
})
