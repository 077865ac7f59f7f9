/**
 * Terminal output for the CLI: node lines prefixed with their source, colour only on a TTY,
 * and errors as one clear paragraph (a stack trace only for bugs, with a please-report line).
 */
import { fstatSync } from 'node:fs'
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

/** How much a terminal or pipe may have queued before a live run's lines are left off it. */
export const OUTPUT_QUEUE_LIMIT = 4 * 1024 * 1024

export interface PrinterOptions {
  /**
   * The output of a dataflow running in this process (`dora-ts run`): printing must never hold
   * up the supervisor, whose thread routes every message. Node writes to a terminal
   * synchronously: one that stops reading (an SSH session stalled on a robot's Wi-Fi, Ctrl-S,
   * a paused pager) stopped the whole dataflow (10.7 s in a test, by hand), and queues without
   * bound on a pipe. So the terminal is written without blocking, and while more than
   * {@link OUTPUT_QUEUE_LIMIT} waits for it, nodes' lines are left off it (the run's log files
   * have every one), then counted in one line once it reads again. `info` and `error` (the
   * CLI's own messages and the run's summary) are always written.
   */
  live?: boolean
}

export function createPrinter(
  stream: NodeJS.WriteStream = process.stdout,
  errStream: NodeJS.WriteStream = process.stderr,
  options: PrinterOptions = {},
): Printer {
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
  const notice = (count: number): string =>
    `${paint(33, 'dora-ts:')} ${count} line(s) were not shown here while this output was not read; the run's log files have them\n`
  const out: Output = options.live === true ? new LiveLines(stream, notice) : plainOutput(stream)
  // One writer where stdout and stderr are the same terminal (or pipe): written without
  // blocking, two handles would cut each other's half-written lines, and the run's summary
  // would come before the lines still queued for the terminal.
  const err: Output = options.live === true ? (sameFile(stream, errStream) ? out : new LiveLines(errStream, notice)) : plainOutput(errStream)
  return {
    log(entry) {
      // Everything that reaches the terminal is escaped (issue 13: a node id could set the
      // window title or clear the screen); a node's own colours (SGR) pass.
      if (entry.stream === 'supervisor') {
        const code = entry.level === 'error' ? 31 : entry.level === 'warn' ? 33 : 90
        err.write(`${paint(code, 'dora-ts:')} ${escapeForTerminal(entry.text)}\n`)
        return
      }
      const level = entry.stream === 'log' && entry.level !== 'info' ? `${entry.level.toUpperCase()} ` : ''
      const source = escapeForTerminal(entry.source, { keepNewlines: false })
      out.write(`${paint(colorOf(entry.source), `[${source}]`)} ${level}${escapeForTerminal(entry.text, { keepColors: true })}\n`)
    },
    info(text) {
      err.writeAlways(`${paint(90, 'dora-ts:')} ${escapeForTerminal(text)}\n`)
    },
    error(text) {
      err.writeAlways(`${paint(31, 'error:')} ${escapeForTerminal(text)}\n`)
    },
  }
}

/** Where a printer's lines go: `write` may leave a line off (a live run's), `writeAlways` never does. */
interface Output {
  write(text: string): void
  writeAlways(text: string): void
}

function plainOutput(stream: NodeJS.WriteStream): Output {
  const write = (text: string): void => void stream.write(text)
  return { write, writeAlways: write }
}

/** Whether two streams write to the same file (terminal, pipe), by their descriptors. */
function sameFile(a: NodeJS.WriteStream, b: NodeJS.WriteStream): boolean {
  const [fdA, fdB] = [(a as { fd?: number }).fd, (b as { fd?: number }).fd]
  if (fdA === undefined || fdB === undefined) return false
  try {
    const [x, y] = [fstatSync(fdA), fstatSync(fdB)]
    return x.dev === y.dev && x.ino === y.ino && x.rdev === y.rdev
  } catch {
    return false
  }
}

/**
 * Lines to an output that must never hold up this process (see {@link PrinterOptions.live}):
 * written without blocking, left off while more than {@link OUTPUT_QUEUE_LIMIT} waits, and
 * counted in one notice when the output has drained.
 */
class LiveLines implements Output {
  readonly #stream: NodeJS.WriteStream
  readonly #notice: (count: number) => string
  #dropped = 0
  #awaitingDrain = false

  constructor(stream: NodeJS.WriteStream, notice: (count: number) => string) {
    this.#stream = stream
    this.#notice = notice
    // Node makes a terminal's writes blocking (lib/tty.js, so that output is not lost at
    // process.exit()); libuv opened the terminal anew for this process, so this changes no
    // other process's writes. The CLI ends by its exit code, never process.exit(), so what is
    // queued is written before it exits. Pipes are written without blocking already.
    if (stream.isTTY === true) (stream as { _handle?: { setBlocking?: (blocking: boolean) => unknown } })._handle?.setBlocking?.(false)
  }

  writeAlways(text: string): void {
    this.#flushNotice()
    this.#stream.write(text)
  }

  write(text: string): void {
    if (this.#stream.writableLength > OUTPUT_QUEUE_LIMIT) {
      // 'drain' comes once the queue is empty: write() has returned false since it passed its
      // high-water mark.
      this.#dropped++
      if (!this.#awaitingDrain) {
        this.#awaitingDrain = true
        this.#stream.once('drain', () => {
          this.#awaitingDrain = false
          this.#flushNotice()
        })
      }
      return
    }
    this.writeAlways(text)
  }

  #flushNotice(): void {
    if (this.#dropped === 0) return
    const count = this.#dropped
    this.#dropped = 0
    this.#stream.write(this.#notice(count))
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
