/**
 * Backpressure on a node's outputs, as its SDK sees it: the supervisor's `outputs-paused`
 * names the outputs whose receivers are full, and a `send()` on one of them waits here until
 * they are resumed, at most {@link MAX_PAUSE_MS} (then it sends anyway and says so once: a
 * cycle of backpressure inputs would otherwise wait forever).
 *
 * @module
 */
import { MAX_PAUSE_MS } from '../src/protocol/node/messages.js'
import { wakeOrTimeout } from './waits.js'

export class OutputPauses {
  #paused: ReadonlySet<string> = new Set()
  readonly #waiters = new Set<() => void>()
  #warned = false
  readonly #nodeId: string

  constructor(nodeId: string) {
    this.#nodeId = nodeId
  }

  has(outputId: string): boolean {
    return this.#paused.has(outputId)
  }

  /** The supervisor's whole set of paused outputs; waiting sends re-check. */
  set(outputs: readonly string[]): void {
    this.#paused = new Set(outputs)
    this.wakeAll()
  }

  /** Wake every waiting send (it re-checks whether it may still send: the node may be closing). */
  wakeAll(): void {
    for (const resume of [...this.#waiters]) resume()
  }

  /** Wait while `outputId` is paused and `waiting()` holds, at most MAX_PAUSE_MS. */
  async wait(outputId: string, waiting: () => boolean): Promise<void> {
    const deadline = performance.now() + MAX_PAUSE_MS
    while (this.#paused.has(outputId) && waiting()) {
      const left = deadline - performance.now()
      if (left <= 0) {
        if (!this.#warned) {
          this.#warned = true
          process.stderr.write(
            `dora-ts: node "${this.#nodeId}": output "${outputId}" has been paused by backpressure for ${MAX_PAUSE_MS / 1000} s; sending anyway (a cycle of backpressure inputs?)\n`,
          )
        }
        return
      }
      await wakeOrTimeout(this.#waiters, left).done
    }
  }
}
