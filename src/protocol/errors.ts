/**
 * Errors of the node protocol codec (`codec.ts`). Both are programmer- or peer-facing:
 * a {@link ProtocolError} means a peer sent bytes that are not a message of this protocol (the
 * receiver drops the frame and may close the connection); a {@link ProtocolEncodeError} means our
 * own code tried to send a value the wire contract cannot carry.
 */

import { DoraError, registerErrorClass } from '../errors.js'

/**
 * A received frame is not a valid Cap'n Proto message of the node protocol: bad segment table,
 * out-of-bounds or looping pointers, a field of the wrong kind, or a frame over the size limit.
 *
 * @example
 * ```ts
 * try {
 *   msg = decodeNodeToSupervisor(frame0)
 * } catch (err) {
 *   if (err instanceof ProtocolError) return dropConnection(err)
 *   throw err
 * }
 * ```
 */
export class ProtocolError extends DoraError {
  declare readonly code: 'DORA_PROTOCOL_DECODE'

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_PROTOCOL_DECODE', message, {
      hint: options.hint ?? 'The peer is not speaking the dora-ts node protocol, or runs an incompatible version.',
      cause: options.cause,
    })
  }
}

/**
 * A message could not be encoded because a field holds a value the schema cannot carry (a
 * `sequence` outside UInt64, a metadata value that is not a string, number, bigint, boolean or
 * Uint8Array, a frame over the 1 MiB header limit ...). Nothing was sent.
 */
export class ProtocolEncodeError extends DoraError {
  declare readonly code: 'DORA_PROTOCOL_ENCODE'

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_PROTOCOL_ENCODE', message, { hint: options.hint, cause: options.cause })
  }
}

registerErrorClass(ProtocolError)
registerErrorClass(ProtocolEncodeError)
