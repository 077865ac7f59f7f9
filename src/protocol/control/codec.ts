/**
 * Encode/decode of the control plane (src/protocol/schema/control.capnp): requests from the CLI to a
 * supervisor daemon and its replies. Same reader/writer as the node protocol, so a malformed
 * frame from anything that connects to the control socket is a ProtocolError, never a crash.
 */
import type { DataField, PointerField, StructLayout } from '../struct-layout.js'
import { FrameReader, FrameWriter } from '../wire.js'
import { ProtocolEncodeError, ProtocolError } from '../errors.js'
import { errorMessage } from '../../errors.js'

/** Field positions as `capnp compile -ocapnp src/protocol/schema/control.capnp` prints them (checked by a test). */
export const CONTROL_LAYOUT = {
  ControlRequest: { bytes: 8, ptrs: 2, fields: { id: { bits: 0, width: 64 }, command: { ptr: 0 }, body: { ptr: 1 } } },
  ControlReply: {
    bytes: 16,
    ptrs: 1,
    tagBits: 64,
    fields: { id: { bits: 0, width: 64 }, ok: { ptr: 0, tag: 0 }, error: { ptr: 0, tag: 1 } },
  },
  'ControlReply.Error': { bytes: 0, ptrs: 3, fields: { code: { ptr: 0 }, message: { ptr: 1 }, hint: { ptr: 2 } } },
} as const satisfies Record<string, StructLayout>

export interface ControlRequest {
  id: bigint
  command: string
  /** JSON arguments. */
  body: string
}

export type ControlReply =
  | { id: bigint; type: 'ok'; body: string }
  | { id: bigint; type: 'error'; code: string; message: string; hint: string }
  | { id: bigint; type: 'unknown'; which: number }

const REQ = CONTROL_LAYOUT.ControlRequest
const REPLY = CONTROL_LAYOUT.ControlReply
const ERR = CONTROL_LAYOUT['ControlReply.Error']

export function encodeControlRequest(req: ControlRequest): Uint8Array {
  const w = new FrameWriter()
  const root = w.root(REQ)
  w.setU64(root, REQ.fields.id as DataField, checkU64(req.id))
  w.text(root, REQ.fields.command as PointerField, req.command)
  w.text(root, REQ.fields.body as PointerField, req.body)
  return w.finish()
}

export function decodeControlRequest(bytes: Uint8Array): ControlRequest {
  return decode(bytes, (r) => {
    const root = r.root()
    return { id: r.u64(root, REQ.fields.id), command: r.text(root, REQ.fields.command), body: r.text(root, REQ.fields.body) }
  })
}

export function encodeControlReply(reply: ControlReply): Uint8Array {
  const w = new FrameWriter()
  const root = w.root(REPLY)
  w.setU64(root, REPLY.fields.id, checkU64(reply.id))
  switch (reply.type) {
    case 'ok':
      w.setWhich(root, REPLY, REPLY.fields.ok.tag)
      w.text(root, REPLY.fields.ok, reply.body)
      break
    case 'error': {
      w.setWhich(root, REPLY, REPLY.fields.error.tag)
      const e = w.struct(root, REPLY.fields.error, ERR)
      w.text(e, ERR.fields.code, reply.code)
      w.text(e, ERR.fields.message, reply.message)
      w.text(e, ERR.fields.hint, reply.hint)
      break
    }
    default:
      throw new ProtocolEncodeError(`cannot encode a control reply of type ${String((reply as { type: unknown }).type)}`)
  }
  return w.finish()
}

export function decodeControlReply(bytes: Uint8Array): ControlReply {
  return decode(bytes, (r): ControlReply => {
    const root = r.root()
    const id = r.u64(root, REPLY.fields.id)
    const which = r.which(root, REPLY)
    if (which === REPLY.fields.ok.tag) return { id, type: 'ok', body: r.text(root, REPLY.fields.ok) }
    if (which === REPLY.fields.error.tag) {
      const e = r.struct(root, REPLY.fields.error)
      return { id, type: 'error', code: r.text(e, ERR.fields.code), message: r.text(e, ERR.fields.message), hint: r.text(e, ERR.fields.hint) }
    }
    return { id, type: 'unknown', which }
  })
}

function decode<R>(bytes: Uint8Array, read: (r: FrameReader) => R): R {
  try {
    return read(new FrameReader(bytes))
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    /* c8 ignore next -- wire.ts checks bounds before every read; this is the safety net */
    throw new ProtocolError(`malformed control message: ${errorMessage(err)}`, { cause: err })
  }
}

function checkU64(value: bigint): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) throw new ProtocolEncodeError(`control id must be a u64 bigint, got ${String(value)}`)
  return value
}
