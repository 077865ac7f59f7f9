/**
 * Parsing of dora's timer sources: `dora/timer/{secs,millis,micros,nanos}/N` and
 * `dora/timer/hz/N`.
 *
 * @module
 */

/** Every source starting with this is a timer. */
export const TIMER_PREFIX = 'dora/timer/'

const UNIT_NS = {
  secs: 1_000_000_000n,
  millis: 1_000_000n,
  micros: 1_000n,
  nanos: 1n,
} as const satisfies Record<string, bigint>

/** Units accepted after `dora/timer/`. */
export const TIMER_UNITS = [...Object.keys(UNIT_NS), 'hz'] as const

export type TimerParseResult = { ok: true; intervalNs: bigint } | { ok: false; message: string; hint: string }

const HINT = 'write dora/timer/<unit>/<n> with unit secs, millis, micros or nanos and a positive integer n, or dora/timer/hz/<rate> with a positive rate'

/**
 * The interval of a timer source in nanoseconds. Integer units take a positive integer;
 * `hz` takes a positive (possibly fractional) rate, the interval being `1e9 / rate` rounded.
 *
 * @example
 * parseTimer('dora/timer/millis/100') // { ok: true, intervalNs: 100_000_000n }
 * parseTimer('dora/timer/hz/30')      // { ok: true, intervalNs: 33_333_333n }
 */
export function parseTimer(source: string): TimerParseResult {
  const rest = source.startsWith(TIMER_PREFIX) ? source.slice(TIMER_PREFIX.length) : ''
  const parts = rest.split('/')
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    return { ok: false, message: `timer "${source}" must have the form dora/timer/<unit>/<n>`, hint: HINT }
  }
  const [unit = '', amount = ''] = parts
  if (unit === 'hz') {
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(amount)) {
      return { ok: false, message: `timer "${source}": rate "${amount}" is not a positive number`, hint: HINT }
    }
    const rate = Number(amount)
    if (rate === 0) return { ok: false, message: `timer "${source}": the rate must be greater than zero`, hint: HINT }
    const interval = Math.round(1e9 / rate)
    if (interval < 1) {
      return { ok: false, message: `timer "${source}": rate "${amount}" gives no usable interval (must be > 0 and at most 1e9 Hz)`, hint: HINT }
    }
    return { ok: true, intervalNs: BigInt(interval) }
  }
  if (!Object.hasOwn(UNIT_NS, unit)) {
    return { ok: false, message: `timer "${source}": unknown unit "${unit}"`, hint: `use one of ${TIMER_UNITS.join(', ')}` }
  }
  if (!/^\d+$/.test(amount)) {
    return { ok: false, message: `timer "${source}": interval "${amount}" is not a positive integer`, hint: HINT }
  }
  const n = BigInt(amount)
  if (n === 0n) return { ok: false, message: `timer "${source}": the interval must be greater than zero`, hint: HINT }
  return { ok: true, intervalNs: n * UNIT_NS[unit as keyof typeof UNIT_NS] }
}
