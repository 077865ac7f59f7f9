/**
 * Sizes as the YAML (`kvs_map_size:`, `state_map_size:`) and the CLI (`--kvs-map-size`,
 * `--state-map-size`) write them: a whole number of bytes, or a number with a unit, binary
 * (KiB, MiB, GiB, TiB) or decimal (kB, MB, GB, TB), e.g. `2GiB` or `512 MiB`.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
}

/** What to write instead, for error hints. */
export const BYTE_SIZE_EXAMPLE = 'a number of bytes or a size with a unit, e.g. 2GiB, 512MiB or 1GB'

/**
 * Bytes from a number (a safe integer > 0) or a string such as `2GiB`; undefined when it is
 * neither.
 *
 * @example parseByteSize('1.5 GiB') // 1610612736
 */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)
  if (match === null) return undefined
  const unit = UNITS[(match[2] ?? '').toLowerCase() || 'b']
  if (unit === undefined) return undefined
  const bytes = Math.round(Number(match[1]) * unit)
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined
}
