/**
 * Whether a node's large payloads may go through shared memory, after a write into it failed.
 * A full tmpfs (Docker's /dev/shm is 64 MB unless told otherwise) is usually a moment: a
 * receiver behind, a burst. Payloads then take the socket, slower and never lost, and shared
 * memory is tried again every {@link SHM_RETRY_MS}; before 2026-12-06 one full moment sent a
 * camera's frames over the socket for the rest of its process. Any other failure (the folder
 * gone, no permission) is for good. On stderr: the first full spell and its end (a tmpfs near
 * full flaps between the two), and the end for good.
 *
 * @module
 */
import { errorMessage } from '../src/errors.js'
import { isNoRoom } from '../src/no-room.js'

/** How long large payloads take the socket after shared memory was found full (ms). */
export const SHM_RETRY_MS = 2000

export class ShmFallback {
  readonly #nodeId: string
  readonly #dir: string
  /** What goes through shared memory, in the messages: `large payloads`, ... */
  readonly #what: string
  #off = false
  /** While shared memory is full: when to try it again (performance.now()); else undefined. */
  #retryAt: number | undefined
  /** Whether the first full spell, and its end, were said: a tmpfs that flaps says it once. */
  #toldFull = false
  #toldRoom = false

  constructor(nodeId: string, dir: string, what: string) {
    this.#nodeId = nodeId
    this.#dir = dir
    this.#what = what
  }

  /** Whether the next large payload should try shared memory. */
  get usable(): boolean {
    return !this.#off && (this.#retryAt === undefined || performance.now() >= this.#retryAt)
  }

  /** A write into shared memory went: after a full spell, say it is used again. */
  succeeded(): void {
    if (this.#retryAt === undefined) return
    this.#retryAt = undefined
    if (this.#toldRoom) return
    this.#toldRoom = true
    this.#say(`node "${this.#nodeId}": shared memory in ${this.#dir} has room again; ${this.#what} use it again`)
  }

  /** A write into shared memory failed with `err` (what was written of it is gone). */
  failed(err: unknown): void {
    if (isNoRoom(err)) {
      this.#retryAt = performance.now() + SHM_RETRY_MS
      if (!this.#toldFull) {
        this.#toldFull = true
        this.#say(
          `node "${this.#nodeId}" could not write a shared-memory segment in ${this.#dir} (${errorMessage(err)}); ${this.#what} go over the socket until it has room (tried again every ${SHM_RETRY_MS / 1000} s)`,
        )
      }
      return
    }
    this.#off = true
    this.#say(
      `node "${this.#nodeId}" could not write a shared-memory segment in ${this.#dir} (${errorMessage(err)}); ${this.#what} go over the socket from now on`,
    )
  }

  #say(text: string): void {
    process.stderr.write(`dora-ts: ${text}\n`)
  }
}
