/**
 * The outbox: messages between operators that a committed event produced and their receiver
 * has not committed yet. They live in the named database `__outbox__` of the dataflow's state
 * environment, so the producing event writes them in the same transaction as its state, and
 * the consuming event deletes its input's entry in the same transaction as its own state:
 * a message between operators is never lost (it stays until consumed) and never consumed
 * twice (its consumption and the consumer's state commit together). On start, every entry
 * left is replayed into its receiver's inbox. An operator's messages to a custom node are
 * kept here too, until the node asks for its next batch: at-least-once (a node that dies
 * before that, or a supervisor that dies, gets them again; the node dedups by messageId).
 *
 * ```
 * __outbox__  <receiver>\0<input>\0<sender>\0<order>      ->  u32 header length, header JSON, payload
 *             <receiver>\0<input>\0<sender>\0<order>\0d  ->  payload (only when SPLIT_BYTES or more)
 *             <receiver>\0<input>\0<sender>\0<order>\0s  ->  segment reference (instead of \0d)
 * ```
 * A payload of the segment threshold or more is not in LMDB at all: it is a segment file the
 * store owns, and the entry holds its name and size (segments.ts).
 * A large payload is its own value, written straight from the buffer the worker transferred:
 * copying it behind its header would allocate a fresh buffer of its size per message, and on
 * a loaded VM touching fresh memory costs ~10 ms per MB (page faults), far more than LMDB's
 * write. The data key sorts right after its header's key, so a range scan meets them in turn.
 * `<order>` sorts a sender's messages in the order it committed them: the hex event number,
 * then `e` and the hex output index for an event's outputs, or `i`, the hex launch number and
 * index for outputs of init()/restoreState (which follow the event committed before them).
 *
 * @module
 */
import { asBuffer } from '../../bytes.js'
import type { MessageHeader, MetadataValue } from '../../events.js'

/** Named database of the outbox in the state environment. */
export const OUTBOX_DB = '__outbox__'

const SEP = '\0'
/** Suffix of the key of a payload stored apart from its header. */
const DATA_SUFFIX = `${SEP}d`
/** Suffix of the key of the segment reference of a payload kept as a file. */
const SEGMENT_SUFFIX = `${SEP}s`
/** Payloads of this size or more are stored under their own key (see the module comment). */
export const SPLIT_BYTES = 16 * 1024

/** One message in the outbox. */
export interface OutboxEntry {
  key: Buffer
  receiver: string
  inputId: string
  sender: string
  order: string
  header: MessageHeader
  data: Uint8Array
}

/** One entry to add to the outbox. */
export interface OutboxPut {
  key: Buffer
  value: Buffer
  /**
   * The payload, when it is stored apart from its header: under its own key ({@link dataKey}),
   * or, from the segment threshold up, as a segment file the store writes. Puts of one message
   * to several receivers share this buffer (and so one segment).
   */
  data?: Buffer | undefined
  /**
   * Instead of `data`: the payload is this file (a custom node's shared-memory segment), which
   * the store adopts as its segment without copying, or reads when it cannot (see segments.ts).
   * `owned`: a file an operator's worker staged for the store (SegmentFiles.take): kept
   * where it is, or read and removed when it cannot be. `segment`: set by the commit that puts
   * it, the name of the segment an owned file became (undefined: its bytes went into LMDB).
   */
  file?: { path: string; size: number; owned?: boolean | undefined; segment?: string | undefined } | undefined
}

/** Outbox changes committed with an event: entries to add, keys to delete. */
export interface OutboxChange {
  put: OutboxPut[]
  remove: Buffer[]
  /**
   * Keys to delete whose entries are known to hold their payload behind the header (an
   * operator's message under {@link SPLIT_BYTES}): no payload key or segment to look for.
   */
  removeInline?: Buffer[] | undefined
  /**
   * Keys to delete whose entries are known to reference segment `name` (an operator's staged
   * payload, put in this process: OutboxPut.file.segment): no payload key, and no read of the
   * reference to learn its name.
   */
  removeSegment?: Array<{ key: Buffer; name: string }> | undefined
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0')
}

/** Sort key of output `index` of event `eventNo`. */
export function eventOrder(eventNo: number, index: number): string {
  return `${hex(eventNo, 13)}e${hex(index, 8)}`
}

/** Sort key of output `index` sent by init()/restoreState at launch `launchNo`, after event `lastEvent`. */
export function initOrder(lastEvent: number, launchNo: number, index: number): string {
  return `${hex(lastEvent, 13)}i${hex(launchNo, 8)}.${hex(index, 8)}`
}

/** Key of a message for `receiver`'s input `inputId` from `sender` (`node/operator`). */
export function outboxKey(receiver: string, inputId: string, sender: string, order: string): Buffer {
  return Buffer.from(`${receiver}${SEP}${inputId}${SEP}${sender}${SEP}${order}`, 'utf8')
}

/** Key of the payload of the entry `key` when it is stored apart ({@link SPLIT_BYTES}). */
export function dataKey(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from(DATA_SUFFIX, 'latin1')])
}

/** Key of the segment reference of the entry `key` (its payload is a segment file). */
export function segmentKey(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from(SEGMENT_SUFFIX, 'latin1')])
}

/** Whether `key` is the key of a payload stored apart. */
export function isDataKey(key: Buffer): boolean {
  return endsWithSuffix(key, DATA_SUFFIX)
}

/** Whether `key` is the key of a segment reference. */
export function isSegmentKey(key: Buffer): boolean {
  return endsWithSuffix(key, SEGMENT_SUFFIX)
}

/** Whether `key` ends with `suffix` (the separator and one ASCII letter). */
function endsWithSuffix(key: Buffer, suffix: string): boolean {
  return key.length >= 2 && key[key.length - 2] === suffix.charCodeAt(0) && key[key.length - 1] === suffix.charCodeAt(1)
}

/** The sender and sort key of the entry `key` (they name its segment: segments.ts). */
export function senderAndOrder(key: Buffer): { sender: string; order: string } | undefined {
  const parts = key.toString('utf8').split(SEP)
  if (parts.length !== 4) return undefined
  return { sender: parts[2] as string, order: parts[3] as string }
}

/** First and past-the-last key of `receiver`'s entries. */
export function receiverRange(receiver: string): { start: Buffer; end: Buffer } {
  return { start: Buffer.from(`${receiver}${SEP}`, 'utf8'), end: Buffer.from(`${receiver}\u0001`, 'utf8') }
}

interface HeaderJson {
  senderNode: string
  senderOperator: string
  outputId: string
  sequence: string
  timestampNs: string
  /** Each value tagged with its type, so bigints and bytes come back as they were. */
  metadata: Array<[string, TaggedValue]>
  encoding: string
  messageId: string
  /** The payload is under its own key (dataKey), not after the header. */
  split?: true
}

type TaggedValue = { s: string } | { n: number } | { b: boolean } | { i: string } | { u: string }

function tag(value: MetadataValue): TaggedValue {
  if (typeof value === 'string') return { s: value }
  if (typeof value === 'number') return { n: value }
  if (typeof value === 'boolean') return { b: value }
  if (typeof value === 'bigint') return { i: value.toString() }
  return { u: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
}

function untag(value: TaggedValue): MetadataValue {
  if ('s' in value) return value.s
  if ('n' in value) return value.n
  if ('b' in value) return value.b
  if ('i' in value) return BigInt(value.i)
  return new Uint8Array(Buffer.from(value.u, 'base64'))
}

/**
 * The stored form of a message: its header as JSON (bigints as strings), then its bytes; or,
 * for a payload of SPLIT_BYTES or more, the header alone and `data`, a view of the payload
 * (no copy), to store under {@link dataKey}.
 */
export function encodeOutboxValue(header: MessageHeader, data: Uint8Array): { value: Buffer; data?: Buffer } {
  const split = data.byteLength >= SPLIT_BYTES
  const value = encodeHeader(header, split, split ? 0 : data.byteLength)
  if (!split) {
    value.set(data, value.length - data.byteLength)
    return { value }
  }
  return { value, data: asBuffer(data) }
}

/**
 * The stored header of a message whose payload is a file (a custom node's shared-memory
 * segment): see {@link OutboxPut.file}.
 */
export function encodeOutboxHeader(header: MessageHeader): Buffer {
  return encodeHeader(header, true, 0)
}

/**
 * The JSON of the fields every message of one output shares (sender and output), for the last
 * output encoded: a producer sends runs of messages on one output, and JSON.stringify of the
 * whole header object per message was ~4% of the routing thread in the 8 B stream's profile.
 */
let sharedFor: { senderNode: string; senderOperator: string; outputId: string; encoding: string; json: string; encodingJson: string } | undefined

/** The header as JSON behind its length, with `room` bytes left after it for the payload. */
function encodeHeader(header: MessageHeader, split: boolean, room: number): Buffer {
  const { senderNode, senderOperator, outputId, encoding } = header
  let shared = sharedFor
  if (
    shared === undefined ||
    shared.senderNode !== senderNode ||
    shared.senderOperator !== senderOperator ||
    shared.outputId !== outputId ||
    shared.encoding !== encoding
  ) {
    const json = `{"senderNode":${JSON.stringify(senderNode)},"senderOperator":${JSON.stringify(senderOperator)},"outputId":${JSON.stringify(outputId)}`
    shared = sharedFor = { senderNode, senderOperator, outputId, encoding, json, encodingJson: JSON.stringify(encoding) }
  }
  // The same fields in the same order as a HeaderJson object through JSON.stringify.
  const metadata = hasEntries(header.metadata) ? JSON.stringify(Object.entries(header.metadata).map(([k, v]) => [k, tag(v)])) : '[]'
  const text = `${shared.json},"sequence":"${header.sequence}","timestampNs":"${header.timestampNs}","metadata":${metadata},"encoding":${shared.encodingJson},"messageId":${JSON.stringify(header.messageId)}${split ? ',"split":true' : ''}}`
  const length = Buffer.byteLength(text, 'utf8')
  const value = Buffer.allocUnsafe(4 + length + room)
  value.writeUInt32LE(length, 0)
  value.write(text, 4, length, 'utf8')
  return value
}

/** Whether `record` has a property of its own (without allocating a list of its keys). */
function hasEntries(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true
  return false
}

/**
 * Decode the entries of a range scan of the outbox (headers and their payloads stored apart, in
 * key order); `segment` reads the payload of a segment reference. Throws an Error saying what
 * is wrong when one does not decode.
 */
export function decodeOutboxEntries(raw: ReadonlyArray<{ key: Buffer; value: Buffer }>, dataflowId: string, segment: (ref: Buffer) => Buffer): OutboxEntry[] {
  const entries: OutboxEntry[] = []
  for (let i = 0; i < raw.length; i++) {
    const { key, value } = raw[i] as { key: Buffer; value: Buffer }
    if (isDataKey(key) || isSegmentKey(key)) throw new Error(`outbox payload ${JSON.stringify(key.toString('utf8'))} has no header`)
    const next = raw[i + 1]
    let data: Buffer | undefined
    if (next !== undefined && isDataKey(next.key)) data = next.value
    else if (next !== undefined && isSegmentKey(next.key)) data = segment(next.value)
    if (data !== undefined) i++
    entries.push(decodeOutboxEntry(key, value, dataflowId, data))
  }
  return entries
}

/** Decode one entry (`data`: its payload stored apart); throws an Error saying what is wrong. */
export function decodeOutboxEntry(key: Buffer, value: Buffer, dataflowId: string, data?: Buffer): OutboxEntry {
  const parts = key.toString('utf8').split(SEP)
  if (parts.length !== 4) throw new Error(`outbox key ${JSON.stringify(key.toString('utf8'))} is not receiver/input/sender/order`)
  const [receiver, inputId, sender, order] = parts as [string, string, string, string]
  if (value.length < 4) throw new Error('outbox value is too short')
  const length = value.readUInt32LE(0)
  if (4 + length > value.length) throw new Error('outbox value has a bad header length')
  const json = JSON.parse(value.subarray(4, 4 + length).toString('utf8')) as HeaderJson
  const header: MessageHeader = {
    dataflowId,
    senderNode: json.senderNode,
    senderOperator: json.senderOperator,
    outputId: json.outputId,
    sequence: BigInt(json.sequence),
    timestampNs: BigInt(json.timestampNs),
    metadata: Object.fromEntries(json.metadata.map(([k, v]) => [k, untag(v)])),
    encoding: json.encoding,
    messageId: json.messageId,
    redelivered: true,
  }
  if (json.split === true && data === undefined) throw new Error('outbox entry has lost its payload')
  if (json.split !== true && data !== undefined) throw new Error('outbox entry has a payload twice')
  // A copy of its own: the payload outlives the read transaction and may be posted to a worker.
  const payload = new Uint8Array(data ?? value.subarray(4 + length))
  return { key, receiver, inputId, sender, order, header, data: payload }
}
