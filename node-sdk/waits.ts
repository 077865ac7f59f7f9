/**
 * The bounded waits of the node client ({@link Node}): a wait that whoever holds the waker can
 * end early, and a race of some work against an AbortSignal and a deadline. Each cleans up its
 * timer and listener on every path, so a finished wait never keeps the process alive.
 *
 * @module
 */

/**
 * Resolve when the function this adds to `waiters` is called (by whoever wakes them) or after
 * `ms`, whichever comes first; the function removes itself either way.
 */
export function wakeOrTimeout(waiters: Set<() => void>, ms: number): { done: Promise<void>; wake: () => void } {
  let wake!: () => void
  const done = new Promise<void>((resolve) => {
    wake = (): void => {
      clearTimeout(timer)
      waiters.delete(wake)
      resolve()
    }
    const timer = setTimeout(wake, ms)
    waiters.add(wake)
  })
  return { done, wake }
}

/**
 * Settle as `work` does, unless `signal` aborts first (reject with its reason) or `ms` pass
 * (reject with `onTimeout()`). The loser's later settlement is ignored, never unhandled.
 */
export async function raceAbortAndTimeout<T>(work: Promise<T>, signal: AbortSignal | undefined, ms: number, onTimeout: () => Error): Promise<T> {
  signal?.throwIfAborted()
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const cancelled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
    if (signal !== undefined) {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    }
  })
  try {
    return await Promise.race([work, cancelled])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}
