/**
 * The verifier must not be vacuous: fed a history built by hand, it must find each kind of
 * breach the torture suite looks for (and none in a clean history). The histories are what
 * the real operators and sink would store (see fixtures/nodes/).
 */
import t from 'tap'
import { chain, verify, type StoredState } from './fixtures/verifier.js'

interface Out {
  id: string
  r: boolean
  dup: boolean
  p: { v: number; a: number; k: number; acc: number }
}

/** The stored state and sink receipts of a perfect run over 1..n. */
function perfect(n: number): { state: StoredState; receipts: Out[] } {
  const seen = new Uint8Array(Math.ceil((n + 1) / 8))
  const receipts: Out[] = []
  let acc = 0
  let sum = 0
  for (let v = 1; v <= n; v++) {
    seen[v >> 3]! |= 1 << (v & 7)
    acc = chain(acc, v, v)
    sum += v
    receipts.push({ id: `b/${v}.0`, r: false, dup: false, p: { v, a: v, k: v, acc } })
  }
  return { state: { committed: n, a: { count: n, sum, sumsq: 0, dups: 0, inits: 1, seen }, b: { k: n, acc } }, receipts }
}

const breaches = (f: ReturnType<typeof verify>): number[] => [
  f.lostAtA,
  f.doubledAtA,
  f.uncommittedAtA,
  f.lostAtSink,
  f.doubledAtSink,
  f.uncommittedAtSink,
  f.collisions,
  f.chainMismatch ? 1 : 0,
  f.unmarkedRepeats,
]

t.test('a perfect history, with a redelivered duplicate the sink dropped, passes', async (t) => {
  const { state, receipts } = perfect(20)
  receipts.push({ ...receipts[4]!, r: true, dup: true })
  const f = verify(state, receipts)
  t.same(breaches(f), [0, 0, 0, 0, 0, 0, 0, 0, 0])
  t.equal(f.sinkDistinct, 20)
  t.equal(f.sinkRedelivered, 1)
})

t.test('a copy the sink had already recorded that comes without redelivered is an unmarked repeat', async (t) => {
  const { state, receipts } = perfect(20)
  receipts.push({ ...receipts[4]!, r: false, dup: true })
  const f = verify(state, receipts)
  t.equal(f.unmarkedRepeats, 1)
  t.equal(f.doubledAtSink, 0, 'deduped by id, it is not counted twice')
  t.match(f.examples.join('\n'), /id b\/5\.0 came again without redelivered/)
})

t.test('a number the source committed but A never counted is lost at A and at the sink', async (t) => {
  const { state, receipts } = perfect(20)
  state.a.seen[7 >> 3]! &= ~(1 << (7 & 7))
  const f = verify(
    state,
    receipts.filter((r) => r.p.v !== 7),
  )
  t.equal(f.lostAtA, 1)
  t.equal(f.lostAtSink, 1)
})

t.test('an output of an event that did not commit is seen uncommitted', async (t) => {
  const { state, receipts } = perfect(20)
  // B sent k=21 for v=21, crashed before committing; the source never committed 21 either.
  receipts.push({ id: 'b/21.0', r: false, dup: false, p: { v: 21, a: 21, k: 21, acc: 1 } })
  // And a k seen twice with different contents (the restarted B gave k=5 to another input).
  receipts.push({ id: 'b/5.0#2', r: false, dup: false, p: { v: 6, a: 6, k: 5, acc: 2 } })
  const f = verify(state, receipts)
  t.ok(f.uncommittedAtSink >= 2, `${f.uncommittedAtSink} uncommitted outputs found`)
})

t.test('one id carrying two contents is a collision; one number under two ids is doubled', async (t) => {
  const { state, receipts } = perfect(20)
  receipts.push({ id: 'b/3.0', r: false, dup: true, p: { v: 9, a: 9, k: 9, acc: receipts[8]!.p.acc } })
  receipts.push({ ...receipts[10]!, id: 'b/99.0' })
  const f = verify(state, receipts)
  t.equal(f.collisions, 1)
  t.equal(f.doubledAtSink, 1)
})

t.test("a sink history whose hash chain is not B's committed one is caught", async (t) => {
  const { state, receipts } = perfect(20)
  state.b.acc ^= 1
  t.equal(verify(state, receipts).chainMismatch, true)
})
