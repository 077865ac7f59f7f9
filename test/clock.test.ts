/** nowNs: the timestamp on every message header. */
import { execFileSync } from 'node:child_process'
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

/**
 * A wall clock that is set while a process runs (an NTP step after boot) is followed. The
 * step is made by replacing Date.now in a fresh process: the system clock is not the test's
 * to set. Each case prints the stamps (ms) before and after the step.
 */
function stampsAcrossStep(stepMs: number): { before: number; after: number; later: number; wall: number } {
  const clock = new URL('../src/clock.js', import.meta.url).href
  const script = `
    const { nowNs } = await import(${JSON.stringify(clock)})
    const ms = () => Number(nowNs() / 1000n) / 1000
    const before = ms()
    const real = Date.now
    Date.now = () => real() + ${stepMs}
    const after = ms()
    const later = ms()
    console.log(JSON.stringify({ before, after, later, wall: Date.now()}))`
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as ReturnType<typeof stampsAcrossStep>
}

t.test('a wall clock set forward (an hour) is followed at the next stamp', async (t) => {
  const { before, after, later, wall } = stampsAcrossStep(3_600_000)
  // Within a second of the clock as set (a loaded machine may hold the process up between reads).
  t.ok(after <= wall + 1 && wall - after < 1000, `stamped ${after - before} ms after the first, ${wall - after} ms before the clock as set`)
  t.ok(later >= after, 'and monotonic from there')
})

t.test('a wall clock set back (an hour) is followed at the next stamp', async (t) => {
  const { before, after, later, wall } = stampsAcrossStep(-3_600_000)
  t.ok(after <= wall + 1 && wall - after < 1000, `stamped ${before - after} ms before the first, ${wall - after} ms before the clock as set`)
  t.ok(later >= after, 'and monotonic from there')
})
