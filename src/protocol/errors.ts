/**
 * Errors of the node protocol codec (`codec.ts`). Both are programmer- or peer-facing:
 * a {@link ProtocolError} means a peer sent bytes that are not a message of this protocol (the
 * receiver drops the frame and may close the connection); a {@link ProtocolEncodeError} means our
 * own code tried to send a value the wire contract cannot carry.
 */

import { DoraError, registerErrorClass, type DoraErrorOptions } from '../errors.js'

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

  /** Without a hint, the table's: the peer does not speak this protocol (version). */
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_PROTOCOL_DECODE', message, options)
  }
}

/**
 * A message could not be encoded because a field holds a value the schema cannot carry (a
 * `sequence` outside UInt64, a metadata value that is not a string, number, bigint, boolean or
 * Uint8Array, a frame over the 1 MiB header limit ...). Nothing was sent.
 */
export class ProtocolEncodeError extends DoraError {
  declare readonly code: 'DORA_PROTOCOL_ENCODE'

  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_PROTOCOL_ENCODE', message, options)
  }
}

registerErrorClass(ProtocolError)
registerErrorClass(ProtocolEncodeError)
