/**
 * src/long-handler-watch.ts on real timers: a stall is said once, its end as soon as the event is
 * through (not at the next check, when the next event may have run as long), and a thread held
 * past the warning time is said once it runs again. Events are waited on, never timed.
 */
import t from 'tap'
import { LongHandlerWatch } from '../src/long-handler-watch.js'

function watchWith(warnAfterMs: number) {
  const said: string[] = []
  let busy = false
  let wake: (() => void) | undefined
  const say = (line: string): void => {
    said.push(line)
    wake?.()
  }
  // The watch's timer does not keep a process alive (a node's must not): this does, for the test.
  const alive = setInterval(() => {}, 1000)
  const watch = new LongHandlerWatch({
    warnAfterMs,
    busy: () => busy,
    stalled: (ms) => say(`stalled ${ms}`),
    resumed: (ms) => say(`resumed ${ms}`),
    blocked: (ms) => say(`blocked ${ms}`),
  })
  /** Resolves once a line starting with `prefix` is said after the `seen` lines said so far. */
  const next = (prefix: string): Promise<void> => {
    const seen = said.length
    return new Promise((resolve) => {
      wake = () => {
        if (said.slice(seen).some((line) => line.startsWith(prefix))) resolve()
      }
    })
  }
  /** What was said but `blocked` lines (a loaded machine's late timer may add some). */
  const handled = (): string[] => said.filter((line) => !line.startsWith('blocked'))
  const close = (): void => {
    watch.close()
    clearInterval(alive)
  }
  return { said, handled, close, watch, next, setBusy: (b: boolean) => (busy = b) }
}

t.test('a stall is said once, and its end the moment the event is through', async (t) => {
  const w = watchWith(300)
  t.teardown(() => w.close())
  w.setBusy(true)
  await w.next('stalled')
  t.match(w.handled(), [/^stalled \d/])
  // Through, and at once on the next event: the end is said now, with the first one's time.
  w.watch.through()
  t.equal(w.handled().length, 2)
  const resumed = Number(/^resumed ([\d.]+)$/.exec(w.handled()[1] ?? '')?.[1])
  t.ok(resumed >= 300, `resumed after ${resumed} ms`)
  // The next event stalls too: said again, once.
  await w.next('stalled')
  t.match(w.handled()[2], /^stalled \d/)
  w.setBusy(false)
  w.watch.through()
  t.equal(w.handled().length, 4)
})

t.test('nothing is said while the handler keeps up, nor while idle', async (t) => {
  const w = watchWith(300)
  t.teardown(() => w.close())
  w.setBusy(true)
  // Events go through faster than the checks: three checks' worth.
  const end = Date.now() + 1000
  while (Date.now() < end) {
    w.watch.through()
    await new Promise((resolve) => setImmediate(resolve))
  }
  w.setBusy(false)
  t.same(w.handled(), [])
})

t.test('a thread held past the warning time is said once it runs again', async (t) => {
  const w = watchWith(200)
  t.teardown(() => w.close())
  const until = performance.now() + 600
  while (performance.now() < until) {
    // held: no timer can run
  }
  await w.next('blocked')
  const blocked = Number(/^blocked ([\d.]+)$/.exec(w.said.find((s) => s.startsWith('blocked')) ?? '')?.[1])
  t.ok(blocked >= 200, `blocked for ${blocked} ms`)
})
