/**
 * Encode and decode the messages the supervisor sends a custom node (`SupervisorToNode` in
 * src/protocol/schema/supervisor-to-node.capnp): the supervisor encodes them, the node SDK
 * decodes them. Re-exported by `codec.ts`, which says how the codec reads and writes.
 *
 * @module
 */

import { ProtocolEncodeError } from '../errors.js'
import { LAYOUT } from '../struct-layout.js'
import type { DirectInput, DirectRoute, Registration, StopCause, SupervisorToNode, WireInput } from './messages.js'
import { FrameReader, FrameWriter, type StructReader, type StructWriter } from '../wire.js'
import {
  bool,
  decode,
  describeType,
  enumOrdinal,
  readHeader,
  readShared,
  safeNumber,
  str,
  strList,
  u32,
  u64,
  unencodable,
  writeHeader,
  writeShared,
} from './fields.js'

// Enum ordinals, in schema order (common.capnp). An unknown stop cause from a newer
// supervisor decodes to `manual`: a stop is still a stop.
const STOP_CAUSES: readonly StopCause[] = ['manual', 'all-inputs-closed']

const S2N = LAYOUT.SupervisorToNode
const S2N_REGISTRATION = LAYOUT['SupervisorToNode.Registration']
const S2N_REGISTER_REJECTED = LAYOUT['SupervisorToNode.RegisterRejected']
const S2N_DIRECT_INPUT = LAYOUT['SupervisorToNode.DirectInput']
const S2N_DIRECT_ROUTE = LAYOUT['SupervisorToNode.DirectRoute']
const S2N_INPUT = LAYOUT['SupervisorToNode.Input']
const S2N_INPUT_BATCH = LAYOUT['SupervisorToNode.InputBatch']
const S2N_INPUT_CLOSED = LAYOUT['SupervisorToNode.InputClosed']
const S2N_INPUT_RECOVERED = LAYOUT['SupervisorToNode.InputRecovered']
const S2N_OUTPUTS_PAUSED = LAYOUT['SupervisorToNode.OutputsPaused']
const S2N_OUTPUTS_CLOSED = LAYOUT['SupervisorToNode.OutputsClosed']
const S2N_OUTPUTS_TAKEN = LAYOUT['SupervisorToNode.OutputsTaken']
const S2N_STOP = LAYOUT['SupervisorToNode.Stop']
const S2N_ERROR = LAYOUT['SupervisorToNode.Error']
const S2N_NODE_RESTARTED = LAYOUT['SupervisorToNode.NodeRestarted']
const S2N_NODE_FAILED = LAYOUT['SupervisorToNode.NodeFailed']
const HEADER = LAYOUT.MessageHeader
const SHARED = LAYOUT.SharedPayload

/**
 * Encode a message the supervisor sends to a custom node as frame 0 (the payload of an `input`
 * travels as frame 1, untouched).
 *
 * @throws {ProtocolEncodeError} when a field holds a value the schema cannot carry, or the
 * encoded header would exceed `MAX_FRAME_BYTES` (`wire.ts`).
 */
export function encodeSupervisorToNode(msg: SupervisorToNode): Uint8Array {
  if (typeof msg !== 'object' || msg === null) throw new ProtocolEncodeError(`message is a ${describeType(msg)}, not an object`)
  const w = new FrameWriter()
  const root = w.root(S2N)
  const f = S2N.fields
  switch (msg.type) {
    case 'registered': {
      const r = msg.registration
      if (typeof r !== 'object' || r === null) throw new ProtocolEncodeError('registered.registration is not an object')
      w.setWhich(root, S2N, f.registered.tag)
      const s = w.struct(root, f.registered, S2N_REGISTRATION)
      const g = S2N_REGISTRATION.fields
      w.text(s, g.dataflowId, str(r.dataflowId, 'registration.dataflowId'))
      w.text(s, g.dataflowName, str(r.dataflowName, 'registration.dataflowName'))
      w.text(s, g.nodeId, str(r.nodeId, 'registration.nodeId'))
      w.setU32(s, g.restartCount, u32(r.restartCount, 'registration.restartCount'))
      w.textList(s, g.inputs, strList(r.inputs, 'registration.inputs'))
      w.textList(s, g.outputs, strList(r.outputs, 'registration.outputs'))
      w.text(s, g.kvsPath, str(r.kvsPath, 'registration.kvsPath'))
      w.setU64(s, g.kvsMapSize, u64(r.kvsMapSize, 'registration.kvsMapSize'))
      w.text(s, g.kvsNamespace, str(r.kvsNamespace, 'registration.kvsNamespace'))
      w.setBool(s, g.atLeastOnce, bool(r.atLeastOnce, 'registration.atLeastOnce'))
      w.setU64(s, g.maxMessageSize, u64(BigInt(r.maxMessageSize), 'registration.maxMessageSize'))
      w.text(s, g.shmDir, str(r.shmDir, 'registration.shmDir'))
      w.setU64(s, g.shmThreshold, u64(BigInt(r.shmThreshold), 'registration.shmThreshold'))
      w.setBool(s, g.pushInputs, bool(r.pushInputs ?? false, 'registration.pushInputs'))
      w.text(s, g.directEndpoint, str(r.directEndpoint ?? '', 'registration.directEndpoint'))
      writeDirectInputs(w, s, r.directInputs ?? [])
      writeDirectRoutes(w, s, r.directRoutes ?? [])
      w.textList(s, g.directOnly, strList(r.directOnly ?? [], 'registration.directOnly'))
      w.setBool(s, g.restartsWhenDone, bool(r.restartsWhenDone ?? false, 'registration.restartsWhenDone'))
      break
    }
    case 'register-rejected': {
      w.setWhich(root, S2N, f.registerRejected.tag)
      const s = w.struct(root, f.registerRejected, S2N_REGISTER_REJECTED)
      w.text(s, S2N_REGISTER_REJECTED.fields.reason, str(msg.reason, 'registerRejected.reason'))
      break
    }
    case 'input':
      w.setWhich(root, S2N, f.input.tag)
      writeInput(w, w.struct(root, f.input, S2N_INPUT), msg, 'input')
      break
    case 'inputs': {
      const inputs = msg.inputs
      if (!Array.isArray(inputs)) throw new ProtocolEncodeError(`inputs.inputs is a ${describeType(inputs)}, not an array`)
      w.setWhich(root, S2N, f.inputs.tag)
      const list = w.structList(w.struct(root, f.inputs, S2N_INPUT_BATCH), S2N_INPUT_BATCH.fields.inputs, S2N_INPUT, inputs.length)
      for (let i = 0; i < inputs.length; i++) writeInput(w, list[i] as StructWriter, inputs[i] as WireInput, `inputs[${i}]`)
      break
    }
    case 'input-closed': {
      w.setWhich(root, S2N, f.inputClosed.tag)
      const s = w.struct(root, f.inputClosed, S2N_INPUT_CLOSED)
      w.text(s, S2N_INPUT_CLOSED.fields.inputId, str(msg.id, 'inputClosed.id'))
      w.setBool(s, S2N_INPUT_CLOSED.fields.linkClosed, bool(msg.linkClosed ?? false, 'inputClosed.linkClosed'))
      break
    }
    case 'input-recovered': {
      w.setWhich(root, S2N, f.inputRecovered.tag)
      const s = w.struct(root, f.inputRecovered, S2N_INPUT_RECOVERED)
      w.text(s, S2N_INPUT_RECOVERED.fields.inputId, str(msg.id, 'inputRecovered.id'))
      break
    }
    case 'outputs-paused': {
      w.setWhich(root, S2N, f.outputsPaused.tag)
      const s = w.struct(root, f.outputsPaused, S2N_OUTPUTS_PAUSED)
      w.textList(s, S2N_OUTPUTS_PAUSED.fields.outputs, strList(msg.outputs, 'outputsPaused.outputs'))
      break
    }
    case 'outputs-closed': {
      w.setWhich(root, S2N, f.outputsClosed.tag)
      const s = w.struct(root, f.outputsClosed, S2N_OUTPUTS_CLOSED)
      w.textList(s, S2N_OUTPUTS_CLOSED.fields.outputs, strList(msg.outputs, 'outputsClosed.outputs'))
      break
    }
    case 'outputs-taken': {
      w.setWhich(root, S2N, f.outputsTaken.tag)
      const s = w.struct(root, f.outputsTaken, S2N_OUTPUTS_TAKEN)
      w.setU64(s, S2N_OUTPUTS_TAKEN.fields.upTo, u64(msg.upTo, 'outputsTaken.upTo'))
      break
    }
    case 'batch-end':
      w.setWhich(root, S2N, f.batchEnd.tag)
      break
    case 'stop': {
      w.setWhich(root, S2N, f.stop.tag)
      const s = w.struct(root, f.stop, S2N_STOP)
      w.setU16(s, S2N_STOP.fields.cause, enumOrdinal(STOP_CAUSES, msg.cause, 'stop.cause'))
      if (msg.waitingInputs !== undefined && msg.waitingInputs.length > 0)
        w.textList(s, S2N_STOP.fields.waitingInputs, strList(msg.waitingInputs, 'stop.waitingInputs'))
      if (msg.droppedInputs !== undefined && msg.droppedInputs.length > 0)
        w.textList(s, S2N_STOP.fields.droppedInputs, strList(msg.droppedInputs, 'stop.droppedInputs'))
      break
    }
    case 'error': {
      w.setWhich(root, S2N, f.error.tag)
      const s = w.struct(root, f.error, S2N_ERROR)
      w.text(s, S2N_ERROR.fields.message, str(msg.message, 'error.message'))
      break
    }
    case 'node-restarted': {
      w.setWhich(root, S2N, f.nodeRestarted.tag)
      const s = w.struct(root, f.nodeRestarted, S2N_NODE_RESTARTED)
      w.text(s, S2N_NODE_RESTARTED.fields.nodeId, str(msg.nodeId, 'nodeRestarted.nodeId'))
      break
    }
    case 'node-failed': {
      w.setWhich(root, S2N, f.nodeFailed.tag)
      const s = w.struct(root, f.nodeFailed, S2N_NODE_FAILED)
      const g = S2N_NODE_FAILED.fields
      w.text(s, g.nodeId, str(msg.nodeId, 'nodeFailed.nodeId'))
      w.text(s, g.error, str(msg.error, 'nodeFailed.error'))
      w.textList(s, g.affectedInputs, strList(msg.affectedInputs, 'nodeFailed.affectedInputs'))
      break
    }
    default:
      throw unencodable(msg)
  }
  return w.finish()
}

/**
 * Decode frame 0 of a message from the supervisor. Unknown union variants (a newer
 * supervisor) come back as `{ type: 'unknown', which }` for the caller to ignore.
 *
 * @throws {ProtocolError} for anything that is not a well-formed message of this protocol.
 */
export function decodeSupervisorToNode(bytes: Uint8Array): SupervisorToNode {
  return decode(bytes, (r): SupervisorToNode => {
    const root = r.root()
    const f = S2N.fields
    const which = r.which(root, S2N)
    switch (which) {
      case f.registered.tag: {
        const s = r.struct(root, f.registered)
        const g = S2N_REGISTRATION.fields
        return {
          type: 'registered',
          registration: {
            dataflowId: r.text(s, g.dataflowId),
            dataflowName: r.text(s, g.dataflowName),
            nodeId: r.text(s, g.nodeId),
            restartCount: r.u32(s, g.restartCount),
            inputs: r.textList(s, g.inputs),
            outputs: r.textList(s, g.outputs),
            kvsPath: r.text(s, g.kvsPath),
            kvsMapSize: r.u64(s, g.kvsMapSize),
            kvsNamespace: r.text(s, g.kvsNamespace),
            atLeastOnce: r.bool(s, g.atLeastOnce),
            maxMessageSize: safeNumber(r.u64(s, g.maxMessageSize)),
            shmDir: r.text(s, g.shmDir),
            shmThreshold: safeNumber(r.u64(s, g.shmThreshold)),
            ...(r.bool(s, g.pushInputs) ? { pushInputs: true } : {}),
            ...readDirect(r, s),
            ...(r.bool(s, g.restartsWhenDone) ? { restartsWhenDone: true } : {}),
          },
        }
      }
      case f.registerRejected.tag:
        return { type: 'register-rejected', reason: r.text(r.struct(root, f.registerRejected), S2N_REGISTER_REJECTED.fields.reason) }
      case f.input.tag:
        return readInput(r, r.struct(root, f.input))
      case f.inputs.tag: {
        const list = r.structList(r.struct(root, f.inputs), S2N_INPUT_BATCH.fields.inputs)
        const inputs = new Array<WireInput>(list.count)
        for (let i = 0; i < list.count; i++) inputs[i] = readInput(r, r.element(list, i))
        return { type: 'inputs', inputs }
      }
      case f.inputClosed.tag: {
        const s = r.struct(root, f.inputClosed)
        return {
          type: 'input-closed',
          id: r.text(s, S2N_INPUT_CLOSED.fields.inputId),
          ...(r.bool(s, S2N_INPUT_CLOSED.fields.linkClosed) ? { linkClosed: true } : {}),
        }
      }
      case f.inputRecovered.tag:
        return { type: 'input-recovered', id: r.text(r.struct(root, f.inputRecovered), S2N_INPUT_RECOVERED.fields.inputId) }
      case f.outputsPaused.tag:
        return { type: 'outputs-paused', outputs: r.textList(r.struct(root, f.outputsPaused), S2N_OUTPUTS_PAUSED.fields.outputs) }
      case f.outputsClosed.tag:
        return { type: 'outputs-closed', outputs: r.textList(r.struct(root, f.outputsClosed), S2N_OUTPUTS_CLOSED.fields.outputs) }
      case f.outputsTaken.tag:
        return { type: 'outputs-taken', upTo: r.u64(r.struct(root, f.outputsTaken), S2N_OUTPUTS_TAKEN.fields.upTo) }
      case f.batchEnd.tag:
        return { type: 'batch-end' }
      case f.stop.tag: {
        const s = r.struct(root, f.stop)
        const waitingInputs = r.textList(s, S2N_STOP.fields.waitingInputs)
        const droppedInputs = r.textList(s, S2N_STOP.fields.droppedInputs)
        return {
          type: 'stop',
          cause: STOP_CAUSES[r.u16(s, S2N_STOP.fields.cause)] ?? 'manual',
          ...(waitingInputs.length === 0 ? {} : { waitingInputs }),
          ...(droppedInputs.length === 0 ? {} : { droppedInputs }),
        }
      }
      case f.error.tag:
        return { type: 'error', message: r.text(r.struct(root, f.error), S2N_ERROR.fields.message) }
      case f.nodeRestarted.tag:
        return { type: 'node-restarted', nodeId: r.text(r.struct(root, f.nodeRestarted), S2N_NODE_RESTARTED.fields.nodeId) }
      case f.nodeFailed.tag: {
        const s = r.struct(root, f.nodeFailed)
        const g = S2N_NODE_FAILED.fields
        return { type: 'node-failed', nodeId: r.text(s, g.nodeId), error: r.text(s, g.error), affectedInputs: r.textList(s, g.affectedInputs) }
      }
      default:
        return { type: 'unknown', which }
    }
  })
}

/** One Input struct: of an `input` message, or an element of an `inputs` batch. */
function writeInput(w: FrameWriter, s: StructWriter, input: WireInput, what: string): void {
  if (typeof input !== 'object' || input === null) throw new ProtocolEncodeError(`${what} is not an object`)
  w.text(s, S2N_INPUT.fields.inputId, str(input.id, `${what}.id`))
  writeHeader(w, w.struct(s, S2N_INPUT.fields.header, HEADER), input.header)
  if (input.shm !== undefined) writeShared(w, w.struct(s, S2N_INPUT.fields.shm, SHARED), input.shm, `${what}.shm`)
}

function readInput(r: FrameReader, s: StructReader): WireInput {
  const shm = readShared(r, r.struct(s, S2N_INPUT.fields.shm))
  return {
    type: 'input',
    id: r.text(s, S2N_INPUT.fields.inputId),
    header: readHeader(r, r.struct(s, S2N_INPUT.fields.header)),
    ...(shm === undefined ? {} : { shm }),
  }
}

/** Registration.directInputs; an empty list is written as a null pointer. */
function writeDirectInputs(w: FrameWriter, s: StructWriter, inputs: readonly DirectInput[]): void {
  if (!Array.isArray(inputs)) throw new ProtocolEncodeError(`registration.directInputs is a ${describeType(inputs)}, not an array`)
  if (inputs.length === 0) return
  const list = w.structList(s, S2N_REGISTRATION.fields.directInputs, S2N_DIRECT_INPUT, inputs.length)
  const g = S2N_DIRECT_INPUT.fields
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] as DirectInput
    const e = list[i] as StructWriter
    w.text(e, g.inputId, str(input.inputId, `registration.directInputs[${i}].inputId`))
    w.setU32(e, g.queueSize, u32(input.queueSize, `registration.directInputs[${i}].queueSize`))
    w.text(e, g.senderNode, str(input.senderNode, `registration.directInputs[${i}].senderNode`))
    w.text(e, g.outputId, str(input.outputId, `registration.directInputs[${i}].outputId`))
    w.text(e, g.logDir, str(input.logDir ?? '', `registration.directInputs[${i}].logDir`))
    w.text(e, g.cursorName, str(input.cursorName ?? '', `registration.directInputs[${i}].cursorName`))
  }
}

/** Registration.directRoutes; an empty list is written as a null pointer. */
function writeDirectRoutes(w: FrameWriter, s: StructWriter, routes: readonly DirectRoute[]): void {
  if (!Array.isArray(routes)) throw new ProtocolEncodeError(`registration.directRoutes is a ${describeType(routes)}, not an array`)
  if (routes.length === 0) return
  const list = w.structList(s, S2N_REGISTRATION.fields.directRoutes, S2N_DIRECT_ROUTE, routes.length)
  const g = S2N_DIRECT_ROUTE.fields
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i] as DirectRoute
    const e = list[i] as StructWriter
    const what = `registration.directRoutes[${i}]`
    w.text(e, g.outputId, str(route.outputId, `${what}.outputId`))
    w.text(e, g.receiverNode, str(route.receiverNode, `${what}.receiverNode`))
    w.text(e, g.endpoint, str(route.endpoint, `${what}.endpoint`))
    w.text(e, g.inputId, str(route.inputId, `${what}.inputId`))
    w.setU32(e, g.queueSize, u32(route.queueSize, `${what}.queueSize`))
    w.text(e, g.logDir, str(route.logDir ?? '', `${what}.logDir`))
    w.text(e, g.cursorName, str(route.cursorName ?? '', `${what}.cursorName`))
  }
}

/** The best-effort fields of a registration, only those set (an older supervisor sets none). */
function readDirect(r: FrameReader, s: StructReader): Pick<Registration, 'directEndpoint' | 'directInputs' | 'directRoutes' | 'directOnly'> {
  const g = S2N_REGISTRATION.fields
  const endpoint = r.text(s, g.directEndpoint)
  const inputList = r.structList(s, g.directInputs)
  const inputs: DirectInput[] = []
  const f = S2N_DIRECT_INPUT.fields
  for (let i = 0; i < inputList.count; i++) {
    const e = r.element(inputList, i)
    const logDir = r.text(e, f.logDir)
    inputs.push({
      inputId: r.text(e, f.inputId),
      queueSize: r.u32(e, f.queueSize),
      senderNode: r.text(e, f.senderNode),
      outputId: r.text(e, f.outputId),
      ...(logDir === '' ? {} : { logDir, cursorName: r.text(e, f.cursorName) }),
    })
  }
  const routeList = r.structList(s, g.directRoutes)
  const routes: DirectRoute[] = []
  const h = S2N_DIRECT_ROUTE.fields
  for (let i = 0; i < routeList.count; i++) {
    const e = r.element(routeList, i)
    const logDir = r.text(e, h.logDir)
    routes.push({
      outputId: r.text(e, h.outputId),
      receiverNode: r.text(e, h.receiverNode),
      endpoint: r.text(e, h.endpoint),
      inputId: r.text(e, h.inputId),
      queueSize: r.u32(e, h.queueSize),
      ...(logDir === '' ? {} : { logDir, cursorName: r.text(e, h.cursorName) }),
    })
  }
  const only = r.textList(s, g.directOnly)
  return {
    ...(endpoint === '' ? {} : { directEndpoint: endpoint }),
    ...(inputs.length === 0 ? {} : { directInputs: inputs }),
    ...(routes.length === 0 ? {} : { directRoutes: routes }),
    ...(only.length === 0 ? {} : { directOnly: only }),
  }
}
