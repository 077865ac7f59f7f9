import t from 'tap'
import { StopLadder, stopStep } from '../../../runtime/supervisor/stop-ladder.js'

// The clocks under test are unref()'d (a run's units keep the process alive, not their timers):
// hold the event loop open while the tests wait on them.
const keepAlive = setInterval(() => {}, 60_000)
t.teardown(() => clearInterval(keepAlive))

t.test('the first stop request sends Stop; every later one escalates at once', async (t) => {
  t.equal(stopStep(1), 'send-stop')
  t.equal(stopStep(2), 'escalate')
  t.equal(stopStep(5), 'escalate')
})

function ladder(graceMs: number, killAfterMs: number): { ladder: StopLadder; steps: string[]; next(): Promise<string> } {
  const steps: string[] = []
  const waiters: Array<(s: string) => void> = []
  const push = (s: string): void => {
    steps.push(s)
    waiters.shift()?.(s)
  }
  const l = new StopLadder({
    graceMs,
    killAfterMs,
    sendStop: () => push('stop'),
    terminate: (reason) => push(`terminate: ${reason}`),
    kill: (reason) => push(`kill: ${reason}`),
  })
  return { ladder: l, steps, next: () => new Promise((resolve) => waiters.push(resolve)) }
}

t.test('Stop, then after the grace period terminate, then kill', async (t) => {
  const { ladder: l, steps, next } = ladder(10, 10)
  t.teardown(() => l.clear())
  l.request()
  t.same(steps, ['stop'])
  t.equal(l.requests, 1)
  t.equal(await next(), 'terminate: did not stop within the 0.01 s grace period and was terminated')
  t.equal(await next(), 'kill: did not exit after SIGTERM and was killed')
})

t.test('a second request skips the grace period', async (t) => {
  const { ladder: l, steps, next } = ladder(60_000, 10)
  t.teardown(() => l.clear())
  l.request()
  l.request()
  t.same(steps, ['stop', 'terminate: did not stop within the 60 s grace period and was terminated'])
  t.equal(await next(), 'kill: did not exit after SIGTERM and was killed')
})

t.test('clear() drops the pending steps and deadlines', async (t) => {
  const { ladder: l, steps } = ladder(0, 0)
  let fired = false
  l.deadline(0, () => (fired = true))
  l.request()
  l.clear()
  // A timer set after clear() fires after any the ladder had set for the same moment.
  await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(steps, ['stop'])
  t.equal(fired, false)
})

t.test('a deadline runs its function unless cleared', async (t) => {
  const { ladder: l } = ladder(60_000, 0)
  await new Promise<void>((resolve) => l.deadline(1, resolve))
  t.pass('the deadline fired')
})

t.test("a first request's own grace period replaces the run's (dora-ts stop --grace)", async (t) => {
  // The run's is an hour: only the request's 10 ms can end this test.
  const { ladder: l, steps, next } = ladder(3_600_000, 10)
  t.teardown(() => l.clear())
  l.request(10)
  t.same(steps, ['stop'])
  t.equal(await next(), 'terminate: did not stop within the 0.01 s grace period and was terminated')
  t.equal(await next(), 'kill: did not exit after SIGTERM and was killed')
})
