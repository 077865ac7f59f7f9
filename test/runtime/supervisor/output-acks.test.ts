/** The supervisor's confirmations of a custom node's outputs: cumulative, one per turn. */
import t from 'tap'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { OutputAcks } from '../../../runtime/supervisor/output-acks.js'

function acks(): { acks: OutputAcks; sent: bigint[]; gaps: Array<[bigint, bigint]> } {
  const sent: bigint[] = []
  const gaps: Array<[bigint, bigint]> = []
  return { acks: new OutputAcks({ send: (upTo) => sent.push(upTo), gap: (expected, got) => gaps.push([expected, got]) }), sent, gaps }
}

t.test('the outputs taken in one turn of the event loop are confirmed by one outputs-taken', async (t) => {
  const { acks: a, sent } = acks()
  for (let seq = 1n; seq <= 100n; seq++) a.taken(seq)
  t.strictSame(sent, [], 'nothing before the end of the turn')
  await nextTurn()
  t.strictSame(sent, [100n], 'one confirmation for the burst')
  a.taken(101n)
  await nextTurn()
  t.strictSame(sent, [100n, 101n])
})

t.test('flush() confirms at once (ahead of outputs-closed) and leaves nothing for the end of the turn', async (t) => {
  const { acks: a, sent } = acks()
  a.taken(1n)
  a.taken(2n)
  a.flush()
  t.strictSame(sent, [2n])
  a.flush()
  await nextTurn()
  t.strictSame(sent, [2n], 'no repeat')
})

t.test('sendSeq 0 asks for no confirmation; reset() starts a new connection from 1', async (t) => {
  const { acks: a, sent, gaps } = acks()
  a.taken(0n)
  await nextTurn()
  t.strictSame(sent, [])
  a.taken(1n)
  a.reset()
  await nextTurn()
  t.strictSame(sent, [], "a reset drops the old connection's pending confirmation")
  a.taken(1n)
  await nextTurn()
  t.strictSame(sent, [1n])
  t.strictSame(gaps, [])
})

t.test('a skipped number is said once per connection, and confirmation still advances', async (t) => {
  const { acks: a, sent, gaps } = acks()
  a.taken(1n)
  a.taken(3n)
  a.taken(7n)
  await nextTurn()
  t.strictSame(gaps, [[2n, 3n]], 'said once')
  t.strictSame(sent, [7n])
})
