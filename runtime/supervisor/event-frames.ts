/**
 * The ZeroMQ messages that carry a custom node's events. One event per message, except runs of
 * inputs to a node that reads batches (NodeToSupervisor.Credit.inputBatches): up to
 * {@link MAX_INPUTS_PER_MESSAGE} of them share one `inputs` message, frame 0 the headers, then
 * one frame per payload, still the payload's own bytes (never copied into the header frame).
 * What pays is the per-message cost on both sides: one socket send here, one receive, one
 * decode and one wake-up of the node's loop for the whole run instead of one each.
 *
 * @module
 */
import { ProtocolEncodeError } from '../../src/protocol/errors.js'
import { encodeSupervisorToNode } from '../../src/protocol/node/codec.js'
import type { WireInput } from '../../src/protocol/node/messages.js'
import type { DeliveredEvent, InputDelivery } from '../../src/events.js'
import type { Frames } from '../../src/transport/send-queue.js'

/**
 * Most inputs in one message: the headers of a full push window in a few messages, and a
 * header frame far below MAX_FRAME_BYTES with ordinary metadata.
 */
export const MAX_INPUTS_PER_MESSAGE = 64

/** The messages carrying `events`, in order; `batch`: runs of inputs may share one. */
export function eventFrames(events: readonly DeliveredEvent[], batch: boolean): Frames[] {
  const out: Frames[] = []
  let run: InputDelivery[] = []
  const flush = (): void => {
    if (run.length === 1) out.push(inputFrames(run[0]!))
    else if (run.length > 1) out.push(...batchFrames(run))
    run = []
  }
  for (const event of events) {
    if (event.type === 'input' && batch) {
      run.push(event)
      if (run.length === MAX_INPUTS_PER_MESSAGE) flush()
      continue
    }
    flush()
    out.push(event.type === 'input' ? inputFrames(event) : [encodeSupervisorToNode(event)])
  }
  flush()
  return out
}

/** One input: the header message, then the payload as its own frame unless it is in shared memory. */
function inputFrames(event: InputDelivery): Frames {
  const head = encodeSupervisorToNode(wireInput(event))
  return event.shm === undefined ? [head, event.data] : [head]
}

/**
 * Several inputs in one message; if their headers do not fit one frame (huge metadata), one
 * message each, as a node that reads no batches gets them.
 */
function batchFrames(run: readonly InputDelivery[]): Frames[] {
  let head: Uint8Array
  try {
    head = encodeSupervisorToNode({ type: 'inputs', inputs: run.map(wireInput) })
  } catch (err) {
    if (!(err instanceof ProtocolEncodeError)) throw err
    return run.map(inputFrames)
  }
  const frames: Uint8Array[] = [head]
  for (const event of run) if (event.shm === undefined) frames.push(event.data)
  return [frames]
}

/** The input as the wire carries it: its payload goes as a frame, or by shared-memory name. */
function wireInput(event: InputDelivery): WireInput {
  return event.shm === undefined ? { type: 'input', id: event.id, header: event.header } : { type: 'input', id: event.id, header: event.header, shm: event.shm }
}
