/**
 * A positive number from an environment variable (a time or size a test or an operator may set,
 * e.g. `DORA_TS_TAP_IDLE_MS`), else `fallback`: unset, empty, zero, negative or not a number all
 * mean "the default".
 */
export function positiveEnvNumber(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}
