/**
 * What the dataflow run needs from each thing it supervises, custom node or operator: an inbox
 * it drains at its own pace, a way to stop it (politely, then less so), and how it ended.
 */
import type { MessageHeader } from '../../src/events.js'
import type { Inbox } from './inbox.js'

/** Lifecycle: starting -> running -> stopping -> finished | failed, with running -> restarting -> starting after a crash. */
export type UnitStatus = 'starting' | 'running' | 'restarting' | 'stopping' | 'finished' | 'failed'

export interface UnitResult {
  status: 'finished' | 'failed'
  /** Why it failed, in one sentence. */
  error?: string | undefined
  /** Last lines it wrote to stderr, for failure reports. */
  stderrTail: string[]
}

export type LogStream = 'stdout' | 'stderr' | 'log' | 'supervisor'

export interface LogEntry {
  /** `node`, `node/operator`, or `dora-ts` for the supervisor itself. */
  source: string
  stream: LogStream
  level: 'error' | 'warn' | 'info' | 'debug'
  text: string
}

/** Callbacks a unit uses to reach the run it belongs to. */
export interface UnitHost {
  dataflowId: string
  dataflowName: string
  /** The dataflow's `max_message_size` in bytes: the largest payload a unit may send. */
  maxMessageBytes: number
  /** Route an output the unit produced. */
  emit(unit: Unit, outputId: string, header: MessageHeader, payload: Uint8Array): void
  log(entry: LogEntry): void
  /** Called exactly once when the unit has ended for good. */
  ended(unit: Unit, result: UnitResult): void
  /** The unit crashed and is being started again (its receivers get NodeRestarted). */
  restarted(unit: Unit): void
}

export interface Unit {
  /** `node` or `node/operator`. */
  readonly key: string
  /** Name shown in logs. */
  readonly display: string
  readonly nodeId: string
  readonly inbox: Inbox
  readonly status: UnitStatus
  readonly outputs: readonly string[]
  /** Restarts so far in this run. */
  readonly restartCount: number
  /** Launch it. Resolves when it is running; rejects if it failed to load or launch. */
  start(): Promise<void>
  /** Deliver queued events if the unit can take them now. */
  pump(): void
  /** Ask it to end now without waiting for Stop handling (SIGTERM / terminate). */
  terminate(reason: string): void
  /** End it at once (SIGKILL / terminate). */
  kill(reason: string): void
  /** Crash it on purpose (fault injection); the restart policy then acts as for any crash. */
  crash(reason?: string): void
  /**
   * End the current process or worker at once (SIGKILL / terminate) and start it again, whatever
   * its restart policy, without counting against max_restarts (`dora-ts restart`: new code, a
   * device re-plugged). What it had not consumed is given again, as after any crash. Returns
   * why it cannot (it has ended for good, or the run is stopping), undefined when it restarts.
   */
  restartNow(reason: string): string | undefined
  /** Backpressure: the unit's outputs that must wait now (the whole set; empty: none). See flow-control.ts. */
  setPausedOutputs(outputs: ReadonlySet<string>): void
}

/** Keep the last `max` lines of a stream, for failure reports. */
export class LineTail {
  readonly #lines: string[] = []
  readonly #max: number
  constructor(max = 20) {
    this.#max = max
  }
  push(line: string): void {
    this.#lines.push(line)
    if (this.#lines.length > this.#max) this.#lines.shift()
  }
  get lines(): string[] {
    return [...this.#lines]
  }
}

/** The longest line a node's stdout or stderr gets into the log; the rest of a longer one is not kept. */
export const MAX_LOG_LINE_CHARS = 64 * 1024

/**
 * Split a byte stream into lines, calling `onLine` for each complete line.
 *
 * A line longer than {@link MAX_LOG_LINE_CHARS} is handed over cut, as soon as it is that long,
 * and the rest of it, up to its newline, is dropped. A node that writes without
 * newlines (a driver dumping frames to stdout by mistake) used to grow one string in the
 * supervisor without bound, each chunk searched from its start again for a newline: 300 MB in
 * 90 s held the supervisor's thread up for seconds at a time (every message of the dataflow
 * waited), and would have ended in V8's string limit thrown on it.
 */
export function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '' // the current line so far, never longer than the limit
  let dropping = false // the current line was handed over cut; skip to its end
  const take = (part: string): void => {
    if (dropping) return
    const room = MAX_LOG_LINE_CHARS - pending.length
    if (part.length <= room) {
      pending += part
      return
    }
    onLine(`${pending}${part.slice(0, room)} [line cut at ${MAX_LOG_LINE_CHARS / 1024} KiB: the rest of it is not logged]`)
    pending = ''
    dropping = true
  }
  const end = (): void => {
    if (!dropping) onLine(pending.replace(/\r$/, ''))
    pending = ''
    dropping = false
  }
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    let start = 0
    let index: number
    while ((index = chunk.indexOf('\n', start)) >= 0) {
      take(chunk.slice(start, index))
      end()
      start = index + 1
    }
    take(chunk.slice(start))
  })
  stream.on('end', () => {
    if (pending.length > 0) end()
  })
}
