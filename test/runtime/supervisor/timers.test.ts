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
  // tick is due on the first grid point after it and the one after that an interval later; a
  // timer never fires before it is due (1 ms of slack for the clock's rounding).
  t.ok(thirdAt - blockEnded >= 9, `the third tick came ${(thirdAt - blockEnded).toFixed(1)} ms after the block, not in a burst`)
})
