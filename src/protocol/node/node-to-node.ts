/**
 * Encode and decode the messages custom nodes send each other on best-effort links
 * (`NodeToNode` in src/protocol/schema/node-to-node.capnp); only the node SDK uses them.
 * Re-exported by `codec.ts`, which says how the codec reads and writes.
 *
 * @module
 */

import { ProtocolEncodeError } from '../errors.js'
import { LAYOUT } from '../struct-layout.js'
import type { NodeToNode } from './messages.js'
import { FrameWriter } from '../wire.js'
import { decode, describeType, readMetadata, readShared, str, u16, u32, u64, unencodable, writeMetadata, writeShared } from './fields.js'

const N2N = LAYOUT.NodeToNode
const N2N_MESSAGE = LAYOUT['NodeToNode.DirectMessage']
const SHARED = LAYOUT.SharedPayload

/**
 * Encode a message a node sends on a best-effort link as frame 0 (the payload of an `input`
 * without `shm` travels as frame 1). An `input` with short ids and no metadata stays under
 * 128 bytes, so zeromq.js copies it instead of sending it zero-copy (see node-to-node.capnp).
 *
 * @throws {ProtocolEncodeError} when a field holds a value the schema cannot carry.
 */
export function encodeNodeToNode(msg: NodeToNode): Uint8Array {
  if (typeof msg !== 'object' || msg === null) throw new ProtocolEncodeError(`message is a ${describeType(msg)}, not an object`)
  const w = new FrameWriter()
  const root = w.root(N2N)
  const f = N2N.fields
  switch (msg.type) {
    case 'input': {
      w.setWhich(root, N2N, f.input.tag)
      const s = w.struct(root, f.input, N2N_MESSAGE)
      const g = N2N_MESSAGE.fields
      w.text(s, g.inputId, str(msg.id, 'input.id'))
      w.setU64(s, g.sequence, u64(msg.sequence, 'input.sequence'))
      w.setU64(s, g.timestampNs, u64(msg.timestampNs, 'input.timestampNs'))
      w.text(s, g.messageId, str(msg.messageId, 'input.messageId'))
      // `raw`, the common case, as a null pointer: 8 bytes fewer on every message.
      const encoding = str(msg.encoding, 'input.encoding')
      w.text(s, g.encoding, encoding === 'raw' ? '' : encoding)
      writeMetadata(w, s, g.metadata, msg.metadata, 'input.metadata')
      if (msg.shm !== undefined) writeShared(w, w.struct(s, g.shm, SHARED), msg.shm, 'input.shm')
      if (msg.link !== undefined) {
        w.setU64(s, g.linkSeq, u64(msg.link.seq, 'input.link.seq'))
        w.setU32(s, g.linkEnd, u32(msg.link.end, 'input.link.end'))
        w.setBool(s, g.linkNewFile, msg.link.newFile === true)
      }
      if (msg.senderLife !== undefined) w.setU16(s, g.senderLife, u16(msg.senderLife, 'input.senderLife'))
      break
    }
    case 'input-closed':
      w.setWhich(root, N2N, f.inputClosed.tag)
      w.text(root, f.inputClosed, str(msg.id, 'inputClosed.id'))
      break
    case 'link-closed':
      w.setWhich(root, N2N, f.linkClosed.tag)
      w.text(root, f.linkClosed, str(msg.dataflowId, 'linkClosed.dataflowId'))
      break
    default:
      throw unencodable(msg)
  }
  return w.finish()
}

/**
 * Decode frame 0 of a message on a best-effort link. Unknown union variants (a newer sender)
 * come back as `{ type: 'unknown', which }` for the caller to ignore.
 *
 * @throws {ProtocolError} for anything that is not a well-formed message of this protocol.
 */
export function decodeNodeToNode(bytes: Uint8Array): NodeToNode {
  return decode(bytes, (r): NodeToNode => {
    const root = r.root()
    const f = N2N.fields
    const which = r.which(root, N2N)
    switch (which) {
      case f.input.tag: {
        const s = r.struct(root, f.input)
        const g = N2N_MESSAGE.fields
        const shm = readShared(r, r.struct(s, g.shm))
        const encoding = r.text(s, g.encoding)
        const linkSeq = r.u64(s, g.linkSeq)
        const senderLife = r.u16(s, g.senderLife)
        return {
          type: 'input',
          id: r.text(s, g.inputId),
          sequence: r.u64(s, g.sequence),
          timestampNs: r.u64(s, g.timestampNs),
          messageId: r.text(s, g.messageId),
          encoding: encoding === '' ? 'raw' : encoding,
          metadata: readMetadata(r, s, g.metadata),
          ...(shm === undefined ? {} : { shm }),
          ...(linkSeq === 0n ? {} : { link: { seq: linkSeq, end: r.u32(s, g.linkEnd), newFile: r.bool(s, g.linkNewFile) } }),
          ...(senderLife === 0 ? {} : { senderLife }),
        }
      }
      case f.inputClosed.tag:
        return { type: 'input-closed', id: r.text(root, f.inputClosed) }
      case f.linkClosed.tag:
        return { type: 'link-closed', dataflowId: r.text(root, f.linkClosed) }
      default:
        return { type: 'unknown', which }
    }
  })
}
