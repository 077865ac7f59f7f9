/**
 * Taps on a running dataflow's outputs, for `dora-ts topic echo` and `dora-ts topic hz` (as
 * `dora topic echo` and `ros2 topic echo` / `hz`): a copy of what each tapped output carries, in
 * the supervisor's memory until the CLI collects it.
 *
 * A tap never changes what the dataflow does. It sees a message where the supervisor can:
 * - on the supervisor's path (operators' outputs, custom nodes' outputs that have a receiver
 *   through the supervisor or none at all), in {@link OutputTaps.record}, called by the run's
 *   routing once the message is committed: a tap shows only what receivers may see;
 * - on a reliable direct link between custom nodes (the default), by reading the output's link
 *   log from where its writer is when the tap opens, with no cursor of its own: the log keeps
 *   nothing for it, and a tap that falls behind what the log keeps is told how many it missed.
 * An output whose every receiver takes it straight from its sender with nothing kept (a
 * best-effort link, a direct link between operators) passes nowhere a tap can look.
 *
 * What it holds is bounded: {@link TAP_QUEUE} messages of at most the tap's preview bytes each
 * (older ones counted as skipped), and a tap that is not read for {@link tapIdleMs} (its CLI
 * was killed, or suspended: `topic` then taps again) is closed.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { MessageHeader, MetadataValue } from '../../src/events.js'
import { LinkLogReader, newestLogSeq } from '../../src/transport/link-log.js'
import { decodeNodeToNode } from '../../src/protocol/node/codec.js'
import { positiveEnvNumber } from '../../src/env-number.js'

/** Messages a tap holds until it is read; past it the oldest are dropped and counted. */
export const TAP_QUEUE = 2000
/** A tap not read for this long is closed (the CLI that opened it is gone), unless {@link ENV_TAP_IDLE_MS} says otherwise. */
export const TAP_IDLE_MS = 15_000
export const ENV_TAP_IDLE_MS = 'DORA_TS_TAP_IDLE_MS'

/** How long a tap may go unread before it is closed: `$DORA_TS_TAP_IDLE_MS` (ms), else {@link TAP_IDLE_MS}. */
export function tapIdleMs(env: NodeJS.ProcessEnv = process.env): number {
  return positiveEnvNumber(ENV_TAP_IDLE_MS, TAP_IDLE_MS, env)
}

/** Largest preview a tap may ask for: what a message's copy holds of its payload. */
export const MAX_PREVIEW_BYTES = 1024 * 1024

/** What a tap hands over of one message: JSON-safe (the control plane carries JSON). */
export interface TappedMessage {
  topic: string
  sequence: string
  /** Wall-clock nanoseconds since the Unix epoch when the sender sent it (the header's stamp). */
  timestampNs: string
  messageId: string
  encoding: string
  /** Metadata with bigints as decimal strings and bytes as `{ bytes: base64 }`. */
  metadata: Record<string, string | number | boolean | { bytes: string }>
  /** The payload's size. */
  bytes: number
  /** Its first preview bytes, base64. */
  data: string
}

/** Where a tap reads a topic. */
export type TapSource = { topic: string; via: 'supervisor' } | { topic: string; via: 'link-log'; logDir: string }

/** What {@link OutputTaps.read} answers. */
export interface TapRead {
  messages: TappedMessage[]
  /** Messages that passed while the tap held {@link TAP_QUEUE}, or that its link logs no longer kept. */
  skipped: number
  /** The run ended: these are the tap's last messages, and it is closed. */
  ended?: true | undefined
}

interface Tap {
  readonly topics: ReadonlySet<string>
  readonly previewBytes: number
  readonly queue: TappedMessage[]
  readonly logs: Array<{ topic: string; reader: LinkLogReader }>
  skipped: number
  /** When it was last read (ms, monotonic: the step NTP makes at boot does not close it). */
  readAt: number
  /** Closed by the run's end ({@link OutputTaps.closeAll}), with what it caught still to hand over. */
  ended: boolean
}

/** The taps of one run. */
export class OutputTaps {
  readonly #taps = new Map<string, Tap>()
  /** topic -> the taps that take it from {@link record}. Empty unless someone is tapping. */
  readonly #bySupervisorTopic = new Map<string, Set<Tap>>()
  readonly #idleMs: number

  constructor(idleMs = tapIdleMs()) {
    this.#idleMs = idleMs
  }

  /** Whether `topic` is tapped on the supervisor's path: the routing's one check per message. */
  watching(topic: string): boolean {
    return this.#bySupervisorTopic.size > 0 && this.#bySupervisorTopic.has(topic)
  }

  /** A message of `topic` on the supervisor's path; `payload` is read only when a tap takes it. */
  record(topic: string, header: MessageHeader, payload: () => Uint8Array): void {
    const taps = this.#bySupervisorTopic.get(topic)
    if (taps === undefined) return
    const now = performance.now()
    let bytes: Uint8Array | undefined
    for (const tap of taps) {
      if (now - tap.readAt > this.#idleMs) {
        this.#drop(tap)
        continue
      }
      push(tap, copyOf(topic, header, (bytes ??= payload()), tap.previewBytes))
    }
  }

  /**
   * A message `dora-ts topic pub` put on `topic`: every tap on it takes it, also one that reads
   * the topic's link log (the supervisor writes nothing there: see topic-publish.ts).
   */
  published(topic: string, header: MessageHeader, payload: Uint8Array): void {
    for (const tap of this.#taps.values()) if (!tap.ended && tap.topics.has(topic)) push(tap, copyOf(topic, header, payload, tap.previewBytes))
  }

  /** Open a tap on `sources`; its id for {@link read}. */
  open(sources: readonly TapSource[], previewBytes: number): string {
    this.#sweep()
    const id = randomUUID()
    const tap: Tap = {
      topics: new Set(sources.map((s) => s.topic)),
      previewBytes: Math.max(0, Math.min(MAX_PREVIEW_BYTES, Math.floor(previewBytes))),
      queue: [],
      logs: [],
      skipped: 0,
      readAt: performance.now(),
      ended: false,
    }
    for (const source of sources) {
      if (source.via === 'link-log') {
        // From its writer's last entry: a tap shows what is sent from now on, as on the supervisor's path.
        tap.logs.push({ topic: source.topic, reader: new LinkLogReader(source.logDir, newestLogSeq(source.logDir)) })
        continue
      }
      let taps = this.#bySupervisorTopic.get(source.topic)
      if (taps === undefined) this.#bySupervisorTopic.set(source.topic, (taps = new Set()))
      taps.add(tap)
    }
    this.#taps.set(id, tap)
    return id
  }

  /** What tap `id` holds, handed over (undefined when no tap has that id: closed, or idle too long). */
  read(id: string): TapRead | undefined {
    this.#sweep()
    const tap = this.#taps.get(id)
    if (tap === undefined) return undefined
    tap.readAt = performance.now()
    readLogs(tap)
    const messages = tap.queue.splice(0)
    const skipped = tap.skipped
    tap.skipped = 0
    // Topics read from link logs come after those recorded: in the order they were sent.
    if (tap.topics.size > 1) messages.sort(bySendTime)
    if (!tap.ended) return { messages, skipped }
    this.#taps.delete(id)
    return { messages, skipped, ended: true }
  }

  /** Close tap `id` (nothing happens for an unknown one). */
  close(id: string): void {
    const tap = this.#taps.get(id)
    if (tap !== undefined) this.#drop(tap)
  }

  /**
   * The run ended: every tap stops, each keeping what it caught (its link logs read to their
   * end first) for its last {@link read}.
   */
  closeAll(): void {
    for (const tap of this.#taps.values()) {
      readLogs(tap)
      this.#stop(tap)
      tap.ended = true
    }
  }

  #sweep(): void {
    const now = performance.now()
    for (const tap of [...this.#taps.values()]) if (now - tap.readAt > this.#idleMs) this.#drop(tap)
  }

  #drop(tap: Tap): void {
    for (const [id, t] of this.#taps) if (t === tap) this.#taps.delete(id)
    this.#stop(tap)
  }

  /** It catches nothing more. */
  #stop(tap: Tap): void {
    for (const topic of tap.topics) {
      const taps = this.#bySupervisorTopic.get(topic)
      if (taps === undefined) continue
      taps.delete(tap)
      if (taps.size === 0) this.#bySupervisorTopic.delete(topic)
    }
    for (const { reader } of tap.logs) reader.close()
    tap.logs.length = 0
  }
}

/** What `tap`'s link logs hold past where it read: at most a queue's worth per topic (a fast sender is followed in steps). */
function readLogs(tap: Tap): void {
  for (const { topic, reader } of tap.logs) {
    for (let n = 0; n < TAP_QUEUE; n++) {
      const entry = reader.next()
      if (entry === undefined) break
      const message = decodeLogged(entry.header)
      if (message !== undefined) push(tap, copyOf(topic, message, entry.payload, tap.previewBytes))
    }
    tap.skipped += Number(reader.takeSkipped())
  }
}

function bySendTime(a: TappedMessage, b: TappedMessage): number {
  const x = BigInt(a.timestampNs)
  const y = BigInt(b.timestampNs)
  return x < y ? -1 : x > y ? 1 : 0
}

function push(tap: Tap, message: TappedMessage): void {
  if (tap.queue.length >= TAP_QUEUE) {
    tap.queue.shift()
    tap.skipped++
  }
  tap.queue.push(message)
}

/** The header of a link log entry, when it is a message (not the marker of a close). */
function decodeLogged(bytes: Uint8Array): Omit<MessageHeader, 'dataflowId' | 'senderNode' | 'senderOperator' | 'outputId' | 'redelivered'> | undefined {
  try {
    const message = decodeNodeToNode(bytes)
    return message.type === 'input' ? message : undefined
  } catch {
    // The receivers say so (node-sdk/link-inputs.ts); a tap passes over it.
    return undefined
  }
}

function copyOf(
  topic: string,
  header: Pick<MessageHeader, 'sequence' | 'timestampNs' | 'messageId' | 'encoding' | 'metadata'>,
  payload: Uint8Array,
  previewBytes: number,
): TappedMessage {
  const metadata: TappedMessage['metadata'] = {}
  for (const [key, value] of Object.entries(header.metadata)) metadata[key] = jsonValue(value)
  return {
    topic,
    sequence: header.sequence.toString(),
    timestampNs: header.timestampNs.toString(),
    messageId: header.messageId,
    encoding: header.encoding,
    metadata,
    bytes: payload.byteLength,
    data: Buffer.from(payload.buffer, payload.byteOffset, Math.min(previewBytes, payload.byteLength)).toString('base64'),
  }
}

function jsonValue(value: MetadataValue): string | number | boolean | { bytes: string } {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  return value
}
