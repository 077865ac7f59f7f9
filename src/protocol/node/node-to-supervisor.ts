/**
 * Encode and decode the messages a custom node sends the supervisor (`NodeToSupervisor` in
 * src/protocol/schema/node-to-supervisor.capnp): the node SDK encodes them, the supervisor's node
 * router decodes them. Re-exported by `codec.ts`, which says how the codec reads and writes.
 *
 * @module
 */

import { ProtocolEncodeError } from '../errors.js'
import { LAYOUT } from '../struct-layout.js'
import type { InputDrops, LogLevel, NodeToSupervisor } from './messages.js'
import { FrameWriter, type FrameReader, type StructReader, type StructWriter } from '../wire.js'
import type { PointerField } from '../struct-layout.js'
import { bool, decode, describeType, enumOrdinal, readHeader, readShared, str, strList, u32, u64, unencodable, writeHeader, writeShared } from './fields.js'

// Enum ordinals, in schema order (common.capnp). An unknown log level from a newer node is
// logged as info.
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

const N2S = LAYOUT.NodeToSupervisor
const N2S_REGISTER = LAYOUT['NodeToSupervisor.Register']
const N2S_OUTPUT = LAYOUT['NodeToSupervisor.Output']
const N2S_CLOSE_OUTPUTS = LAYOUT['NodeToSupervisor.CloseOutputs']
const N2S_LOG = LAYOUT['NodeToSupervisor.Log']
const N2S_CREDIT = LAYOUT['NodeToSupervisor.Credit']
const N2S_DIRECT_COUNTS = LAYOUT['NodeToSupervisor.DirectCounts']
const N2S_INPUT_DROPS = LAYOUT['NodeToSupervisor.InputDrops']
const HEADER = LAYOUT.MessageHeader
const SHARED = LAYOUT.SharedPayload

/**
 * Encode a message a custom node sends to the supervisor as frame 0 (the payload of an `output`
 * travels as frame 1, untouched).
 *
 * @throws {ProtocolEncodeError} when a field holds a value the schema cannot carry, or the
 * encoded header would exceed `MAX_FRAME_BYTES` (`wire.ts`).
 * @example
 * ```ts
 * await socket.send([encodeNodeToSupervisor({ type: 'output', header }), payload])
 * ```
 */
export function encodeNodeToSupervisor(msg: NodeToSupervisor): Uint8Array {
  if (typeof msg !== 'object' || msg === null) throw new ProtocolEncodeError(`message is a ${describeType(msg)}, not an object`)
  const w = new FrameWriter()
  const root = w.root(N2S)
  const f = N2S.fields
  switch (msg.type) {
    case 'register': {
      w.setWhich(root, N2S, f.register.tag)
      const s = w.struct(root, f.register, N2S_REGISTER)
      w.text(s, N2S_REGISTER.fields.nodeId, str(msg.nodeId, 'register.nodeId'))
      w.setU32(s, N2S_REGISTER.fields.protocolVersion, u32(msg.protocolVersion, 'register.protocolVersion'))
      w.setU32(s, N2S_REGISTER.fields.pid, u32(msg.pid, 'register.pid'))
      w.text(s, N2S_REGISTER.fields.secret, str(msg.secret ?? '', 'register.secret'))
      w.setBool(s, N2S_REGISTER.fields.directLinks, bool(msg.directLinks ?? false, 'register.directLinks'))
      break
    }
    case 'output': {
      w.setWhich(root, N2S, f.output.tag)
      const s = w.struct(root, f.output, N2S_OUTPUT)
      writeHeader(w, w.struct(s, N2S_OUTPUT.fields.header, HEADER), msg.header)
      w.setU64(s, N2S_OUTPUT.fields.sendSeq, u64(msg.sendSeq, 'output.sendSeq'))
      if (msg.shm !== undefined) writeShared(w, w.struct(s, N2S_OUTPUT.fields.shm, SHARED), msg.shm, 'output.shm')
      if (msg.consumedUpTo !== undefined) w.setU64(s, N2S_OUTPUT.fields.consumedUpTo, u64(msg.consumedUpTo, 'output.consumedUpTo'))
      break
    }
    case 'next':
      w.setWhich(root, N2S, f.next.tag)
      break
    case 'credit': {
      w.setWhich(root, N2S, f.credit.tag)
      const s = w.struct(root, f.credit, N2S_CREDIT)
      w.setU64(s, N2S_CREDIT.fields.consumedUpTo, u64(msg.consumedUpTo, 'credit.consumedUpTo'))
      w.setU32(s, N2S_CREDIT.fields.window, u32(msg.window, 'credit.window'))
      w.setBool(s, N2S_CREDIT.fields.inputBatches, bool(msg.inputBatches ?? false, 'credit.inputBatches'))
      if (msg.heldAtClose !== undefined) w.setU64(s, N2S_CREDIT.fields.heldAtClose, u64(msg.heldAtClose, 'credit.heldAtClose'))
      w.setBool(s, N2S_CREDIT.fields.exact, bool(msg.exact ?? false, 'credit.exact'))
      break
    }
    case 'close-outputs': {
      w.setWhich(root, N2S, f.closeOutputs.tag)
      const s = w.struct(root, f.closeOutputs, N2S_CLOSE_OUTPUTS)
      w.textList(s, N2S_CLOSE_OUTPUTS.fields.outputs, strList(msg.outputs, 'closeOutputs.outputs'))
      break
    }
    case 'log': {
      w.setWhich(root, N2S, f.log.tag)
      const s = w.struct(root, f.log, N2S_LOG)
      w.setU16(s, N2S_LOG.fields.level, enumOrdinal(LOG_LEVELS, msg.level, 'log.level'))
      w.text(s, N2S_LOG.fields.message, str(msg.message, 'log.message'))
      break
    }
    case 'direct-counts': {
      w.setWhich(root, N2S, f.directCounts.tag)
      const s = w.struct(root, f.directCounts, N2S_DIRECT_COUNTS)
      const g = N2S_DIRECT_COUNTS.fields
      w.setU64(s, g.sent, u64(msg.sent, 'directCounts.sent'))
      w.setU64(s, g.received, u64(msg.received, 'directCounts.received'))
      w.setU64(s, g.dropped, u64(msg.dropped, 'directCounts.dropped'))
      writeInputDrops(w, s, g.inputDrops, 'inputDrops', msg.inputDrops ?? [])
      writeInputDrops(w, s, g.linkDrops, 'linkDrops', msg.linkDrops ?? [])
      break
    }
    default:
      throw unencodable(msg)
  }
  return w.finish()
}

/**
 * Decode frame 0 of a message from a custom node. Unknown union variants (a newer node) come
 * back as `{ type: 'unknown', which }` for the caller to ignore.
 *
 * @throws {ProtocolError} for anything that is not a well-formed message of this protocol.
 */
export function decodeNodeToSupervisor(bytes: Uint8Array): NodeToSupervisor {
  return decode(bytes, (r): NodeToSupervisor => {
    const root = r.root()
    const f = N2S.fields
    const which = r.which(root, N2S)
    switch (which) {
      case f.register.tag: {
        const s = r.struct(root, f.register)
        const g = N2S_REGISTER.fields
        const secret = r.text(s, g.secret)
        return {
          type: 'register',
          nodeId: r.text(s, g.nodeId),
          protocolVersion: r.u32(s, g.protocolVersion),
          pid: r.u32(s, g.pid),
          ...(secret === '' ? {} : { secret }),
          ...(r.bool(s, g.directLinks) ? { directLinks: true } : {}),
        }
      }
      case f.output.tag: {
        const s = r.struct(root, f.output)
        const shm = readShared(r, r.struct(s, N2S_OUTPUT.fields.shm))
        const consumedUpTo = r.u64(s, N2S_OUTPUT.fields.consumedUpTo)
        return {
          type: 'output',
          header: readHeader(r, r.struct(s, N2S_OUTPUT.fields.header)),
          sendSeq: r.u64(s, N2S_OUTPUT.fields.sendSeq),
          ...(shm === undefined ? {} : { shm }),
          ...(consumedUpTo === 0n ? {} : { consumedUpTo }),
        }
      }
      case f.next.tag:
        return { type: 'next' }
      case f.credit.tag: {
        const s = r.struct(root, f.credit)
        const heldAtClose = r.u64(s, N2S_CREDIT.fields.heldAtClose)
        return {
          type: 'credit',
          consumedUpTo: r.u64(s, N2S_CREDIT.fields.consumedUpTo),
          window: r.u32(s, N2S_CREDIT.fields.window),
          ...(r.bool(s, N2S_CREDIT.fields.inputBatches) ? { inputBatches: true } : {}),
          ...(heldAtClose === 0n ? {} : { heldAtClose }),
          ...(r.bool(s, N2S_CREDIT.fields.exact) ? { exact: true } : {}),
        }
      }
      case f.closeOutputs.tag:
        return { type: 'close-outputs', outputs: r.textList(r.struct(root, f.closeOutputs), N2S_CLOSE_OUTPUTS.fields.outputs) }
      case f.log.tag: {
        const s = r.struct(root, f.log)
        return {
          type: 'log',
          level: LOG_LEVELS[r.u16(s, N2S_LOG.fields.level)] ?? 'info',
          message: r.text(s, N2S_LOG.fields.message),
        }
      }
      case f.directCounts.tag: {
        const s = r.struct(root, f.directCounts)
        const g = N2S_DIRECT_COUNTS.fields
        const inputDrops = readInputDrops(r, s, g.inputDrops, false)
        const linkDrops = readInputDrops(r, s, g.linkDrops, true)
        return {
          type: 'direct-counts',
          sent: r.u64(s, g.sent),
          received: r.u64(s, g.received),
          dropped: r.u64(s, g.dropped),
          ...(inputDrops.length === 0 ? {} : { inputDrops }),
          ...(linkDrops.length === 0 ? {} : { linkDrops }),
        }
      }
      default:
        return { type: 'unknown', which }
    }
  })
}

/** DirectCounts.inputDrops or .linkDrops (`name`); an empty list is written as a null pointer. */
function writeInputDrops(w: FrameWriter, s: StructWriter, field: PointerField, name: string, drops: readonly InputDrops[]): void {
  if (!Array.isArray(drops)) throw new ProtocolEncodeError(`directCounts.${name} is a ${describeType(drops)}, not an array`)
  if (drops.length === 0) return
  const list = w.structList(s, field, N2S_INPUT_DROPS, drops.length)
  const g = N2S_INPUT_DROPS.fields
  for (let i = 0; i < drops.length; i++) {
    const drop = drops[i] as InputDrops
    const e = list[i] as StructWriter
    w.text(e, g.inputId, str(drop.inputId, `directCounts.${name}[${i}].inputId`))
    w.setU64(e, g.dropped, u64(drop.dropped, `directCounts.${name}[${i}].dropped`))
    if (drop.node !== undefined) w.text(e, g.node, str(drop.node, `directCounts.${name}[${i}].node`))
  }
}

/** DirectCounts.inputDrops or .linkDrops (`withNode`: each names its receiving node). */
function readInputDrops(r: FrameReader, s: StructReader, field: PointerField, withNode: boolean): InputDrops[] {
  const list = r.structList(s, field)
  const drops: InputDrops[] = []
  const e = N2S_INPUT_DROPS.fields
  for (let i = 0; i < list.count; i++) {
    const item = r.element(list, i)
    const drop: InputDrops = { inputId: r.text(item, e.inputId), dropped: r.u64(item, e.dropped) }
    if (withNode) drop.node = r.text(item, e.node)
    drops.push(drop)
  }
  return drops
}
