/**
 * Durations in the YAML: a number of seconds, or a string with a unit (`500ms`, `2s`, `1m`,
 * `1.5s`).
 *
 * @module
 */

/** Seconds per unit as [multiply, divide]: dividing keeps `100ns` exactly 1e-7. */
const UNIT_SECONDS: Record<string, readonly [number, number]> = {
  ns: [1, 1e9],
  us: [1, 1e6],
  µs: [1, 1e6],
  ms: [1, 1e3],
  s: [1, 1],
  m: [60, 1],
  h: [3600, 1],
}

/** Accepted string form; also used by the JSON Schema. */
export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ns|us|µs|ms|s|m|h)\\s*$'
const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)\s*$/

/**
 * Seconds for a YAML duration value, or undefined when it is not one. Negative numbers are
 * not durations.
 *
 * @example
 * parseDuration(0.5)     // 0.5
 * parseDuration('500ms') // 0.5
 * parseDuration('2')     // undefined (a string needs a unit)
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = DURATION_RE.exec(value)
  if (match === null) return undefined
  const unit = UNIT_SECONDS[match[2] ?? '']
  /* c8 ignore next -- the regex only matches known units */
  if (unit === undefined) return undefined
  return (Number(match[1]) * unit[0]) / unit[1]
}
