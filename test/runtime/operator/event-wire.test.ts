/**
 * The flat form of an input posted to an operator's worker must give the handler exactly what
 * toDoraEvent gives (the one conversion the node SDK uses), through a real structured clone.
 */
import t from 'tap'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'
import { toDoraEvent, type DeliveredEvent, type MessageHeader } from '../../../src/events.js'
import { fromWire, packEvents, toWire, unpackEvents, type WireBatch, type WireEvent } from '../../../runtime/operator/event-wire.js'

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

/** A batch as the worker receives it: through a real structured clone, the packed buffer transferred. */
function posted(events: DeliveredEvent[], moved: boolean[] = []): { batch: WireBatch; packed: ArrayBuffer | undefined } {
  const { batch, packed } = packEvents(events, moved)
  const { port1, port2 } = new MessageChannel()
  try {
    port1.postMessage(batch, packed === undefined ? [] : [packed])
    return { batch: (receiveMessageOnPort(port2) as { message: WireBatch }).message, packed }
  } finally {
    port1.close()
  }
}

t.test('a batch packs small inputs into one buffer and keeps the order of every event', async (t) => {
  const big = { ...input({}), data: new Uint8Array(20_000).fill(7) }
  const plain = input({}) as Extract<DeliveredEvent, { type: 'input' }>
  const unicode: DeliveredEvent = { ...plain, id: 'bild-ü', header: { ...plain.header, senderNode: 'kamera-ö', messageId: 'i3.0' } }
  const events: DeliveredEvent[] = [
    input({}),
    { type: 'input-closed', id: 'image' },
    input({ width: 640 }),
    { ...input({}, true), data: new Uint8Array(0) },
    big,
    unicode,
    { type: 'stop', cause: 'manual' },
  ]
  const { batch, packed } = posted(events, [false, false, false, false, true, false, false])
  t.ok(packed, 'a packed buffer')
  t.equal(batch.events.length, 4, 'packed: the three inputs without parameters that are copied; the rest as they were')
  t.same(unpackEvents(batch), events.map(toDoraEvent))
})

t.test('each unpacked input owns its bytes: transferring one leaves the others intact', async (t) => {
  const a = { ...input({}), data: new Uint8Array([1, 1, 1]) }
  const b = { ...input({}), data: new Uint8Array([2, 2]) }
  const [first, second] = unpackEvents(posted([a, b]).batch) as Array<{ data: Uint8Array }>
  t.equal(first?.data.byteLength, first?.data.buffer.byteLength, 'a buffer of its own')
  structuredClone(first?.data.buffer, { transfer: [first?.data.buffer as ArrayBuffer] })
  t.same([...(second?.data ?? [])], [2, 2])
})

t.test('a batch with nothing to pack is the flat events alone', async (t) => {
  const events: DeliveredEvent[] = [{ type: 'stop', cause: 'manual' }, input({ width: 1 })]
  const { batch, packed } = posted(events)
  t.equal(packed, undefined)
  t.equal(batch.packed, undefined)
  t.same(unpackEvents(batch), events.map(toDoraEvent))
})
