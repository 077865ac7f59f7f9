/** nowNs: the timestamp on every message header. */
import t from 'tap'
import { nowNs } from '../src/clock.js'

t.test('nanoseconds since the epoch, agreeing with the wall clock', async (t) => {
  const before = BigInt(Date.now()) * 1_000_000n
  const now = nowNs()
  const after = BigInt(Date.now()) * 1_000_000n
  t.equal(typeof now, 'bigint')
  // Date.now() truncates to the millisecond; allow that much on each side.
  t.ok(now >= before - 1_000_000n && now <= after + 1_000_000n, `${before} <= ${now} <= ${after}`)
})

t.test('never goes backwards, and resolves below a millisecond', async (t) => {
  const samples = Array.from({ length: 10_000 }, () => nowNs())
  t.ok(
    samples.every((s, i) => i === 0 || s >= samples[i - 1]!),
    'monotonic',
  )
  t.ok(
    samples.some((s) => s % 1_000_000n !== 0n),
    'sub-millisecond digits are real',
  )
  t.ok(
    samples.every((s) => s % 1000n === 0n),
    'microsecond resolution, in nanoseconds',
  )
})
