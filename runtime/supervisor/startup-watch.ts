/**
 * When a dataflow run is past its start-up: every custom node has connected at least once (or
 * ended), or the run ended. `dora-ts start` waits on it, so a dataflow that fails at once is
 * reported as failed instead of "started" (issue 14).
 *
 * Apart from dataflow-run.ts because it is a small waiting protocol of its own (waiters that
 * re-check on every connect and every end, and let go on an AbortSignal) that the run only
 * pokes at the right moments.
 *
 * @module
 */

/** The start-up waiters of one run (see the module comment). */
export class StartupWatch<Report> {
  /** Custom nodes whose process connected at least once. */
  readonly #connected = new Set<string>()
  readonly #waiters = new Set<() => boolean>()
  readonly #past: (connected: ReadonlySet<string>) => boolean
  readonly #failed: () => Report[]

  /**
   * @param past whether the run is past its start-up, given the nodes that connected
   * @param failed the reports of the units that failed so far
   */
  constructor(past: (connected: ReadonlySet<string>) => boolean, failed: () => Report[]) {
    this.#past = past
    this.#failed = failed
  }

  /** A custom node's process connected. */
  connected(nodeId: string): void {
    this.#connected.add(nodeId)
    this.check()
  }

  /** Something that may end the start-up happened (a unit ended, the run finished): tell waiters. */
  check(): void {
    for (const check of [...this.#waiters]) check()
  }

  /** Resolves once past the start-up, or when `signal` aborts, with the units that failed by then. */
  settled(signal?: AbortSignal): Promise<Report[]> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (!this.#past(this.#connected) && signal?.aborted !== true) return false
        this.#waiters.delete(check)
        signal?.removeEventListener('abort', onAbort)
        resolve(this.#failed())
        return true
      }
      const onAbort = (): void => void check()
      if (check()) return
      this.#waiters.add(check)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
