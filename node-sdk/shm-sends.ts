/**
 * Which of a node's payloads go through shared memory: those of at least the supervisor's
 * threshold, written into a segment of the run's directory (one copy, no socket bytes). A
 * failed write (tmpfs full, directory gone) is said once, and from then on everything uses the
 * socket: slower, never lost.
 *
 * @module
 */
import type { Registration, SharedPayload } from '../src/protocol/node/messages.js'
import { errorMessage } from '../src/errors.js'
import { ShmWriter } from './shm.js'

export class ShmSends {
  /** The run's shared-memory directory ('' when the supervisor offers none) and its size threshold. */
  readonly #dir: string
  readonly #threshold: number
  readonly #nodeId: string
  readonly #restartCount: number
  /** Created on the first large send. */
  #writer: ShmWriter | undefined
  #failed = false

  constructor(registration: Registration) {
    this.#dir = registration.shmDir
    this.#threshold = registration.shmDir === '' ? 0 : registration.shmThreshold
    this.#nodeId = registration.nodeId
    this.#restartCount = registration.restartCount
  }

  /** The directory inputs' segments are read from. */
  get dir(): string {
    return this.#dir
  }

  /** The segment `data` was written to; undefined: it travels as its own frame. */
  share(data: Uint8Array): SharedPayload | undefined {
    if (this.#threshold === 0 || this.#failed || data.byteLength < this.#threshold) return undefined
    try {
      this.#writer ??= new ShmWriter(this.#dir, this.#nodeId, this.#restartCount)
      return this.#writer.write(data)
    } catch (err) {
      this.#failed = true
      process.stderr.write(
        `dora-ts: node "${this.#nodeId}" could not write a shared-memory segment in ${this.#dir} (${errorMessage(err)}); large payloads go over the socket from now on\n`,
      )
      return undefined
    }
  }
}
