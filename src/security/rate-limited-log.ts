/**
 * Log lines a peer can cause (refused registrations, bad frames, refused CURVE clients) are
 * truncated and rate limited, and repeats are summarized, so a hostile process cannot fill the
 * disk or bury the lines that matter: at most `burst` lines per `key` per window, then one
 * "N more like this" line when the window turns.
 *
 * @module
 */
import { escapeForTerminal } from './escape.js'

/** Longest text of one line; the rest is cut with a note of how much. */
export const MAX_LOG_LINE = 500

/** `text` escaped for a terminal and cut to `max` characters. */
export function truncateLine(text: string, max = MAX_LOG_LINE): string {
  const escaped = escapeForTerminal(text, { keepNewlines: false })
  return escaped.length <= max ? escaped : `${escaped.slice(0, max)}… (${escaped.length - max} more characters)`
}

export interface RateLimitedLogOptions {
  /** Lines per key per window (default 5). */
  burst?: number
  /** Window length (default 10 s). */
  windowMs?: number
  /** Injected for tests; default Date.now. */
  now?: () => number
}

export class RateLimitedLog {
  readonly #write: (line: string) => void
  readonly #burst: number
  readonly #windowMs: number
  readonly #now: () => number
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>()

  constructor(write: (line: string) => void, options: RateLimitedLogOptions = {}) {
    this.#write = write
    this.#burst = options.burst ?? 5
    this.#windowMs = options.windowMs ?? 10_000
    this.#now = options.now ?? Date.now
  }

  /** Log `text` under `key` (lines of one kind share a key) unless over the limit. Returns whether it was written. */
  log(key: string, text: string): boolean {
    const now = this.#now()
    let w = this.#windows.get(key)
    if (w !== undefined && now - w.start >= this.#windowMs) {
      if (w.suppressed > 0)
        this.#write(`${w.suppressed} more like "${truncateLine(key, 80)}" were not logged in the last ${Math.round((now - w.start) / 1000)} s`)
      w = undefined
    }
    if (w === undefined) {
      w = { start: now, count: 0, suppressed: 0 }
      this.#windows.set(key, w)
      // Keys come from peers: keep the map bounded.
      if (this.#windows.size > 1000) this.#windows.delete(this.#windows.keys().next().value!)
    }
    if (w.count >= this.#burst) {
      w.suppressed++
      return false
    }
    w.count++
    this.#write(truncateLine(text))
    return true
  }

  /** Lines not written so far in the current windows. */
  get suppressed(): number {
    let n = 0
    for (const w of this.#windows.values()) n += w.suppressed
    return n
  }
}
