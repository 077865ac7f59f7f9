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
  await new Promise<void>((resolve) => {
    timer = new Timer('dora/timer/millis/10', 10_000_000n, 'df', () => {
      count++
      if (count === 1) {
        // Block the event loop for over five intervals: the scenario itself (a handler hogging
        // the supervisor's thread), not a wait, so a busy loop and not a timer.
        const until = performance.now() + 55
        while (performance.now() < until) {}
      }
      if (count === 3) {
        timer.stop()
        resolve()
      }
    })
    timer.start()
  })
  t.ok(timer.skipped >= 4, `skipped ${timer.skipped} ticks`)
})
