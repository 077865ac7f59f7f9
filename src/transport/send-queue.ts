/**
 * zeromq.js allows one pending `send()` per socket (a second throws EBUSY), so every socket we
 * send on from several places gets one of these: sends are queued in JS and written in order,
 * one at a time.
 *
 * Closing follows undici's dispatcher: a message already handed to ZeroMQ is ZeroMQ's (it
 * resolves or rejects as the socket decides); a message still waiting in this queue was never
 * sent, so its `send()` rejects with a {@link ClosedError}, and so does every `send()` after
 * close. Nothing is dropped silently: the caller of `send()` learns it, and a `post()` reports
 * it to the queue's error handler.
 *
 * @module
 */
import type { Socket } from 'zeromq'
import { ClosedError } from './errors.js'

export type Frames = Array<Uint8Array | string>

/** The part of a zeromq.js socket the queue uses. */
export type SendSocket = Socket & { send(frames: Frames): Promise<void> }

interface Queued {
  frames: Frames
  resolve: () => void
  reject: (err: unknown) => void
}

export class SendQueue {
  readonly #socket: SendSocket
  readonly #queue: Queued[] = []
  #draining = false
  #closed = false
  /** Why the queue was closed (given to {@link close}), the `cause` of every ClosedError. */
  #closeCause: unknown
  readonly #onError: (err: unknown) => void

  /**
   * @param onError receives the failures of {@link post}ed messages (a ZeroMQ error, or a
   *   {@link ClosedError} when the queue closed before the message was written).
   */
  constructor(socket: SendSocket, onError: (err: unknown) => void) {
    this.#socket = socket
    this.#onError = onError
  }

  /**
   * Queue a multipart message; resolves when ZeroMQ accepted it. Rejects with a
   * {@link ClosedError} if the queue is closed now or closes before the message is written.
   */
  send(frames: Frames): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError('the send queue is closed; the message was not sent'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ frames, resolve, reject })
      if (!this.#draining) void this.#drain()
    })
  }

  /**
   * Queue without waiting. Every failure, a {@link ClosedError} included (a post after close,
   * or one still queued at close), goes to the error handler, never to an unhandled rejection:
   * post is fire-and-forget, so the handler is where its owner decides whether a message that
   * could not leave matters (the supervisor logs socket errors and ignores `DORA_CLOSED` at the
   * end of a run, when no node is left to receive anything).
   */
  post(frames: Frames): void {
    this.send(frames).catch(this.#onError)
  }

  /** Messages waiting to be written (the one ZeroMQ is writing now not included). */
  get pending(): number {
    return this.#queue.length
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Stop writing. Messages not yet handed to ZeroMQ reject with a {@link ClosedError} (with
   * `cause` as its cause, when given); the one being written, if any, is left to the socket:
   * it resolves if ZeroMQ takes it, and rejects with a ClosedError if closing the socket
   * fails it. Idempotent: a second call changes nothing.
   */
  close(cause?: unknown): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeCause = cause
    for (const item of this.#queue.splice(0)) {
      item.reject(this.#closedError('the send queue was closed before this message was written; it was not sent'))
    }
  }

  #closedError(message: string): ClosedError {
    return new ClosedError(message, this.#closeCause === undefined ? {} : { cause: this.#closeCause })
  }

  async #drain(): Promise<void> {
    this.#draining = true
    try {
      while (this.#queue.length > 0) {
        const item = this.#queue.shift()!
        try {
          await this.#socket.send(item.frames)
          item.resolve()
        } catch (err) {
          // Closing the socket fails the write it was blocked in (EAGAIN): that is the close's
          // doing, so the caller gets the same ClosedError as the queued ones, with the socket's
          // error as its cause.
          item.reject(this.#closed ? new ClosedError('the send queue was closed while this message was being written; it was not sent', { cause: err }) : err)
        }
      }
    } finally {
      this.#draining = false
    }
  }
}
