/**
 * Watching a namespace: {@link KvsWatch}, an async iterator of {@link KvsChange}s that polls a
 * change log (change-log.ts) with an unref'd timer, since LMDB has no notifications.
 *
 * The watch does not know where its changes come from: a {@link WatchSource} polls a
 * namespace in this thread (KvsNamespace.watch) or asks the supervisor's KVS thread
 * (remote.ts). So this module imports no LMDB, and an operator worker can load it.
 *
 * @module
 */
import { describeKvsAction, KvsBadValueError } from './errors.js'
import type { LogPosition } from './change-log.js'

/** How often a watcher looks for new changes. */
export const DEFAULT_WATCH_INTERVAL_MS = 10

/**
 * A change seen by {@link KvsNamespace.watch}. The union is open: ignore kinds you do not
 * know. `seq` orders changes across the whole KVS (the LMDB transaction id; several changes
 * made in one transaction share it).
 * - `put`: `key` was set to `value`.
 * - `delete`: `key` was deleted.
 * - `lagged`: the watcher fell so far behind that the log no longer holds some changes it had
 *   not seen; re-read what you need with `list(prefix)`.
 */
export type KvsChange =
  { type: 'put'; key: string; value: Uint8Array; seq: number } | { type: 'delete'; key: string; seq: number } | { type: 'lagged'; seq: number }

/** Options of {@link KvsNamespace.watch}. */
export interface KvsWatchOptions {
  /** How often to look for new changes, in ms (default {@link DEFAULT_WATCH_INTERVAL_MS}). */
  intervalMs?: number
  /** Ends the iterator (cleanly, as `return()` does) when aborted. */
  signal?: AbortSignal
}

/** Where a {@link KvsWatch} gets its changes: a namespace in this thread, or the KVS thread. */
export interface WatchSource {
  start: LogPosition
  intervalMs: number
  signal: AbortSignal | undefined
  poll(from: LogPosition, limit: number): { changes: KvsChange[]; next: LogPosition }
  detach(watch: KvsWatch): void
}

const watchToken = Symbol('KvsWatch')
/** Log entries read per poll; the rest wait for the next call to next(). */
const POLL_BATCH = 1024

/** @internal A watch over `source` (KvsNamespace.watch, and the operators' client of the KVS thread). */
export function createKvsWatch(source: WatchSource): KvsWatch {
  return new KvsWatch(source, watchToken)
}

/** The checked `intervalMs` of watch options. */
export function watchInterval(options: KvsWatchOptions, dir: string, namespace: string): number {
  const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new KvsBadValueError(
      `${describeKvsAction({ dir, action: 'watch', namespace })}: intervalMs must be a positive number of milliseconds, got ${String(options.intervalMs)}`,
      {
        dir,
        namespace,
        hint: 'omit intervalMs for the default of 10 ms',
      },
    )
  }
  return intervalMs
}

/**
 * An async iterator of {@link KvsChange}s (from {@link KvsNamespace.watch}). Iterate it with
 * `for await`; `break`, {@link return} or {@link close} end it.
 */
export class KvsWatch implements AsyncIterableIterator<KvsChange>, AsyncDisposable {
  readonly #source: WatchSource
  #position: LogPosition
  readonly #buffer: KvsChange[] = []
  #closed = false
  #error: unknown
  #timer: NodeJS.Timeout | undefined
  #wake: (() => void) | undefined
  readonly #onAbort = (): void => this.close()

  /** @internal Use {@link KvsNamespace.watch}. */
  constructor(source: WatchSource, token: symbol) {
    if (token !== watchToken) throw new TypeError('use KvsNamespace.watch() to watch a namespace')
    this.#source = source
    this.#position = source.start
    if (source.signal?.aborted === true) this.#closed = true
    source.signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** The next change; waits (polling the log) until there is one or the watch is closed. */
  async next(): Promise<IteratorResult<KvsChange, undefined>> {
    for (;;) {
      const change = this.#buffer.shift()
      if (change !== undefined) return { value: change, done: false }
      if (this.#error !== undefined) {
        const error = this.#error
        this.#error = undefined
        this.close()
        throw error
      }
      if (this.#closed) return { value: undefined, done: true }
      if (this.#poll()) continue
      await new Promise<void>((wake) => {
        this.#wake = wake
        this.#timer = setTimeout(wake, this.#source.intervalMs)
        this.#timer.unref()
      })
      this.#wake = undefined
    }
  }

  /** End the watch (what `break` in a `for await` calls). */
  async return(): Promise<IteratorResult<KvsChange, undefined>> {
    this.close()
    return { value: undefined, done: true }
  }

  /** End the watch; a pending {@link next} resolves as done. Idempotent. */
  close(): void {
    if (this.#closed && this.#wake === undefined) return
    this.#closed = true
    this.#buffer.length = 0
    this.#source.signal?.removeEventListener('abort', this.#onAbort)
    this.#source.detach(this)
    clearTimeout(this.#timer)
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  /** Read new log entries into the buffer; true when there is something to hand out. */
  #poll(): boolean {
    try {
      const { changes, next } = this.#source.poll(this.#position, POLL_BATCH)
      this.#position = next
      this.#buffer.push(...changes)
      return changes.length > 0
    } catch (err) {
      this.#error = err
      return true
    }
  }
}
