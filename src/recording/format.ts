/**
 * The file `dora-ts record` writes and `dora-ts replay` reads: a dataflow's messages, in the
 * order the recorder took them, each with its topic, header and payload bytes (as a rosbag, or
 * dora's `.drec`, whose format this is not).
 *
 * Layout (little endian):
 *
 *   "DTSREC1\n" | u32 header bytes | header (JSON: {@link RecordingHeader})
 *   then entries: u32 magic | u32 meta bytes | u32 payload bytes | meta (JSON) | payload | u32 CRC-32 of meta and payload
 *
 * An entry is appended with one `writev`, so a recorder killed mid-write leaves at most one torn
 * entry at the end: a reader stops before it (and says how many bytes it passed over), and a
 * writer that opens the file again cuts it off before appending, so a recorder restarted by
 * its restart policy goes on in the same file. The checksum tells a whole entry from bytes a
 * damaged disk changed.
 *
 * @module
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writevSync } from 'node:fs'
import { crc32 } from '../store/lmdb/checksum.js'
import type { MetadataValue } from '../events.js'
import { RecordingInvalidError } from './errors.js'

const FILE_MAGIC = Buffer.from('DTSREC1\n')
/** 'DTRE' little endian: the first word of every entry. */
const ENTRY_MAGIC = 0x45525444
const ENTRY_HEAD = 12
const ENTRY_TRAIL = 4
/** Larger headers or metas are damage, not data. */
const MAX_JSON_BYTES = 64 * 1024 * 1024

/** What a recording says about itself. */
export interface RecordingHeader {
  version: 1
  /** The dataflow's name and its YAML, as the recording started. */
  dataflow: string
  yamlFile: string
  /** The recorded topics, `node/output` as inputs name them. */
  topics: string[]
  /** When the recording started, ms since the epoch. */
  startedAt: number
}

/** One recorded message. */
export interface RecordedMessage {
  topic: string
  sequence: bigint
  timestampNs: bigint
  encoding: string
  messageId: string
  metadata: Record<string, MetadataValue>
  payload: Uint8Array
}

/** Metadata as JSON: bigints and bytes tagged, so they come back as they were sent. */
type TaggedValue = string | number | boolean | { $bigint: string } | { $bytes: string }

function tag(value: MetadataValue): TaggedValue {
  if (typeof value === 'bigint') return { $bigint: value.toString() }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  return value
}

function untag(value: TaggedValue): MetadataValue {
  if (typeof value !== 'object' || value === null) return value
  if ('$bigint' in value) return BigInt(value.$bigint)
  return new Uint8Array(Buffer.from(value.$bytes, 'base64'))
}

interface EntryMeta {
  topic: string
  sequence: string
  timestampNs: string
  encoding: string
  messageId: string
  metadata: Record<string, TaggedValue>
}

/** Appends messages to a recording (see the module's comment for what survives a kill). */
export class RecordingWriter {
  #fd: number
  #offset: number
  #entries: number
  /**
   * The message ids of the last {@link RECENT_IDS} entries the file held when it was opened:
   * what a restarted recorder is given again (marked redelivered) and must not write twice.
   */
  readonly recentIds: ReadonlySet<string>

  private constructor(fd: number, offset: number, entries: number, recentIds: ReadonlySet<string>) {
    this.#fd = fd
    this.#offset = offset
    this.#entries = entries
    this.recentIds = recentIds
  }

  /**
   * Open `path` to append to: a new recording with `header`, or the one already there (its
   * header kept, a torn last entry cut off). Throws {@link RecordingInvalidError} when the file
   * exists and is not a recording.
   */
  static open(path: string, header: RecordingHeader): RecordingWriter {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644)
    try {
      if (fstatSync(fd).size === 0) {
        const json = Buffer.from(JSON.stringify(header))
        const length = Buffer.alloc(4)
        length.writeUInt32LE(json.byteLength)
        const offset = writevSync(fd, [FILE_MAGIC, length, json], 0)
        return new RecordingWriter(fd, offset, 0, new Set())
      }
      const scan = scanEntries(fd, path)
      ftruncateSync(fd, scan.end)
      return new RecordingWriter(fd, scan.end, scan.entries, new Set(scan.recentIds))
    } catch (err) {
      closeSync(fd)
      throw err
    }
  }

  /** Entries in the file (those found when it was opened, and those appended since). */
  get entries(): number {
    return this.#entries
  }

  append(message: RecordedMessage): void {
    const metadata: Record<string, TaggedValue> = {}
    for (const [key, value] of Object.entries(message.metadata)) metadata[key] = tag(value)
    const meta = Buffer.from(
      JSON.stringify({
        topic: message.topic,
        sequence: message.sequence.toString(),
        timestampNs: message.timestampNs.toString(),
        encoding: message.encoding,
        messageId: message.messageId,
        metadata,
      } satisfies EntryMeta),
    )
    const head = Buffer.alloc(ENTRY_HEAD)
    head.writeUInt32LE(ENTRY_MAGIC, 0)
    head.writeUInt32LE(meta.byteLength, 4)
    head.writeUInt32LE(message.payload.byteLength, 8)
    const trail = Buffer.alloc(ENTRY_TRAIL)
    trail.writeUInt32LE(crc32(message.payload, crc32(meta)))
    const total = ENTRY_HEAD + meta.byteLength + message.payload.byteLength + ENTRY_TRAIL
    let written = 0
    const parts = [head, meta, message.payload, trail]
    // writev may write less than asked (a signal, a full disk): go on from where it stopped.
    while (written < total) {
      const n = writevSync(this.#fd, remaining(parts, written), this.#offset + written)
      if (n === 0) throw new Error('the recording could not be written (0 bytes)')
      written += n
    }
    this.#offset += total
    this.#entries++
  }

  /** Flush to the disk and close. Idempotent. */
  close(): void {
    if (this.#fd < 0) return
    try {
      fsyncSync(this.#fd)
    } finally {
      closeSync(this.#fd)
      this.#fd = -1
    }
  }
}

/** `parts` past their first `skip` bytes. */
function remaining(parts: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const part of parts) {
    if (skip >= part.byteLength) {
      skip -= part.byteLength
      continue
    }
    out.push(skip === 0 ? part : part.subarray(skip))
    skip = 0
  }
  return out
}

/** A recording opened to read: its header, then its messages in order. */
export class RecordingReader {
  readonly header: RecordingHeader
  readonly #fd: number
  readonly #path: string
  readonly #start: number
  /** Bytes at the end that are no whole entry (a recorder killed mid-write), once read to the end. */
  tornBytes = 0

  private constructor(fd: number, path: string, header: RecordingHeader, start: number) {
    this.#fd = fd
    this.#path = path
    this.header = header
    this.#start = start
  }

  /** Throws {@link RecordingInvalidError} when `path` is no recording (or its header is damaged); ENOENT as it is. */
  static open(path: string): RecordingReader {
    const fd = openSync(path, constants.O_RDONLY)
    try {
      const { header, start } = readHeader(fd, path)
      return new RecordingReader(fd, path, header, start)
    } catch (err) {
      closeSync(fd)
      throw err
    }
  }

  /** Every whole entry from the first, read as they are iterated (a recording may be larger than memory). */
  *messages(): Generator<RecordedMessage> {
    let offset = this.#start
    const size = fstatSync(this.#fd).size
    for (;;) {
      const entry = readEntry(this.#fd, offset, this.#path)
      if (entry === undefined) {
        this.tornBytes = size - offset
        return
      }
      offset = entry.next
      yield entry.message
    }
  }

  /**
   * How many whole-looking messages of each topic the recording holds, reading only each
   * entry's head and meta (a recording of camera frames is not read whole to plan a replay).
   */
  topicCounts(): Map<string, number> {
    const counts = new Map<string, number>()
    const head = Buffer.alloc(ENTRY_HEAD)
    const size = fstatSync(this.#fd).size
    let offset = this.#start
    for (;;) {
      if (readSync(this.#fd, head, 0, ENTRY_HEAD, offset) < ENTRY_HEAD || head.readUInt32LE(0) !== ENTRY_MAGIC) break
      const metaBytes = head.readUInt32LE(4)
      const next = offset + ENTRY_HEAD + metaBytes + head.readUInt32LE(8) + ENTRY_TRAIL
      if (metaBytes > MAX_JSON_BYTES || next > size) break
      const meta = Buffer.alloc(metaBytes)
      readSync(this.#fd, meta, 0, metaBytes, offset + ENTRY_HEAD)
      let topic: string
      try {
        topic = (JSON.parse(meta.toString('utf8')) as EntryMeta).topic
      } catch {
        break
      }
      counts.set(topic, (counts.get(topic) ?? 0) + 1)
      offset = next
    }
    return counts
  }

  close(): void {
    closeSync(this.#fd)
  }
}

function readHeader(fd: number, path: string): { header: RecordingHeader; start: number } {
  const head = Buffer.alloc(FILE_MAGIC.byteLength + 4)
  const n = readSync(fd, head, 0, head.byteLength, 0)
  if (n < head.byteLength || !head.subarray(0, FILE_MAGIC.byteLength).equals(FILE_MAGIC)) {
    throw new RecordingInvalidError(`${path} is not a dora-ts recording (it does not start with DTSREC1)`, {
      hint: 'Give the file `dora-ts record` wrote (recording-<date>-<time>.dtsrec); a dora .drec is another format.',
    })
  }
  const length = head.readUInt32LE(FILE_MAGIC.byteLength)
  const json = length > MAX_JSON_BYTES ? undefined : Buffer.alloc(length)
  if (json === undefined || readSync(fd, json, 0, length, head.byteLength) < length) {
    throw new RecordingInvalidError(`the header of the recording ${path} is cut short or damaged`, { hint: 'Record again; the file cannot be read.' })
  }
  let header: RecordingHeader
  try {
    header = JSON.parse(json.toString('utf8')) as RecordingHeader
  } catch {
    throw new RecordingInvalidError(`the header of the recording ${path} is damaged (not JSON)`, { hint: 'Record again; the file cannot be read.' })
  }
  if (header.version !== 1 || !Array.isArray(header.topics)) {
    throw new RecordingInvalidError(`the recording ${path} is of version ${String(header.version)}, which this dora-ts does not read`, {
      hint: 'Replay it with the dora-ts version that recorded it.',
    })
  }
  return { header, start: head.byteLength + length }
}

/** The whole entry at `offset`, or undefined when none is there whole (the end, or a torn or damaged tail). */
function readEntry(fd: number, offset: number, path: string): { message: RecordedMessage; next: number } | undefined {
  const head = Buffer.alloc(ENTRY_HEAD)
  if (readSync(fd, head, 0, ENTRY_HEAD, offset) < ENTRY_HEAD || head.readUInt32LE(0) !== ENTRY_MAGIC) return undefined
  const metaBytes = head.readUInt32LE(4)
  const payloadBytes = head.readUInt32LE(8)
  if (metaBytes > MAX_JSON_BYTES) return undefined
  const body = Buffer.allocUnsafe(metaBytes + payloadBytes + ENTRY_TRAIL)
  if (readSync(fd, body, 0, body.byteLength, offset + ENTRY_HEAD) < body.byteLength) return undefined
  const meta = body.subarray(0, metaBytes)
  const payload = body.subarray(metaBytes, metaBytes + payloadBytes)
  if (body.readUInt32LE(metaBytes + payloadBytes) !== crc32(payload, crc32(meta))) return undefined
  let parsed: EntryMeta
  try {
    parsed = JSON.parse(meta.toString('utf8')) as EntryMeta
  } catch {
    throw new RecordingInvalidError(`an entry of the recording ${path} at byte ${offset} has a sound checksum but no JSON`, {
      hint: 'The file was not written by dora-ts record.',
    })
  }
  const metadata: Record<string, MetadataValue> = {}
  for (const [key, value] of Object.entries(parsed.metadata)) metadata[key] = untag(value)
  return {
    message: {
      topic: parsed.topic,
      sequence: BigInt(parsed.sequence),
      timestampNs: BigInt(parsed.timestampNs),
      encoding: parsed.encoding,
      messageId: parsed.messageId,
      metadata,
      payload,
    },
    next: offset + ENTRY_HEAD + body.byteLength,
  }
}

/** Message ids a reopened writer remembers (see {@link RecordingWriter.recentIds}). */
const RECENT_IDS = 4096

/** Where the whole entries of the recording `fd` end, how many there are and the ids of the last ones (it checks the header first). */
function scanEntries(fd: number, path: string): { end: number; entries: number; recentIds: string[] } {
  let { start: offset } = readHeader(fd, path)
  let entries = 0
  const recentIds: string[] = []
  for (;;) {
    const entry = readEntry(fd, offset, path)
    if (entry === undefined) return { end: offset, entries, recentIds }
    offset = entry.next
    entries++
    if (entry.message.messageId === '') continue
    recentIds.push(entry.message.messageId)
    if (recentIds.length > RECENT_IDS) recentIds.shift()
  }
}
