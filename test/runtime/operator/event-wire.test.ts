/**
 * The flat form of an input posted to an operator's worker must give the handler exactly what
 * toDoraEvent gives (the one conversion the node SDK uses), through a real structured clone.
 */
import t from 'tap'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'
import { toDoraEvent, type DeliveredEvent, type MessageHeader } from '../../../src/events.js'
import { fromWire, toWire, type WireEvent } from '../../../runtime/operator/event-wire.js'

function input(metadata: MessageHeader['metadata'], redelivered = false): DeliveredEvent {
  const header: MessageHeader = {
    dataflowId: 'df',
    senderNode: 'camera',
    senderOperator: 'grab',
    outputId: 'frame',
    sequence: 42n,
    timestampNs: 1_764_000_000_123_456_789n,
    metadata,
    encoding: 'f32',
    messageId: '17.2',
    redelivered,
  }
  return { type: 'input', id: 'image', header, data: new Uint8Array([1, 2, 3, 4]) }
}

/** `events` as the worker receives them: through a real structured clone. */
function cloned(events: WireEvent[]): WireEvent[] {
  const { port1, port2 } = new MessageChannel()
  try {
    port1.postMessage(events)
    return (receiveMessageOnPort(port2) as { message: WireEvent[] }).message
  } finally {
    port1.close()
  }
}

t.test('an input crosses as one flat array and reaches the handler as toDoraEvent makes it', async (t) => {
  const parameters = { width: 640, id: 7n, ok: true, tag: 'x', raw: new Uint8Array([9]) }
  const events = [input({}), input(parameters, true)]
  const wire = cloned(events.map(toWire))
  t.ok(
    wire.every((w) => Array.isArray(w)),
    'no event object, no header object',
  )
  t.same(wire.map(fromWire), events.map(toDoraEvent))
  t.same(
    (fromWire(wire[0] as WireEvent) as { metadata: object }).metadata,
    {
      senderNode: 'camera',
      senderOperator: 'grab',
      outputId: 'frame',
      sequence: 42n,
      timestampNs: 1_764_000_000_123_456_789n,
      encoding: 'f32',
      parameters: {},
      messageId: '17.2',
      redelivered: false,
    },
    'no parameters: an empty record, as the header had',
  )
})

t.test('control events cross as they are', async (t) => {
  const events: DeliveredEvent[] = [
    { type: 'input-closed', id: 'image' },
    { type: 'stop', cause: 'manual' },
    { type: 'node-failed', nodeId: 'camera', error: 'boom', affectedInputs: ['image'] },
  ]
  t.same(cloned(events.map(toWire)).map(fromWire), events)
})
