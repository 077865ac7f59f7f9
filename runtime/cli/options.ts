/** Parsing of CLI option values, with errors that name the option. */
import { readFileSync } from 'node:fs'
import { DoraError, errorMessage, registerErrorClass } from '../../src/errors.js'
import { parseDuration } from '../../src/spec/duration.js'
import { BYTE_SIZE_EXAMPLE, parseByteSize } from '../../src/spec/byte-size.js'

export class CliUsageError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_CLI_USAGE', message, options)
  }
}
registerErrorClass(CliUsageError)

/** Bytes from a CLI size such as `2GiB` or a bare number of bytes (src/spec/byte-size.ts). */
export function byteSizeOption(option: string, value: string): number {
  const bytes = parseByteSize(/^\s*\d+\s*$/.test(value) ? Number(value) : value)
  if (bytes === undefined) throw new CliUsageError(`${option} ${JSON.stringify(value)} is not a size`, { hint: `Use ${BYTE_SIZE_EXAMPLE}.` })
  return bytes
}

/** `value` if it is a whole number from `min`; else a usage error saying it is not `what`, with `hint`. */
export function wholeNumberOption(option: string, value: number, min: number, what: string, hint: string): number {
  if (!Number.isInteger(value) || value < min) throw new CliUsageError(`${option} ${value} is not ${what}`, { hint })
  return value
}

/** Seconds from a CLI duration such as `30s`, `500ms`, `2m` or a bare number of seconds. */
export function durationOption(option: string, value: string): number {
  const seconds = parseDuration(/^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value)
  if (seconds === undefined) {
    throw new CliUsageError(`${option} ${JSON.stringify(value)} is not a duration`, { hint: 'Use a number of seconds or a value such as 500ms, 30s, 2m.' })
  }
  return seconds
}

/**
 * The bytes of a command's value argument (as UTF-8) or of its `--file` (`-` reads stdin):
 * exactly one of them, else a usage error with `usage`'s words (`kvs put`, `topic pub`).
 */
export function valueOrFileBytes(value: string | undefined, file: string | undefined, usage: { message: string; hint: string }): Uint8Array {
  if ((value === undefined) === (file === undefined)) throw new CliUsageError(usage.message, { hint: usage.hint })
  if (file === undefined) return Buffer.from(value!, 'utf8')
  try {
    return readFileSync(file === '-' ? 0 : file)
  } catch (err) {
    throw new CliUsageError(`cannot read --file ${file}: ${errorMessage(err)}`, { hint: 'Pass a readable file, or - for stdin.' })
  }
}
