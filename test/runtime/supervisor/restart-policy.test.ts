/** dora's restart policy: which exits restart, how many times, and after how long. */
import t from 'tap'
import { RestartBudget, STOPPING_REASON } from '../../../runtime/supervisor/restart-policy.js'
import type { RestartSpec } from '../../../src/spec/types.js'

const spec = (overrides: Partial<RestartSpec>): RestartSpec => ({ policy: 'on-failure', maxRestarts: 0, restartDelay: 0.1, maxRestartDelay: 10, ...overrides })

/** A budget on a clock the test moves by hand (seconds). */
function budget(overrides: Partial<RestartSpec>): { budget: RestartBudget; advance(seconds: number): void } {
  let nowMs = 1_000
  return { budget: new RestartBudget(spec(overrides), () => nowMs), advance: (seconds) => (nowMs += seconds * 1000) }
}

t.test('never restarts nothing, failed or not, and says why', async (t) => {
  const { budget: b } = budget({ policy: 'never' })
  t.same(b.next(true), { restart: false, reason: 'restart_policy is never' })
  t.same(b.next(false), { restart: false, reason: 'restart_policy is never' })
})

t.test('on-failure restarts a crash but not a clean exit; always restarts both', async (t) => {
  t.match(budget({ policy: 'on-failure' }).budget.next(true), { restart: true })
  t.same(budget({ policy: 'on-failure' }).budget.next(false), { restart: false, reason: 'it ended cleanly' })
  t.match(budget({ policy: 'always' }).budget.next(true), { restart: true })
  t.match(budget({ policy: 'always' }).budget.next(false), { restart: true })
})

t.test('once the Stop is queued nothing restarts, whatever the policy, and no restart is counted', async (t) => {
  const { budget: b } = budget({ policy: 'always', maxRestarts: 1 })
  t.same(b.next(true, true), { restart: false, reason: STOPPING_REASON })
  t.same(b.next(false, true), { restart: false, reason: 'the dataflow is stopping' })
  t.match(b.next(true), { restart: true, attempt: 1 }, 'the one restart allowed is still there')
})

t.test('the delay doubles with each restart up to max_restart_delay; attempts count from 1', async (t) => {
  const { budget: b } = budget({ restartDelay: 0.1, maxRestartDelay: 0.5 })
  const decisions = Array.from({ length: 5 }, () => b.next(true))
  t.same(decisions, [
    { restart: true, delayMs: 100, attempt: 1 },
    { restart: true, delayMs: 200, attempt: 2 },
    { restart: true, delayMs: 400, attempt: 3 },
    { restart: true, delayMs: 500, attempt: 4 },
    { restart: true, delayMs: 500, attempt: 5 },
  ])
})

t.test('max_restarts 0 is unlimited', async (t) => {
  const { budget: b } = budget({ maxRestarts: 0, restartDelay: 0, maxRestartDelay: 0 })
  for (let i = 0; i < 100; i++) b.next(true)
  t.match(b.next(true), { restart: true, attempt: 101 })
})

t.test('without a window, max_restarts bounds the whole run', async (t) => {
  const { budget: b, advance } = budget({ maxRestarts: 2 })
  t.match(b.next(true), { restart: true })
  advance(3600)
  t.match(b.next(true), { restart: true })
  advance(3600)
  t.same(b.next(true), { restart: false, reason: 'it was restarted 2 times (max_restarts 2)' })
  t.same(b.next(true), { restart: false, reason: 'it was restarted 2 times (max_restarts 2)' }, 'a refusal is not a restart')
  // A clean exit under on-failure is no restart, whatever the budget says.
  t.same(b.next(false), { restart: false, reason: 'it ended cleanly' })
})

t.test('with restart_window, only restarts inside the window count, for the limit and the delay', async (t) => {
  const { budget: b, advance } = budget({ maxRestarts: 2, restartWindow: 10, restartDelay: 1, maxRestartDelay: 60 })
  t.same(b.next(true), { restart: true, delayMs: 1000, attempt: 1 })
  advance(4)
  t.same(b.next(true), { restart: true, delayMs: 2000, attempt: 2 })
  advance(4)
  t.same(b.next(true), { restart: false, reason: 'it was restarted 2 times within 10 s (max_restarts 2)' })
  // 11 s after the first restart it has left the window: one restart in it, so one more is allowed,
  // with the delay of a second restart in the window.
  advance(3)
  t.same(b.next(true), { restart: true, delayMs: 2000, attempt: 3 })
  advance(20)
  t.same(b.next(true), { restart: true, delayMs: 1000, attempt: 4 }, 'a quiet spell resets the back-off')
})

t.test('max_restarts 1 says "restarted once", not "1 times" (issue 14)', async (t) => {
  const { budget: b } = budget({ maxRestarts: 1 })
  t.match(b.next(true), { restart: true })
  t.same(b.next(true), { restart: false, reason: 'it was restarted once (max_restarts 1)' })
})

t.test('whether a clean end may be restarted, asked before it ends: always with restarts left; with a window, always yes', async (t) => {
  t.notOk(budget({ policy: 'on-failure' }).budget.mayRestartCleanEnd(), 'on-failure: a clean end is final')
  t.notOk(budget({ policy: 'never' }).budget.mayRestartCleanEnd())
  const { budget: b } = budget({ policy: 'always', maxRestarts: 2 })
  t.ok(b.mayRestartCleanEnd(), 'two restarts left')
  b.next(false)
  t.ok(b.mayRestartCleanEnd(), 'one left')
  b.next(false)
  t.notOk(b.mayRestartCleanEnd(), 'none left: its end is for good, as next() then says')
  t.match(b.next(false), { restart: false })
  const windowed = budget({ policy: 'always', maxRestarts: 1, restartWindow: 10 })
  windowed.budget.next(false)
  // The restart may have left the window by the time the unit ends: its outputs must stay open.
  t.ok(windowed.budget.mayRestartCleanEnd(), 'a window: yes, whatever the count now')
  t.ok(budget({ policy: 'always' }).budget.mayRestartCleanEnd(), 'unlimited')
})

t.test('a unit that ran for 10 s or longer starts a new loop: its restart waits restart_delay again', async (t) => {
  // Before, without a window the delay doubled with every restart of the run: a driver that
  // crashed once an hour waited the full max_restart_delay from its eighth crash on.
  const { budget: b, advance } = budget({ restartDelay: 0.1, maxRestartDelay: 10 })
  const loop = Array.from({ length: 9 }, () => b.next(true)) // back to back: a crash loop
  t.same(
    loop.map((d) => (d.restart ? d.delayMs : -1)),
    [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000],
  )
  advance(10) // the last restart's 10 s delay: the unit has only just started
  advance(9.9)
  t.match(b.next(true), { restart: true, delayMs: 10_000 }, 'ran 9.9 s: still the loop')
  advance(10 + 10) // waited 10 s, then ran 10 s
  t.match(b.next(true), { restart: true, delayMs: 100 }, 'ran 10 s: a new loop')
  t.match(b.next(true), { restart: true, delayMs: 200 }, 'and it doubles again from there')
  for (let hour = 0; hour < 24; hour++) {
    advance(3600)
    t.match(b.next(true), { restart: true, delayMs: 100 }, `an hourly crash (${hour + 1}) waits restart_delay`)
  }
})

t.test('a max_restart_delay longer than 10 s is the bound of a loop; a short one is not', async (t) => {
  const long = budget({ restartDelay: 1, maxRestartDelay: 60 })
  t.match(long.budget.next(true), { delayMs: 1000 })
  long.advance(1 + 30) // its delay, then 30 s of running: still within max_restart_delay
  t.match(long.budget.next(true), { delayMs: 2000 }, 'ran 30 s under a 60 s max_restart_delay: the loop goes on')
  long.advance(2 + 60)
  t.match(long.budget.next(true), { delayMs: 1000 }, 'ran 60 s: a new loop')
  const short = budget({ restartDelay: 0.02, maxRestartDelay: 0.08 })
  short.budget.next(true)
  short.advance(0.02 + 0.5) // crashes every half second: a loop, whatever max_restart_delay says
  t.match(short.budget.next(true), { delayMs: 40 })
})
