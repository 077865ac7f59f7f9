import t from 'tap'
import { parseDuration } from '../../src/spec/duration.js'

t.test('numbers are seconds', async (t) => {
  t.equal(parseDuration(0), 0)
  t.equal(parseDuration(0.5), 0.5)
  t.equal(parseDuration(10), 10)
})

t.test('strings need a unit', async (t) => {
  t.equal(parseDuration('500ms'), 0.5)
  t.equal(parseDuration('2s'), 2)
  t.equal(parseDuration('1.5s'), 1.5)
  t.equal(parseDuration('1m'), 60)
  t.equal(parseDuration('1h'), 3600)
  t.equal(parseDuration('250us'), 0.00025)
  t.equal(parseDuration('250µs'), 0.00025)
  t.equal(parseDuration('100ns'), 1e-7)
  t.equal(parseDuration(' 3 s '), 3)
})

t.test('anything else is not a duration', async (t) => {
  for (const v of [-1, Number.NaN, Infinity, '2', '', 'fast', '-1s', '1d', '1.s', true, null, undefined, {}]) {
    t.equal(parseDuration(v), undefined, JSON.stringify(v) ?? String(v))
  }
})
