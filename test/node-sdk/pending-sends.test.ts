/** The node's unconfirmed sends: settled by cumulative confirmations, in order. */
import t from 'tap'
import { PendingSends } from '../../node-sdk/pending-sends.js'

t.test('a confirmation settles every send up to it, and only those', async (t) => {
  const p = new PendingSends()
  const done: bigint[] = []
  const waits = [1, 2, 3].map(() => {
    const seq = p.next()
    return p.wait(seq).then(() => done.push(seq))
  })
  p.taken(2n)
  await Promise.all(waits.slice(0, 2))
  t.strictSame(done, [1n, 2n])
  t.equal(p.size, 1)
  p.taken(3n)
  await Promise.all(waits)
  t.equal(p.size, 0)
})

t.test('fail() rejects one send; failAll() rejects the rest with their own errors', async (t) => {
  const p = new PendingSends()
  const [a, b, c] = [p.next(), p.next(), p.next()]
  const results = [a, b, c].map((seq) =>
    p.wait(seq).then(
      () => 'ok',
      (err: Error) => err.message,
    ),
  )
  p.fail(b, new Error('not written'))
  p.taken(1n)
  p.failAll((seq) => new Error(`closed before #${seq}`))
  t.strictSame(await Promise.all(results), ['ok', 'not written', 'closed before #3'])
  t.equal(p.size, 0)
})

t.test('many sends settle and the queue stays compact', async (t) => {
  const p = new PendingSends()
  const waits: Promise<void>[] = []
  for (let i = 0; i < 5000; i++) {
    waits.push(p.wait(p.next()))
    if (i % 100 === 99) p.taken(BigInt(i - 50))
  }
  p.taken(5000n)
  await Promise.all(waits)
  t.equal(p.size, 0)
})
