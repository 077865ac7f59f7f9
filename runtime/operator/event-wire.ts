/**
 * How events travel from an operator's host to its worker: an input as one flat array instead
 * of an event object holding a header object. Structured clone writes every property name of
 * every object it copies; for a small input that was most of the cost of posting it (an event
 * object cost ~20 us to post on a loaded 2-core machine, the same fields as one flat array
 * ~15 us, and 16 of them in one post ~3-7 us each). Control events are rare and go as they are.
 * Runs on both sides (the worker imports it): pure functions, no imports but types.
 */
import type { ControlEvent, DeliveredEvent, DoraEvent, MetadataValue } from '../../src/events.js'

/**
 * An input, flattened: input id, payload, then the header's fields the operator sees
 * (the dataflow id is the worker's own), the parameters last (undefined when there are none).
 */
export type WireInput = [
  id: string,
  data: Uint8Array,
  senderNode: string,
  senderOperator: string,
  outputId: string,
  sequence: bigint,
  timestampNs: bigint,
  encoding: string,
  messageId: string,
  redelivered: boolean,
  parameters: Record<string, MetadataValue> | undefined,
]

/** One event as posted to the worker: an input flattened, any other kind as it is. */
export type WireEvent = WireInput | ControlEvent

/** The host's form of `event` as it crosses to the worker. */
export function toWire(event: DeliveredEvent): WireEvent {
  if (event.type !== 'input') return event
  const { header } = event
  return [
    event.id,
    event.data,
    header.senderNode,
    header.senderOperator,
    header.outputId,
    header.sequence,
    header.timestampNs,
    header.encoding,
    header.messageId,
    header.redelivered,
    hasKeys(header.metadata) ? header.metadata : undefined,
  ]
}

/** Whether `record` has a property of its own (without allocating a list of its keys). */
function hasKeys(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true
  return false
}

/** The user's form of an event posted by {@link toWire} (the one the handlers get). */
export function fromWire(wire: WireEvent): DoraEvent {
  if (!Array.isArray(wire)) return wire
  const [id, data, senderNode, senderOperator, outputId, sequence, timestampNs, encoding, messageId, redelivered, parameters] = wire
  return {
    type: 'input',
    id,
    data,
    metadata: { senderNode, senderOperator, outputId, sequence, timestampNs, encoding, parameters: parameters ?? {}, messageId, redelivered },
  }
}

/**
 * A batch of events as posted to the worker. Small inputs are packed into one buffer
 * (`packed`, transferred): structured clone pays for every array, typed array, string and
 * bigint it copies, ~3 us per flat input on the routing thread in the 8 B stream's profile
 * (ten fields, one of them a typed array with a buffer of its own), where writing the same
 * fields into one buffer costs a fraction of that, and the worker, idle most of the time,
 * does the unpacking. The strings an input repeats (input id, sender, output, encoding) go
 * once per batch into `strings`. Control events, inputs with parameters and inputs whose
 * bytes are transferred stay in `events`, as {@link toWire} makes them; `packed` says where
 * each of them comes in the order.
 */
export interface WireBatch {
  type: 'events'
  /** The events not packed, in order. */
  events: WireEvent[]
  /** Records in order: {@link TAG_EVENT} (take the next of `events`) or a packed input. Absent when nothing is packed. */
  packed?: ArrayBuffer
  /** The strings the packed inputs refer to by index. */
  strings?: string[]
  /** Buffers of committed state values handed back for the worker's next ones (state-buffers.ts). */
  recycled?: ArrayBuffer[]
}

/** Record tags in {@link WireBatch.packed}. */
const TAG_EVENT = 0
const TAG_INPUT = 1
/** A packed input's fixed part: tag, 6 string indexes (u32), sequence and timestamp (u64), redelivered, payload length (u32). */
const INPUT_HEAD = 1 + 6 * 4 + 2 * 8 + 1 + 4
const U64_MAX = 0xffff_ffff_ffff_ffffn

/** Whether `event` can be packed: an input without parameters whose numbers fit 64 bits. */
function packable(event: DeliveredEvent): event is Extract<DeliveredEvent, { type: 'input' }> {
  if (event.type !== 'input') return false
  const { header } = event
  return header.sequence >= 0n && header.sequence <= U64_MAX && header.timestampNs >= 0n && header.timestampNs <= U64_MAX && !hasKeys(header.metadata)
}

/**
 * The batch to post for `events` (in order); `moved[i]` says the bytes of `events[i]` are
 * transferred (they stay out of the packed buffer). Returns the message and the buffer to add
 * to the transfer list (the packed one), if any.
 */
export function packEvents(events: readonly DeliveredEvent[], moved: readonly boolean[]): { batch: WireBatch; packed: ArrayBuffer | undefined } {
  let size = 0
  let packedInputs = 0
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as DeliveredEvent
    if (moved[i] !== true && packable(event)) {
      size += INPUT_HEAD + event.data.byteLength
      packedInputs++
    } else size += 1
  }
  const rest: WireEvent[] = []
  if (packedInputs === 0) {
    for (const event of events) rest.push(toWire(event))
    return { batch: { type: 'events', events: rest }, packed: undefined }
  }
  const buffer = new ArrayBuffer(size)
  const bytes = new Uint8Array(buffer)
  const view = new DataView(buffer)
  const strings: string[] = []
  const index = new Map<string, number>()
  const intern = (s: string): number => {
    let n = index.get(s)
    if (n === undefined) {
      n = strings.push(s) - 1
      index.set(s, n)
    }
    return n
  }
  let at = 0
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as DeliveredEvent
    if (moved[i] === true || !packable(event)) {
      rest.push(toWire(event))
      bytes[at++] = TAG_EVENT
      continue
    }
    const { header, data } = event
    bytes[at] = TAG_INPUT
    view.setUint32(at + 1, intern(event.id), true)
    view.setUint32(at + 5, intern(header.senderNode), true)
    view.setUint32(at + 9, intern(header.senderOperator), true)
    view.setUint32(at + 13, intern(header.outputId), true)
    view.setUint32(at + 17, intern(header.encoding), true)
    // Unique per input: no point looking it up.
    view.setUint32(at + 21, strings.push(header.messageId) - 1, true)
    view.setBigUint64(at + 25, header.sequence, true)
    view.setBigUint64(at + 33, header.timestampNs, true)
    bytes[at + 41] = header.redelivered ? 1 : 0
    view.setUint32(at + 42, data.byteLength, true)
    bytes.set(data, at + INPUT_HEAD)
    at += INPUT_HEAD + data.byteLength
  }
  return { batch: { type: 'events', events: rest, packed: buffer, strings }, packed: buffer }
}

/**
 * The user's form of every event of a batch made by {@link packEvents}, in order. Each packed
 * input gets a buffer of its own (a copy out of the batch): a handler may keep, transfer or
 * send its input's bytes without touching the other inputs of the batch.
 */
export function unpackEvents(batch: WireBatch): DoraEvent[] {
  const out: DoraEvent[] = []
  const { packed, events } = batch
  if (packed === undefined) {
    for (const wire of events) out.push(fromWire(wire))
    return out
  }
  const strings = batch.strings ?? []
  const view = new DataView(packed)
  const bytes = new Uint8Array(packed)
  const str = (at: number): string => strings[view.getUint32(at, true)] ?? ''
  let next = 0
  for (let at = 0; at < packed.byteLength;) {
    if (bytes[at] === TAG_EVENT) {
      out.push(fromWire(events[next++] as WireEvent))
      at++
      continue
    }
    const length = view.getUint32(at + 42, true)
    const start = at + INPUT_HEAD
    out.push({
      type: 'input',
      id: str(at + 1),
      data: new Uint8Array(packed.slice(start, start + length)),
      metadata: {
        senderNode: str(at + 5),
        senderOperator: str(at + 9),
        outputId: str(at + 13),
        sequence: view.getBigUint64(at + 25, true),
        timestampNs: view.getBigUint64(at + 33, true),
        encoding: str(at + 17),
        parameters: {},
        messageId: str(at + 21),
        redelivered: bytes[at + 41] === 1,
      },
    })
    at = start + length
  }
  return out
}
