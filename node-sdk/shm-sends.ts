/**
 * Which of a node's payloads go through shared memory: those of at least the supervisor's
 * threshold, written into a segment of the run's directory (one copy, no socket bytes). A
 * failed write sends that payload on the socket, slower and never lost: while the tmpfs is
 * full, the next ones too, until a try finds room; after any other failure (the directory
 * gone), all of them (shm-fallback.ts).
 *
 * @module
 */
import type { Registration, SharedPayload } from '../src/protocol/node/messages.js'
import { ShmFallback } from './shm-fallback.js'
import { ShmWriter } from './shm.js'

export class ShmSends {
  /** The run's shared-memory directory ('' when the supervisor offers none) and its size threshold. */
  readonly #dir: string
  readonly #threshold: number
  readonly #nodeId: string
  readonly #restartCount: number
  /** Created on the first large send. */
  #writer: ShmWriter | undefined
  readonly #fallback: ShmFallback

  constructor(registration: Registration) {
    this.#dir = registration.shmDir
    this.#threshold = registration.shmDir === '' ? 0 : registration.shmThreshold
    this.#nodeId = registration.nodeId
    this.#restartCount = registration.restartCount
    this.#fallback = new ShmFallback(this.#nodeId, this.#dir, 'large payloads')
  }

  /** The directory inputs' segments are read from. */
  get dir(): string {
    return this.#dir
  }

  /** The segment `data` was written to; undefined: it travels as its own frame. */
  share(data: Uint8Array): SharedPayload | undefined {
    if (this.#threshold === 0 || data.byteLength < this.#threshold || !this.#fallback.usable) return undefined
    try {
      this.#writer ??= new ShmWriter(this.#dir, this.#nodeId, this.#restartCount)
      const shared = this.#writer.write(data)
      this.#fallback.succeeded()
      return shared
    } catch (err) {
      this.#fallback.failed(err)
      return undefined
    }
  }
}
