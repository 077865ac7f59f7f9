/**
 * The frames a {@link Node} exchanges with its supervisor once connected, outside the class:
 * an output's frames, and an input's event out of its frames. Node.ts keeps the state; this
 * module only shapes bytes.
 *
 * @module
 */
import { decodeSupervisorToNode, encodeNodeToSupervisor } from '../src/protocol/node/codec.js'
import type { SharedPayload, SupervisorToNode, WireInput } from '../src/protocol/node/messages.js'
import { toDoraEvent, type MessageHeader } from '../src/events.js'
import { errorMessage } from '../src/errors.js'
import type { DoraEvent } from './events.js'
import { readShared } from './shm.js'

const EMPTY = new Uint8Array(0)

/** Frame 0 of a message from the supervisor; undefined (said on stderr) if it does not decode. */
export function decodeOrSay(head: Buffer | undefined, nodeId: string): SupervisorToNode | undefined {
  if (head === undefined) return undefined
  try {
    return decodeSupervisorToNode(head)
  } catch (err) {
    process.stderr.write(`dora-ts: node "${nodeId}" dropped an undecodable message: ${errorMessage(err)}\n`)
    return undefined
  }
}

/** The supervisor's messages that are events of the node (numbered in push mode). */
export function isEvent(message: SupervisorToNode): boolean {
  switch (message.type) {
    case 'input':
    case 'input-closed':
    case 'input-recovered':
    case 'stop':
    case 'error':
    case 'node-restarted':
    case 'node-failed':
      return true
    default:
      return false
  }
}

/**
 * The frames of an output: the header, then the payload unless it is in shared memory.
 * `consumedUpTo`: push mode's consumption report, carried along.
 */
export function outputFrames(header: MessageHeader, sendSeq: bigint, data: Uint8Array, shm: SharedPayload | undefined, consumedUpTo?: bigint): Uint8Array[] {
  const head = encodeNodeToSupervisor({
    type: 'output',
    header,
    sendSeq,
    ...(shm === undefined ? {} : { shm }),
    ...(consumedUpTo === undefined ? {} : { consumedUpTo }),
  })
  return shm === undefined ? [head, data] : [head]
}

/**
 * The event of an `input` message and its payload frame (undefined: no frame, read as empty).
 * A shared-memory payload is read now: the segment lives until this node says it consumed the
 * input. Undefined when that read fails (said on stderr): the input is dropped.
 */
export function inputEvent(message: WireInput, payload: Buffer | undefined, shmDir: string, nodeId: string): DoraEvent | undefined {
  const { shm, ...input } = message
  const data = inputData(shm, payload, shmDir, nodeId, message.id)
  return data === undefined ? undefined : toDoraEvent({ ...input, data })
}

/**
 * An input's bytes: its shared-memory segment read now, else its payload frame (undefined: no
 * frame, read as empty). Undefined when the segment cannot be read (said on stderr).
 */
export function inputData(
  shm: SharedPayload | undefined,
  payload: Buffer | undefined,
  shmDir: string,
  nodeId: string,
  inputId: string,
): Uint8Array | undefined {
  if (shm === undefined) return payload === undefined ? EMPTY : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
  try {
    return readShared(shmDir, shm)
  } catch (err) {
    process.stderr.write(`dora-ts: node "${nodeId}" could not read the shared-memory payload of input "${inputId}": ${errorMessage(err)}; dropped\n`)
    return undefined
  }
}
