/**
 * The stall watch: a loop held up (here by a busy wait on this thread) is reported with how long
 * it was held up, and nothing is reported once the watch is closed.
 */
import t from 'tap'
import { StallWatch } from '../../../runtime/daemon/stall-watch.js'

/** Keep this thread busy for `ms`: no timer can fire meanwhile. */
function busy(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    /* held up on purpose */
  }
}

t.test('a loop held up is reported with how long, from the next check', async (t) => {
  const reports: number[] = []
  let reported!: () => void
  const first = new Promise<void>((resolve) => (reported = resolve))
  const watch = new StallWatch(
    (ms) => {
      reports.push(ms)
      reported()
    },
    { checkMs: 20, reportMs: 300 },
  )
  // The watch's timer never keeps a process alive (unref): this one does, while the test waits.
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => {
    watch.close()
    clearInterval(alive)
  })
  // Let the interval start, then hold the loop for twice the report threshold.
  await new Promise((resolve) => setTimeout(resolve, 30))
  busy(600)
  await first
  t.ok(reports[0]! >= 300, `reported ${reports[0]} ms, at least the threshold`)
  t.ok(reports[0]! >= 600 - 20 - 5, `about the 600 ms held up (${reports[0]} ms)`)
})

t.test('a closed watch reports nothing', async (t) => {
  const reports: number[] = []
  const watch = new StallWatch((ms) => reports.push(ms), { checkMs: 20, reportMs: 100 })
  watch.close()
  busy(300)
  // Timers due now have run once this one fires.
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.same(reports, [])
})
