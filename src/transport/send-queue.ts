/**
 * zeromq.js allows one pending `send()` per socket (a second rejects with EBUSY), so every
 * socket we send on from several places gets one of these: sends are queued in JS and written
 * in order, one at a time.
 */
import type { Socket } from 'zeromq'

export type Frames = Array<Uint8Array | string>

export class SendQueue {
  readonly #socket: Socket & { send(frames: Frames): Promise<void> }
  readonly #queue: Array<{ frames: Frames; resolve: () => void; reject: (err: unknown) => void }> = []
  #draining = false
  #closed = false
  readonly #onError: (err: unknown) => void

  constructor(socket: Socket & { send(frames: Frames): Promise<void> }, onError: (err: unknown) => void) {
    this.#socket = socket
    this.#onError = onError
  }

  /** Queue a multipart message; resolves when ZeroMQ accepted it. */
  send(frames: Frames): Promise<void> {
    if (this.#closed) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#queue.push({ frames, resolve, reject })
      if (!this.#draining) void this.#drain()
    })
  }

  /** Queue without waiting: errors go to the queue's error handler. */
  post(frames: Frames): void {
    this.send(frames).catch(this.#onError)
  }

  get pending(): number {
    return this.#queue.length
  }

  close(): void {
    this.#closed = true
    for (const item of this.#queue.splice(0)) item.resolve()
  }

  async #drain(): Promise<void> {
    this.#draining = true
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const item = this.#queue.shift()!
        try {
          await this.#socket.send(item.frames)
          item.resolve()
        } catch (err) {
          item.reject(err)
        }
      }
    } finally {
      this.#draining = false
    }
  }
}
