/**
 * One node's log file, bounded in size, and reading what was added to it since the last look.
 *
 * A robot's dataflow runs for weeks, and one chatty node (a line per 30 Hz frame: ~260 MB a
 * day) filled the disk that also holds the state store, whose commits then fail. So past
 * {@link logMaxBytes} a log file is renamed to `<file>.1` (replacing the one before) and a new
 * one is started: a node's log holds its latest lines, at most twice the limit.
 *
 * A reader follows a file across a rotation by its identity (inode and birth time), not its
 * name: the lines written to `x.log` just before it became `x.log.1` are still read once, from
 * where the reader was, and the new `x.log` from its start.
 *
 * @module
 */
import { closeSync, createWriteStream, fstatSync, openSync, readSync, renameSync, statSync } from 'node:fs'
import { Writable } from 'node:stream'
import { errorMessage } from '../../src/errors.js'
import { parseByteSize } from '../../src/spec/byte-size.js'

/** The suffix of a log file's previous part. */
export const ROTATED_SUFFIX = '.1'

/** Size past which a log file rotates, unless `DORA_TS_LOG_MAX_SIZE` says otherwise. */
export const DEFAULT_LOG_MAX_BYTES = 16 * 1024 * 1024

/**
 * The size past which a log file rotates: `$DORA_TS_LOG_MAX_SIZE` (bytes, or a size such as
 * `64MiB`; `0` for no limit), else {@link DEFAULT_LOG_MAX_BYTES}. A value that is neither is
 * reported once through `warn`, and the default applies.
 */
export function logMaxBytes(env: NodeJS.ProcessEnv = process.env, warn: (text: string) => void = warnOnce): number {
  const value = env['DORA_TS_LOG_MAX_SIZE']
  if (value === undefined || value.trim() === '') return DEFAULT_LOG_MAX_BYTES
  if (value.trim() === '0') return Infinity
  const bytes = parseByteSize(value)
  if (bytes !== undefined) return bytes
  warn(
    `DORA_TS_LOG_MAX_SIZE=${JSON.stringify(value)} is not a size (e.g. 64MiB, or 0 for no limit); log files rotate at ${DEFAULT_LOG_MAX_BYTES / 1024 / 1024} MiB`,
  )
  return DEFAULT_LOG_MAX_BYTES
}

let warned = false
function warnOnce(text: string): void {
  if (warned) return
  warned = true
  process.stderr.write(`dora-ts: ${text}\n`)
}

/** How long a log that could not be written waits before it is opened again (ms). */
export const LOG_RETRY_MS = 2000

/**
 * A log file that rotates to `<path>.1` once it would grow past `maxBytes`. A file that cannot
 * be written (its disk full, its folder removed) drops lines and is opened again
 * {@link LOG_RETRY_MS} later, at the next line: one full spell of the disk must not end a
 * robot's logging for the rest of the run.
 */
export class RotatingLog {
  readonly path: string
  readonly #maxBytes: number
  readonly #report: (text: string) => void
  #stream: Writable
  #size: number
  /** Streams rotated away and still writing what was queued to them (into `<path>.1`). */
  readonly #retiring = new Set<Promise<void>>()
  /**
   * Lines for the new file, held until the file rotated away has all of its own: both streams
   * write on libuv's threads, and the new one's first lines reached the disk before the old
   * one's last (a reader following the log saw lines 93-95, then 78-92).
   */
  #held: string[] | undefined
  /** When the file last failed (performance.now()); undefined while it is written, or tried again. */
  #failedAt: number | undefined
  /** From a failure until a line is written again: the spell, said once at each end. */
  #failing = false
  /** Lines dropped in this spell. */
  #dropped = 0

  /** `report`: where a failure of the file goes (never thrown: logs must not stop a run). */
  constructor(path: string, maxBytes: number, report: (text: string) => void) {
    this.path = path
    this.#maxBytes = maxBytes
    this.#report = report
    ;[this.#stream, this.#size] = this.#open()
  }

  write(line: string): void {
    if (this.#failedAt !== undefined) {
      if (performance.now() - this.#failedAt < LOG_RETRY_MS) {
        this.#dropped++
        return
      }
      this.#reopen()
      if (this.#failedAt !== undefined) {
        this.#dropped++
        return
      }
    }
    const bytes = Buffer.byteLength(line)
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) this.#rotate()
    this.#size += bytes
    if (this.#held !== undefined) this.#held.push(line)
    else this.#put(line)
  }

  #put(line: string): void {
    if (!this.#failing) {
      this.#stream.write(line)
      return
    }
    this.#stream.write(line, (err) => {
      if (err !== null && err !== undefined) return
      if (!this.#failing) return
      this.#failing = false
      this.#report(`log ${this.path} is written again; at least ${this.#dropped} line(s) were dropped while it could not be`)
      this.#dropped = 0
    })
  }

  /** Close the file, once everything written (to it and to a file rotated away) is on disk. */
  async end(): Promise<void> {
    while (this.#retiring.size > 0) await Promise.all(this.#retiring)
    const stream = this.#stream
    await new Promise<void>((resolve) => stream.end(resolve))
  }

  /**
   * Opened synchronously, so the file exists before the first line is queued: a rotation
   * renames it, and a stream still opening would create it again under the old name.
   */
  #open(): [Writable, number] {
    let fd: number
    try {
      fd = openSync(this.path, 'a', 0o600)
    } catch (err) {
      // No file (its folder removed under a running dataflow, no descriptor left).
      this.#failed(err)
      return [new Writable({ write: (_chunk, _encoding, done) => done() }), 0]
    }
    const stream = createWriteStream(this.path, { fd })
    stream.on('error', (err) => this.#failed(err))
    return [stream, fstatSync(fd).size]
  }

  /** Lines are dropped until the file is opened again; said once per spell. */
  #failed(err: unknown): void {
    if (!this.#failing) this.#report(`log ${this.path}: ${errorMessage(err)}; its lines are dropped until it can be written again`)
    this.#failing = true
    this.#failedAt = performance.now()
  }

  #reopen(): void {
    this.#stream.destroy()
    this.#failedAt = undefined
    ;[this.#stream, this.#size] = this.#open()
  }

  #rotate(): void {
    try {
      renameSync(this.path, `${this.path}${ROTATED_SUFFIX}`)
    } catch (err) {
      this.#report(`log ${this.path} could not be rotated: ${errorMessage(err)}`)
      this.#size = 0
      return
    }
    // Its descriptor follows the file to its new name: what it has queued lands there.
    const old = this.#stream
    // Lines held for it wait no longer: the file they had to follow was just replaced.
    this.#release(this.#held)
    ;[this.#stream, this.#size] = this.#open()
    // The new file's lines go out once the old one has all of its own.
    const held: string[] = []
    this.#held = held
    const ended = new Promise<void>((resolve) => old.end(resolve)).then(() => {
      this.#retiring.delete(ended)
      this.#release(held)
    })
    this.#retiring.add(ended)
  }

  /** Write `held` to the current stream, if they are still the lines held for it. */
  #release(held: string[] | undefined): void {
    if (held === undefined || held !== this.#held) return
    this.#held = undefined
    for (const line of held) this.#put(line)
  }
}

/**
 * Rotate `path` now if it has reached `maxBytes`: for a file written by another process, which
 * cannot rotate as it writes (the supervisor's daemon.log is its stdout and stderr), at the
 * moment a new writer is about to open it. Never throws.
 */
export function rotateIfFull(path: string, maxBytes: number): void {
  try {
    if (statSync(path).size >= maxBytes) renameSync(path, `${path}${ROTATED_SUFFIX}`)
  } catch {
    // No file yet, or it cannot be renamed: appended to as it is.
  }
}

/**
 * The whole lines added to the log at `path`, its rotated part first, since the reads recorded
 * in `seen` (file identity -> bytes read), which this updates. A line still being written is
 * left for the next read. A file rotated twice between two reads loses the lines of the part
 * in between; at the default size that takes 32 MiB of output between two looks.
 */
export function readNewLines(path: string, seen: Map<string, number>): string[] {
  const lines: string[] = []
  for (const file of [`${path}${ROTATED_SUFFIX}`, path]) {
    let fd: number
    try {
      fd = openSync(file, 'r')
    } catch {
      continue
    }
    try {
      const { ino, birthtimeMs, size } = fstatSync(fd)
      const key = `${ino}:${birthtimeMs}`
      // Smaller than what was read: a new file that reused the identity of one read before.
      let from = seen.get(key) ?? 0
      if (size < from) from = 0
      if (size === from) continue
      const bytes = Buffer.allocUnsafe(size - from)
      const got = readSync(fd, bytes, 0, bytes.length, from)
      const whole = bytes.subarray(0, got).lastIndexOf(0x0a) + 1
      if (whole === 0) continue
      seen.set(key, from + whole)
      for (const line of bytes.subarray(0, whole).toString('utf8').split('\n')) if (line !== '') lines.push(line)
    } finally {
      closeSync(fd)
    }
  }
  return lines
}

/** Whether `path` or its rotated part exists (a node whose log has just rotated has only the part). */
export function logExists(path: string): boolean {
  for (const file of [path, `${path}${ROTATED_SUFFIX}`]) {
    try {
      statSync(file)
      return true
    } catch {
      // Not this one.
    }
  }
  return false
}
