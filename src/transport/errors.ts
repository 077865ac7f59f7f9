/**
 * Errors of the transport layer: the sockets and queues shared by the supervisor and the SDK.
 *
 * @module
 */
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../errors.js'

/**
 * The resource was closed (or destroyed) before this operation could run: a send still queued
 * when its {@link SendQueue} closed, a send after close, a `Node.send()` during or after
 * `Node.close()`. Nothing of it reached the peer. As undici's `ClientClosedError`, it says the
 * caller's own side shut down, not that the peer failed; `cause` carries the reason when the
 * resource was destroyed with one.
 *
 * @example
 * ```ts
 * try {
 *   await node.send('scan', bytes)
 * } catch (err) {
 *   if (err instanceof ClosedError) return // shutting down: the message is not needed anymore
 *   throw err
 * }
 * ```
 */
export class ClosedError extends DoraError {
  declare readonly code: 'DORA_CLOSED'

  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_CLOSED', message, options)
  }
}

registerErrorClass(ClosedError)
