/** Conversion between the wire header and the metadata users see. */
import type { MessageHeader } from '../src/protocol/node/messages.js'
import type { InputMetadata } from './events.js'

export function metadataFromHeader(header: MessageHeader): InputMetadata {
  return {
    senderNode: header.senderNode,
    senderOperator: header.senderOperator,
    outputId: header.outputId,
    sequence: header.sequence,
    timestampNs: header.timestampNs,
    encoding: header.encoding,
    parameters: header.metadata,
    messageId: header.messageId,
    redelivered: header.redelivered,
  }
}
