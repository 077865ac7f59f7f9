import t from 'tap'
import { parseTimer } from '../../src/spec/timer.js'

t.test('integer units give the interval in nanoseconds as a bigint', async (t) => {
  t.same(parseTimer('dora/timer/secs/2'), { ok: true, intervalNs: 2_000_000_000n })
  t.same(parseTimer('dora/timer/millis/100'), { ok: true, intervalNs: 100_000_000n })
  t.same(parseTimer('dora/timer/micros/250'), { ok: true, intervalNs: 250_000n })
  t.same(parseTimer('dora/timer/nanos/1'), { ok: true, intervalNs: 1n })
  t.same(parseTimer('dora/timer/secs/99999999999999999999'), { ok: true, intervalNs: 99999999999999999999n * 1_000_000_000n }, 'no precision loss')
})

t.test('hz gives 1e9/rate rounded, fractional rates allowed', async (t) => {
  t.same(parseTimer('dora/timer/hz/10'), { ok: true, intervalNs: 100_000_000n })
  t.same(parseTimer('dora/timer/hz/30'), { ok: true, intervalNs: 33_333_333n })
  t.same(parseTimer('dora/timer/hz/0.5'), { ok: true, intervalNs: 2_000_000_000n })
  t.same(parseTimer('dora/timer/hz/.5'), { ok: true, intervalNs: 2_000_000_000n })
  t.same(parseTimer('dora/timer/hz/1000000000'), { ok: true, intervalNs: 1n })
})

t.test('zero, negative, non-numeric, unknown unit and bad shapes are rejected', async (t) => {
  const bad = {
    'dora/timer/millis/0': /greater than zero/,
    'dora/timer/hz/0': /greater than zero/,
    'dora/timer/hz/0.0': /greater than zero/,
    'dora/timer/millis/-5': /not a positive integer/,
    'dora/timer/millis/1.5': /not a positive integer/,
    'dora/timer/millis/abc': /not a positive integer/,
    'dora/timer/hz/-1': /not a positive number/,
    'dora/timer/hz/fast': /not a positive number/,
    'dora/timer/hz/1e12': /not a positive number/,
    'dora/timer/hz/10000000000': /no usable interval/,
    'dora/timer/minutes/1': /unknown unit "minutes"/,
    'dora/timer/millis': /must have the form/,
    'dora/timer/millis/': /must have the form/,
    'dora/timer/millis/1/2': /must have the form/,
    'dora/timer': /must have the form/,
  }
  for (const [source, message] of Object.entries(bad)) {
    const result = parseTimer(source)
    t.equal(result.ok, false, source)
    if (!result.ok) {
      t.match(result.message, message, source)
      t.ok(result.hint.length > 0, `${source} has a hint`)
    }
  }
  const unit = parseTimer('dora/timer/minutes/1')
  t.match(!unit.ok && unit.hint, /secs, millis, micros, nanos, hz/)
})
