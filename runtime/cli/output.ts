/**
 * Terminal output for the CLI: node lines prefixed with their source, colour only on a TTY,
 * and errors as one clear paragraph (a stack trace only for bugs, with a please-report line).
 */
import { escapeForTerminal } from '../../src/security/escape.js'
import { DoraError, errorStack } from '../../src/errors.js'
// Loaded up front: under a low `ulimit -n` the commands' own modules are what fails to load.
import { asFdLimitError } from '../../src/fd-limit.js'
import type { LogEntry } from '../supervisor/unit.js'

const COLORS = [36, 32, 35, 33, 34, 96, 92, 95, 93, 94]

export interface Printer {
  log(entry: LogEntry): void
  info(text: string): void
  error(text: string): void
}

export function createPrinter(stream: NodeJS.WriteStream = process.stdout, errStream: NodeJS.WriteStream = process.stderr): Printer {
  const color = stream.isTTY === true && process.env['NO_COLOR'] === undefined
  const assigned = new Map<string, number>()
  const paint = (code: number, text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
  const colorOf = (source: string): number => {
    let code = assigned.get(source)
    if (code === undefined) {
      code = COLORS[assigned.size % COLORS.length]!
      assigned.set(source, code)
    }
    return code
  }
  return {
    log(entry) {
      // Everything that reaches the terminal is escaped (issue 13: a node id could set the
      // window title or clear the screen); a node's own colours (SGR) pass.
      if (entry.stream === 'supervisor') {
        const code = entry.level === 'error' ? 31 : entry.level === 'warn' ? 33 : 90
        errStream.write(`${paint(code, 'dora-ts:')} ${escapeForTerminal(entry.text)}\n`)
        return
      }
      const level = entry.stream === 'log' && entry.level !== 'info' ? `${entry.level.toUpperCase()} ` : ''
      const source = escapeForTerminal(entry.source, { keepNewlines: false })
      stream.write(`${paint(colorOf(entry.source), `[${source}]`)} ${level}${escapeForTerminal(entry.text, { keepColors: true })}\n`)
    },
    info(text) {
      errStream.write(`${paint(90, 'dora-ts:')} ${escapeForTerminal(text)}\n`)
    },
    error(text) {
      errStream.write(`${paint(31, 'error:')} ${escapeForTerminal(text)}\n`)
    },
  }
}

/** Print an error the way users should see it; returns the exit code to use. */
export function reportError(thrown: unknown, printer: Printer = createPrinter()): number {
  // Out of file descriptors is the machine's limit, not a bug: say which and how to raise it.
  const err = asFdLimitError(thrown)
  if (err instanceof DoraError) {
    printer.error(err.describe())
    return 1
  }
  const text = errorStack(err)
  printer.error(`${text}\nThis is a bug in dora-ts; please report it with the command you ran.`)
  return 70
}
