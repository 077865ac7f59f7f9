import t from 'tap'
import { Timer, type TimerTick } from '../../../runtime/supervisor/timers.js'

t.test('a timer ticks with increasing sequence numbers and stops when told', async (t) => {
  const ticks: TimerTick[] = []
  const done = new Promise<void>((resolve) => {
    const timer = new Timer('dora/timer/millis/5', 5_000_000n, 'df', (tick) => {
      ticks.push(tick)
      if (ticks.length === 5) {
        timer.stop()
        resolve()
      }
    })
    timer.start()
  })
  await done
  // A stopped timer must not tick again: let a second timer of the same interval tick three
  // times (progress of the same clock, however loaded the machine) and look again.
  await new Promise<void>((resolve) => {
    let witnessed = 0
    const witness = new Timer('dora/timer/millis/5', 5_000_000n, 'df', () => {
      if (++witnessed < 3) return
      witness.stop()
      resolve()
    })
    witness.start()
  })
  t.equal(ticks.length, 5)
  t.same(
    ticks.map((tick) => tick.header.sequence),
    [1n, 2n, 3n, 4n, 5n],
  )
  t.ok(ticks.every((tick) => tick.header.senderNode === 'dora' && tick.header.outputId === 'dora/timer/millis/5'))
  t.ok(ticks[4]!.header.timestampNs >= ticks[0]!.header.timestampNs)
})

t.test('a timer that falls behind skips the ticks it missed instead of bursting', async (t) => {
  let timer!: Timer
  let count = 0
  let blockEnded = 0
  let thirdAt = 0
  await new Promise<void>((resolve) => {
    timer = new Timer('dora/timer/millis/10', 10_000_000n, 'df', () => {
      count++
      if (count === 1) {
        // Block the event loop for ten intervals: ticks 2 to 10 are all overdue when it ends.
        const until = performance.now() + 100
        while (performance.now() < until) {
          // busy: hogging the thread is the scenario
        }
        blockEnded = performance.now()
      }
      if (count === 3) {
        thirdAt = performance.now()
        timer.stop()
        resolve()
      }
    })
    timer.start()
  })
  // Bursting, ticks 2 and 3 would both fire at once when the block ends. Skipping, the next
  // tick is due on the first grid point after it and the one after that an interval later: more
  // than 10 ms after the block, since a timer never fires before it is due (the next test).
  t.ok(thirdAt - blockEnded >= 10, `the third tick came ${(thirdAt - blockEnded).toFixed(1)} ms after the block, not in a burst`)
})

t.test('no tick fires before it is due, though Node may wake a timer early', async (t) => {
  // Node runs timers against the event loop's clock in whole milliseconds: a setTimeout may
  // fire up to ~2 ms before its delay has passed. Tick k is due k intervals after start(), and
  // each tick is for a later grid point than the one before (a late timer skips some): so the
  // n-th tick can come late, never before n intervals have passed.
  const intervalMs = 3
  const early: string[] = []
  let startedAt = 0
  await new Promise<void>((resolve) => {
    let n = 0
    const timer = new Timer('dora/timer/millis/3', 3_000_000n, 'df', () => {
      const since = performance.now() - startedAt
      if (++n * intervalMs > since) early.push(`tick ${n} at ${since.toFixed(2)} ms`)
      if (n === 100) {
        timer.stop()
        resolve()
      }
    })
    startedAt = performance.now()
    timer.start()
  })
  t.same(early, [], 'no tick before its time')
})
