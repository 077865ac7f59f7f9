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

/** Split a byte stream into lines, calling `onLine` for each complete line. */
export function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    pending += chunk
    let index: number
    while ((index = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, index).replace(/\r$/, ''))
      pending = pending.slice(index + 1)
    }
  })
  stream.on('end', () => {
    if (pending.length > 0) onLine(pending)
    pending = ''
  })
}
