/**
 * When an operator keeps a spare thread (worker-launch.ts SpareWorker) for its next restart:
 * it crashed before, it may again, and a started thread makes the next restart cost no thread
 * start (one idle thread, only for operators that crashed). The spare is started once the
 * restarted worker has handled its first event, not at its READY: starting a thread and
 * importing the module took CPU from that first event, the one a crash -> first event time
 * measures; or at once when there is nothing to handle, or on another crash (a crash loop).
 *
 * Apart from host.ts because it is a cost policy with its own small state (due, started,
 * taken), which the host only pokes at its lifecycle's moments.
 *
 * @module
 */
import type { OperatorSpec } from '../../src/spec/types.js'
import { SpareWorker, type ThreadOptions } from './worker-launch.js'

/** The spare thread of one operator, if any (see the module comment). */
export class SpareSlot {
  #spare: SpareWorker | undefined
  /** A spare is to be started. */
  #due = false
  readonly #options: () => ThreadOptions
  readonly #operator: Pick<OperatorSpec, 'module' | 'language'>

  /** @param options the thread options of a spare started now (its environment is read then) */
  constructor(options: () => ThreadOptions, operator: Pick<OperatorSpec, 'module' | 'language'>) {
    this.#options = options
    this.#operator = operator
  }

  /** A worker became ready after `restartCount` restarts: a spare is due if it restarted and has none. */
  ready(restartCount: number): void {
    this.#due = restartCount > 0 && this.#spare === undefined
  }

  /** Start the spare if one is due. */
  startIfDue(): void {
    if (!this.#due) return
    this.#due = false
    this.#spare ??= new SpareWorker(this.#options(), { modulePath: this.#operator.module, language: this.#operator.language })
  }

  /** The spare for a launch (now the launch's), if any. */
  take(): SpareWorker | undefined {
    const spare = this.#spare
    this.#spare = undefined
    return spare
  }

  /** End the spare thread, if any (the operator ended). */
  close(): void {
    this.#spare?.close()
    this.#spare = undefined
  }
}
