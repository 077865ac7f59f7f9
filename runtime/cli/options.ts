/** Parsing of CLI option values, with errors that name the option. */
import { DoraError, registerErrorClass } from '../../src/errors.js'
import { parseDuration } from '../../src/spec/duration.js'

export class CliUsageError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_CLI_USAGE', message, options)
  }
}
registerErrorClass(CliUsageError)

/** Seconds from a CLI duration such as `30s`, `500ms`, `2m` or a bare number of seconds. */
export function durationOption(option: string, value: string): number {
  const seconds = parseDuration(/^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value)
  if (seconds === undefined) {
    throw new CliUsageError(`${option} ${JSON.stringify(value)} is not a duration`, { hint: 'Use a number of seconds or a value such as 500ms, 30s, 2m.' })
  }
  return seconds
}
