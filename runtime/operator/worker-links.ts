/**
 * The worker's side of direct links between operators (operator-links.ts): the ends it posts
 * its outputs to itself, and the ends its inputs arrive on, with the receiver's queue rule
 * (`queue_size`, oldest dropped) applied here since the host never sees those messages.
 *
 * Apart from worker.ts because it is a second source of events with its own rules (replacing
 * an end after the peer restarted, taking in what is already on a link before Stop, counting),
 * while the worker only says when an event is done. Runs on the worker thread: node:* only.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import type { InputEvent } from '../../node-sdk/events.js'
import { copyBytes, ownsWholeBuffer } from '../../src/bytes.js'
import { nowNs } from '../../src/clock.js'
import type { MetadataValue } from '../../src/events.js'
import { LINK_ACTIVE, LINK_POSTED, LINK_SETTLED, LINK_STARTED, MIN_TRANSFER_BYTES, type BufferedOutput, type LinkCounts, type LinkMessage } from './messages.js'

/** One message on a link: an output, as the receiver's input shows it. */
interface LinkedMessage {
  data: Uint8Array
  encoding: string
  parameters: Record<string, MetadataValue>
  sequence: bigint
  timestampNs: bigint
  messageId: string
}

interface OutLink {
  linkId: number
  port: MessagePort
  directOnly: boolean
  /** The channel's tally (LinkMessage.tally), when the host keeps one. */
  tally: Int32Array | undefined
}

interface InLink {
  port: MessagePort
  link: LinkMessage
  tally: Int32Array | undefined
}

/**
 * An event taken from a link, queued beside the host's: its input and that input's
 * queue_size, to count it against, and the tally of the channel it came on, to settle it in.
 */
export interface LinkedEvent {
  event: InputEvent
  inputId: string
  queueSize: number
  tally?: Int32Array | undefined
}

const tallyOf = (link: LinkMessage): Int32Array | undefined => (link.tally === undefined ? undefined : new Int32Array(link.tally))

/** The worker's direct links (see the module comment). */
export class WorkerLinks {
  readonly #out = new Map<string, OutLink[]>()
  readonly #in = new Map<number, InLink>()
  /** Per output, the sequence of its last message on links (restarts with the worker). */
  readonly #sequences = new Map<string, bigint>()
  /** Message ids on links: `d<launch nonce>.<n>`, unique without a commit (nothing on a link is replayed). */
  readonly #idPrefix = `d${randomBytes(6).toString('hex')}.`
  #sent = 0
  #counts: LinkCounts = { sent: 0, received: 0, dropped: {} }
  /** Some input of {@link #counts} dropped a message. */
  #dropped = false
  #activity: Int32Array | undefined
  /** After Stop: no input comes over a link any more. */
  #closed = false
  readonly #deliver: (linked: LinkedEvent) => void

  /** `deliver`: queue an event that arrived over a link. */
  constructor(deliver: (linked: LinkedEvent) => void) {
    this.#deliver = deliver
  }

  /** A new end of a link from the host: it replaces the earlier one of the same link. */
  set(link: LinkMessage): void {
    if (link.role === 'out') {
      const list = (this.#out.get(link.outputId) ?? []).filter((l) => {
        if (l.linkId !== link.linkId) return true
        l.port.close()
        return false
      })
      list.push({ linkId: link.linkId, port: link.port, directOnly: link.directOnly, tally: tallyOf(link) })
      this.#out.set(link.outputId, list)
      return
    }
    if (link.activity !== undefined) this.#activity = new Int32Array(link.activity)
    if (this.#closed) {
      link.port.close()
      return
    }
    const old = this.#in.get(link.linkId)
    // The sender restarted: what its last worker posted before it died is still here.
    if (old !== undefined) this.#closeIn(old)
    const entry: InLink = { port: link.port, link, tally: tallyOf(link) }
    this.#in.set(link.linkId, entry)
    link.port.on('message', (message: LinkedMessage) => this.#arrived(entry, message))
  }

  /**
   * Split an event's outputs: those the host must see (they feed some receiver it routes to),
   * and those to post on links once the event's `done` has gone to the host (so a worker that
   * dies in between loses them rather than sending them twice: the host does not hand the
   * event out again once it has its `done`).
   */
  split(outputs: BufferedOutput[]): { host: BufferedOutput[]; linked: BufferedOutput[] } {
    if (this.#out.size === 0 || outputs.length === 0) return { host: outputs, linked: [] }
    const host: BufferedOutput[] = []
    const linked: BufferedOutput[] = []
    for (const output of outputs) {
      const links = this.#out.get(output.outputId)
      if (links === undefined) {
        host.push(output)
        continue
      }
      if (links[0]!.directOnly) {
        linked.push(output)
        continue
      }
      host.push(output)
      // A large one moves to the host with `done`: the links get a copy of their own.
      linked.push(output.data.byteLength >= MIN_TRANSFER_BYTES ? { ...output, data: copyBytes(output.data) } : output)
    }
    return { host, linked }
  }

  /** Post `outputs` (from {@link split}) on their links. */
  post(outputs: BufferedOutput[]): void {
    for (const output of outputs) {
      const links = this.#out.get(output.outputId)
      if (links === undefined) continue
      const sequence = (this.#sequences.get(output.outputId) ?? 0n) + 1n
      this.#sequences.set(output.outputId, sequence)
      const message: LinkedMessage = {
        data: output.data,
        encoding: output.encoding,
        parameters: output.parameters,
        sequence,
        timestampNs: nowNs(),
        messageId: this.#idPrefix + ++this.#sent,
      }
      const directOnly = links[0]!.directOnly
      if (directOnly) this.#counts.sent++
      // The bytes move to a lone receiver that is the only one to see them (the host has no copy
      // to route); else each link gets a copy (structured clone).
      const move = directOnly && links.length === 1 && output.data.byteLength >= MIN_TRANSFER_BYTES && ownsWholeBuffer(output.data)
      for (const link of links) {
        // Counted before it leaves: the receiver never settles more than was posted.
        if (link.tally !== undefined) Atomics.add(link.tally, LINK_POSTED, 1)
        link.port.postMessage(message, move ? [output.data.buffer as ArrayBuffer] : undefined)
      }
    }
  }

  /** Whether `inputId` arrives over a link. */
  hasInput(inputId: string): boolean {
    for (const entry of this.#in.values()) if (entry.link.inputId === inputId) return true
    return false
  }

  /**
   * Stop is coming: take in what is already on every link (it was sent before Stop reached
   * this worker), then close them; nothing arrives after Stop.
   */
  closeAll(): void {
    this.#closed = true
    for (const entry of this.#in.values()) this.#closeIn(entry)
    this.#in.clear()
  }

  /** Input `inputId` closed (its sender ended): take in what is on its links, then close them. */
  closeInput(inputId: string): void {
    for (const [id, entry] of this.#in) {
      if (entry.link.inputId !== inputId) continue
      this.#closeIn(entry)
      this.#in.delete(id)
    }
  }

  /** A linked event's handler starts (the host reads this to blame a crash or a hang right). */
  handling(): void {
    const activity = this.#activity
    if (activity === undefined) return
    Atomics.add(activity, LINK_STARTED, 1)
    Atomics.store(activity, LINK_ACTIVE, 1)
  }

  /** A linked event's handler returned: its message is settled (not lost if this worker dies now). */
  handled(linked: LinkedEvent): void {
    if (this.#activity !== undefined) Atomics.store(this.#activity, LINK_ACTIVE, 0)
    if (linked.tally !== undefined) Atomics.add(linked.tally, LINK_SETTLED, 1)
  }

  /** A linked event was dropped from the queue (its input's queue_size): counted here, settled. */
  dropped(linked: LinkedEvent): void {
    this.#dropped = true
    this.#counts.dropped[linked.inputId] = (this.#counts.dropped[linked.inputId] ?? 0) + 1
    if (linked.tally !== undefined) Atomics.add(linked.tally, LINK_SETTLED, 1)
  }

  /** The counts since the last call, or undefined when all are zero. */
  takeCounts(): LinkCounts | undefined {
    const counts = this.#counts
    if (counts.sent === 0 && counts.received === 0 && !this.#dropped) return undefined
    this.#counts = { sent: 0, received: 0, dropped: {} }
    this.#dropped = false
    return counts
  }

  #closeIn(entry: InLink): void {
    entry.port.removeAllListeners('message')
    for (let taken = receiveMessageOnPort(entry.port); taken !== undefined; taken = receiveMessageOnPort(entry.port)) {
      this.#arrived(entry, taken.message as LinkedMessage)
    }
    entry.port.close()
  }

  #arrived(entry: InLink, message: LinkedMessage): void {
    this.#counts.received++
    const { link } = entry
    const event: InputEvent = {
      type: 'input',
      id: link.inputId,
      data: message.data,
      metadata: {
        senderNode: link.senderNode,
        senderOperator: link.senderOperator,
        outputId: link.outputId,
        sequence: message.sequence,
        timestampNs: message.timestampNs,
        encoding: message.encoding,
        parameters: message.parameters,
        messageId: message.messageId,
        redelivered: false,
      },
    }
    this.#deliver({ event, inputId: link.inputId, queueSize: link.queueSize, tally: entry.tally })
  }
}
