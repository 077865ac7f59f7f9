/**
 * Direct links between operators (`_unstable_direct_links: true` and a `reliability:
 * best_effort` input from an operator): the sending worker posts its outputs straight to the
 * receiving worker over a MessagePort of their own, so a message wakes two threads, not four
 * (docs/design/operator-direct-links.md). The supervisor keeps control by wiring them: it
 * makes each link's channel and hands its ends to the workers, a fresh one after either end
 * (re)starts (a port dies with the worker it was transferred to); it still hears every event's
 * `done` (commits, crash attribution, counts) and still sends InputClosed and Stop.
 *
 * What a link promises (the honest form of best effort): at most once, in order per output;
 * an output may be seen before its event's state commits (a crash then loses that commit, not
 * the output); messages on a link whose receiver crashes or restarts are lost.
 *
 * This file is the wiring, on the supervisor's thread; worker-links.ts is the workers' side.
 *
 * @module
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { POISON_OUTPUT } from '../../src/spec/resolve.js'
import type { DataflowSpec, InputSpec, OperatorNodeSpec, OperatorSpec, OutputSource } from '../../src/spec/types.js'
import { LINK_POSTED, LINK_SETTLED, type LinkMessage } from './messages.js'

/**
 * Whether `input` of an operator is a direct link: the dataflow opts in, the input is best
 * effort (the resolver allows it on an operator only from an operator's output),
 * and nothing needs the supervisor on the path: not the `_errors` output (the supervisor sends
 * those itself), not `queue_policy: backpressure` (it pauses the sender) or `input_timeout`
 * (it times the input).
 */
export function isOperatorLink(spec: Pick<DataflowSpec, 'directLinks'>, input: InputSpec): boolean {
  if (spec.directLinks !== true || input.reliability !== 'best_effort') return false
  if (input.queuePolicy === 'backpressure' || input.inputTimeout !== undefined) return false
  return input.source.kind === 'output' && input.source.output !== POISON_OUTPUT
}

/**
 * One link: which output of which operator (keys `node/operator`) feeds which input of which,
 * with what its ends are told (LinkMessage).
 */
export type LinkSpec = Omit<LinkMessage, 'type' | 'role' | 'port' | 'activity' | 'linkId'> & { id: number; sender: string; receiver: string }

/** What the registry needs of an operator's host. */
export interface LinkEnd {
  /** Hand this end to the current worker; false when there is none (the end waits for the next launch). */
  give(link: LinkMessage): boolean
  /** `count` messages of its input `inputId` were lost on a link (its receiving worker died, or never came): count them as drops. */
  lost(inputId: string, count: number): void
}

type LinkFields = Omit<LinkMessage, 'type' | 'role' | 'port' | 'activity'>

/**
 * One channel of a link (a pair of ends, made after a launch of either end) and its tally
 * (LinkMessage.tally). Once its receiving end is gone (the worker that held it exited, or it
 * was closed before any worker got it), nothing more is settled there, so whatever was posted
 * and not settled is lost: counted as drops of the receiver's input, and counted again as the
 * sender keeps posting into it (until the sender gets the new channel or its worker exits).
 */
interface Channel {
  link: LinkSpec
  tally: Int32Array
  /** Lost messages already counted. */
  counted: number
  receiverGone: boolean
  /** The sender's end is gone too (its worker exited, or no worker got it): nothing changes any more. */
  senderGone: boolean
}

/** An end made for a worker of an operator, not handed to one yet. */
interface WaitingEnd {
  port: MessagePort
  channel: Channel
  role: 'out' | 'in'
}

/**
 * How long the run's end waits for the threads of retired workers to exit before it counts
 * the losses of their channels (a terminated thread exits within milliseconds).
 */
const EXIT_WAIT_MS = 2_000

/** The links of one run (see the module comment). */
export class OperatorLinks {
  readonly #links: LinkSpec[]
  readonly #ends = new Map<string, LinkEnd>()
  /**
   * Ends made before their operator's first launch: `<link id>:<role>` -> port, for that launch
   * (what a source sends at start-up reaches a receiver launched after it). An end made while
   * its operator restarts is closed instead: what is posted there would pile up in this thread
   * for as long as the restart takes, and the next launch makes a new channel anyway.
   */
  readonly #waiting = new Map<string, WaitingEnd>()
  /** The channels whose counts may still change (an end still held or waiting), by their tally's buffer. */
  readonly #channels = new Map<SharedArrayBuffer, Channel>()
  /** Exits of workers that held ends, still to come: the run's end waits for them. */
  readonly #exits = new Set<Promise<void>>()
  /** Operators launched at least once, and those ended for good. */
  readonly #launched = new Set<string>()
  readonly #ended = new Set<string>()

  constructor(links: LinkSpec[]) {
    this.#links = links
  }

  /** The links of `spec`; undefined when it has none. */
  static of(spec: DataflowSpec): OperatorLinks | undefined {
    const links: LinkSpec[] = []
    /** Outputs (`node/operator/output`) that feed something other than a link. */
    const fedOutsideLinks = new Set<string>()
    const receivers: { receiver: string; input: InputSpec; sender: OperatorSpec; senderNode: OperatorNodeSpec }[] = []
    for (const node of spec.nodes) {
      const inputs =
        node.kind === 'custom'
          ? node.inputs.map((input) => ({ receiver: undefined, input }))
          : node.operators.flatMap((op) => op.inputs.map((input) => ({ receiver: `${node.id}/${op.id}`, input })))
      for (const { receiver, input } of inputs) {
        const source = input.source
        if (source.kind !== 'output') continue
        const senderNode = spec.nodes.find((n) => n.id === source.node)
        if (senderNode === undefined || senderNode.kind === 'custom') continue
        const sender = senderNode.single ? senderNode.operators[0] : senderNode.operators.find((op) => op.id === source.operator)
        if (sender === undefined) continue
        if (receiver !== undefined && isOperatorLink(spec, input)) receivers.push({ receiver, input, sender, senderNode })
        else fedOutsideLinks.add(`${senderNode.id}/${sender.id}/${source.output}`)
      }
    }
    for (const { receiver, input, sender, senderNode } of receivers) {
      const source = input.source as OutputSource
      links.push({
        id: links.length,
        sender: `${senderNode.id}/${sender.id}`,
        receiver,
        senderNode: senderNode.id,
        senderOperator: sender.id,
        outputId: source.output,
        inputId: input.id,
        queueSize: input.queueSize,
        directOnly: !fedOutsideLinks.has(`${senderNode.id}/${sender.id}/${source.output}`),
      })
    }
    return links.length === 0 ? undefined : new OperatorLinks(links)
  }

  /** Whether operator `key` receives on some link (its worker then reports its activity). */
  receives(key: string): boolean {
    return this.#links.some((l) => l.receiver === key)
  }

  /** Whether operator `key` is at either end of some link. */
  has(key: string): boolean {
    return this.#links.some((l) => l.receiver === key || l.sender === key)
  }

  /** Operator `key`'s host, to hand ends to its workers. */
  register(key: string, end: LinkEnd): void {
    this.#ends.set(key, end)
  }

  /**
   * Operator `key` launched a worker: it gets an end of each of its links, the one waiting for
   * it or a new channel's, whose other end goes to the peer's worker (replacing its old one)
   * or waits for the peer's next launch.
   */
  launched(key: string): void {
    const end = this.#ends.get(key)
    if (end === undefined) return
    this.#launched.add(key)
    for (const link of this.#links) {
      const role = link.sender === key ? 'out' : link.receiver === key ? 'in' : undefined
      if (role === undefined) continue
      const fields = fieldsOf(link)
      let mine = this.#take(link.id, role)
      if (mine === undefined) {
        const { port1, port2 } = new MessageChannel()
        const tally = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)
        const channel: Channel = { link, tally: new Int32Array(tally), counted: 0, receiverGone: false, senderGone: false }
        this.#channels.set(tally, channel)
        mine = { port: port1, channel, role }
        const peerRole = role === 'out' ? 'in' : 'out'
        const peerKey = role === 'out' ? link.receiver : link.sender
        const peer = this.#ends.get(peerKey)
        if (peer !== undefined && peer.give({ type: 'link', role: peerRole, port: port2, tally, ...fields })) {
          // Handed to the peer's worker.
        } else if (this.#launched.has(peerKey) || this.#ended.has(peerKey)) this.#closeEnd({ port: port2, channel, role: peerRole })
        else this.#wait(link.id, { port: port2, channel, role: peerRole })
      }
      // Its own worker exists (it was just launched): this cannot fail.
      if (!end.give({ type: 'link', role, port: mine.port, tally: mine.channel.tally.buffer as SharedArrayBuffer, ...fields })) {
        this.#closeEnd(mine)
      }
    }
  }

  /**
   * Operator `key` ended for good: ends waiting for it are closed, so what its peers post there
   * is dropped rather than kept for a launch that will not come.
   */
  ended(key: string): void {
    this.#ended.add(key)
    for (const link of this.#links) {
      if (link.sender === key) this.#closeWaiting(link.id, 'out')
      if (link.receiver === key) this.#closeWaiting(link.id, 'in')
    }
  }

  /**
   * A worker of operator `key` that held the ends whose tallies are `tallies` is retired:
   * once `exited` settles (its thread is gone, so it settles nothing more), the channels it
   * received on count what they lost, and those it sent on count what it posted into a
   * receiver already gone.
   */
  gone(key: string, tallies: readonly SharedArrayBuffer[], exited: Promise<unknown>): void {
    if (tallies.length === 0) return
    const count = (): void => {
      for (const tally of tallies) {
        const channel = this.#channels.get(tally)
        if (channel === undefined) continue
        if (channel.link.receiver === key) channel.receiverGone = true
        if (channel.link.sender === key) channel.senderGone = true
        this.#count(channel)
      }
    }
    const done = exited.then(count, count)
    this.#exits.add(done)
    void done.finally(() => this.#exits.delete(done))
  }

  /**
   * The run ended: every waiting end is closed, and once the retired workers' threads are gone
   * (at most {@link EXIT_WAIT_MS}), every channel whose receiver is gone counts its last losses,
   * before the run reports its drops.
   */
  async close(): Promise<void> {
    for (const waiting of this.#waiting.values()) this.#closeEnd(waiting)
    this.#waiting.clear()
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, EXIT_WAIT_MS)
    })
    await Promise.race([Promise.all([...this.#exits]), bound])
    clearTimeout(timer)
    for (const channel of this.#channels.values()) this.#count(channel)
  }

  /**
   * Count what `channel` lost since last counted, if its receiving end is gone; a channel whose
   * ends are both gone is counted for the last time and forgotten (a crash-looping operator
   * makes a channel per restart, for as long as the run lasts).
   */
  #count(channel: Channel): void {
    if (!channel.receiverGone) return
    const { tally } = channel
    if (channel.senderGone) this.#channels.delete(tally.buffer as SharedArrayBuffer)
    // Int32 words: the differences are right modulo 2^32, far beyond what is ever in flight.
    const lost = (Atomics.load(tally, LINK_POSTED) - Atomics.load(tally, LINK_SETTLED) - channel.counted) | 0
    if (lost <= 0) return
    channel.counted = (channel.counted + lost) | 0
    this.#ends.get(channel.link.receiver)?.lost(channel.link.inputId, lost)
  }

  /** Close an end no worker got: that end is gone from the start. */
  #closeEnd({ port, channel, role }: WaitingEnd): void {
    port.close()
    if (role === 'in') channel.receiverGone = true
    else channel.senderGone = true
    this.#count(channel)
  }

  #closeWaiting(linkId: number, role: 'out' | 'in'): void {
    const waiting = this.#take(linkId, role)
    if (waiting !== undefined) this.#closeEnd(waiting)
  }

  #take(linkId: number, role: 'out' | 'in'): WaitingEnd | undefined {
    const key = `${linkId}:${role}`
    const waiting = this.#waiting.get(key)
    this.#waiting.delete(key)
    return waiting
  }

  #wait(linkId: number, waiting: WaitingEnd): void {
    this.#closeWaiting(linkId, waiting.role)
    this.#waiting.set(`${linkId}:${waiting.role}`, waiting)
  }
}

function fieldsOf(link: LinkSpec): LinkFields {
  const { id, sender: _sender, receiver: _receiver, ...fields } = link
  return { linkId: id, ...fields }
}
