/**
 * The client a custom node uses to talk to its supervisor: a ZeroMQ DEALER socket on the
 * per-run `ipc://` endpoint, every message framed with Cap'n Proto, payloads as their own frame.
 *
 * @example
 * ```ts
 * import { Node } from 'dora-ts'
 * const node = await Node.connect()
 * for await (const event of node.events()) {
 *   if (event.type === 'input') await node.send('scan', event.data)
 * }
 * await node.close()
 * ```
 */
import { Dealer } from 'zeromq'
import { encodeNodeToSupervisor } from '../src/protocol/node/codec.js'
import type { Registration, SupervisorToNode, WireInput } from '../src/protocol/node/messages.js'
import { SendQueue } from '../src/transport/send-queue.js'
import { ClosedError } from '../src/transport/errors.js'
import { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID } from '../src/transport/env.js'
import { nowNs } from '../src/clock.js'
import { DEFAULT_KVS_MAP_SIZE_BYTES } from '../src/store/kvs/store.js'
import type { DoraEvent } from './events.js'
import { checkMessageId, checkOutput, checkPayload, checkPayloadSize, NodeConnectError, SupervisorGoneError } from './errors.js'
import { errorMessage } from '../src/errors.js'
import type { MessageHeader } from '../src/events.js'
import { encodeJson, Encoding } from './payload.js'
import { createKvs, type Kvs } from './kvs.js'
import { directSource } from './kvs-direct.js'
import { watchSupervisor } from './supervisor-watch.js'
import { wakeOrTimeout } from './waits.js'
import { PendingSends } from './pending-sends.js'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../src/transport/node-socket.js'
import { PushCredit } from './push-credit.js'
import { OutputPauses } from './output-pauses.js'
import { ShmSends } from './shm-sends.js'
import { decodeOrSay, inputEvent, isEvent, outputFrames } from './node-wire.js'
import { openConnection } from './node-connect.js'
import { DIRECT_CLOSE_WAIT_MS, DirectSender } from './direct-send.js'
import { DirectReceiver, type DirectArrival } from './direct-receive.js'
import { DIRECT_REPORT_MS, DirectCounter } from './direct-counter.js'

import type { NodeConnectOptions, NodeEventsOptions, NodeSendOptions } from './node-options.js'

export type { NodeConnectOptions, NodeEventsOptions, NodeSendOptions }

/** How long closeOutputs() waits for the supervisor's confirmation before going on. */
export const CLOSE_ACK_TIMEOUT_MS = 30_000

/**
 * A custom node's connection to its supervisor: {@link Node.connect} registers,
 * {@link Node.events} yields what arrives, {@link Node.send} publishes outputs,
 * {@link Node.close} flushes and leaves.
 *
 * Lifecycle (undici's client states): `open` -> `closing` (from the first {@link Node.close}
 * call: sends are refused, what was sent before is flushed) -> `closed`; {@link Node.destroy}
 * goes to `closed` at once without flushing. When the supervisor process disappears the node
 * ends its event stream with a `stop` event, destroys itself and says so once on stderr; it
 * never exits the process (see supervisor-watch.ts).
 */
export class Node implements AsyncDisposable {
  /** This node's id from the YAML. */
  readonly id: string
  readonly dataflowId: string
  readonly dataflowName: string
  /** How many times this node was restarted in this run (dora's `restart_count()`). */
  readonly restartCount: number
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  /**
   * The machine's shared key-value store, on this dataflow's namespace (its name, or its
   * `kvs_namespace`). Opened on first use, with the path and size the supervisor handed over
   * at registration; closed by {@link close}.
   * @example node.kvs.writeJson('pose', { x: 1, y: 2 }); node.kvs.readJson('pose')
   */
  readonly kvs: Kvs

  readonly #socket: Dealer
  readonly #sender: SendQueue
  /**
   * Events received and not yet taken by the program, each with its push-mode number (0: not
   * numbered). `event` undefined: an input that could not be read (said), consumed unseen.
   */
  readonly #buffer: { event: DoraEvent | undefined; seq: number; direct?: string }[] = []
  /**
   * Push mode (the supervisor offers it, see Registration.pushInputs): events come without a
   * `next`, numbered from 1; the node tells what its program consumed (see push-credit.ts).
   */
  readonly #push: boolean
  readonly #credit = new PushCredit()
  readonly #sequences = new Map<string, bigint>()
  /** Sends not yet confirmed by the supervisor (`outputs-taken`); unused if it does not confirm. */
  readonly #pending = new PendingSends()
  /**
   * The supervisor confirms outputs (`send()` waits for the confirmation) and ends each batch
   * with `batch-end` (the next `next` waits for it: it tells the supervisor the batch is done).
   */
  readonly #atLeastOnce: boolean
  #waiter: ((ended: boolean) => void) | undefined
  #nextRequested = false
  /** No more events will arrive: the socket's receive loop ended or the node was released. */
  #ended = false
  /** A `stop` event was received or queued: the supervisor-gone path must not add another. */
  #stopQueued = false
  /** `open` until close() or destroy(); set synchronously, before any await. */
  #state: 'open' | 'closing' | 'closed' = 'open'
  /** The one promise every close(), destroy() and asyncDispose caller gets. */
  #closing: Promise<void> | undefined
  /** Why the node was destroyed, if it was: the `cause` of the ClosedErrors sends get. */
  #destroyCause: unknown
  #stopWatching: () => void = () => {}
  /** Outputs paused by backpressure (the supervisor's `outputs-paused`), and sends waiting on them. */
  readonly #paused: OutputPauses
  /** closeOutputs() calls waiting for the supervisor's `outputs-closed`, oldest first. */
  readonly #closeAcks = new Set<() => void>()
  /** The dataflow's `max_message_size`: bigger sends are refused before they reach the socket. */
  readonly #maxMessageSize: number
  /** Large payloads through the run's shared-memory directory. */
  readonly #shm: ShmSends
  /**
   * Best-effort links (`reliability: best_effort`): outputs this node sends to their receivers
   * itself, inputs that come straight from their senders, and the counts of both.
   */
  readonly #direct: DirectSender | undefined
  readonly #directIn: DirectReceiver | undefined
  readonly #directCounter = new DirectCounter()
  /** Best-effort input id -> its queue_size; how many of its messages wait in the buffer. */
  readonly #directLimits = new Map<string, number>()
  readonly #directQueued = new Map<string, number>()
  /** Best-effort inputs closed (by their sender or the supervisor): later messages are dropped. */
  readonly #directClosed = new Set<string>()
  /**
   * Best-effort inputs the supervisor said are closed by their sender, whose own marker on the
   * link has not arrived yet: what is still on the link comes first (see #directSupervisorClosed).
   */
  readonly #directClosing = new Map<string, NodeJS.Timeout>()
  /** A Stop(all-inputs-closed) that came while some of those waited: it follows their InputClosed. */
  #heldStop: DoraEvent | undefined
  #directReport: NodeJS.Timeout | undefined

  private constructor(socket: Dealer, sender: SendQueue, registration: Registration, directIn: DirectReceiver | undefined) {
    this.#socket = socket
    this.#sender = sender
    this.id = registration.nodeId
    this.dataflowId = registration.dataflowId
    this.dataflowName = registration.dataflowName
    this.restartCount = registration.restartCount
    this.inputs = registration.inputs
    this.outputs = registration.outputs
    this.#atLeastOnce = registration.atLeastOnce
    this.#push = registration.atLeastOnce && registration.pushInputs === true
    // 0 from an older supervisor: its router still drops a peer over the default, so refuse that.
    this.#maxMessageSize = registration.maxMessageSize > 0 ? registration.maxMessageSize : DEFAULT_MAX_MESSAGE_BYTES
    this.#shm = new ShmSends(registration)
    this.#directIn = directIn
    for (const input of registration.directInputs ?? []) this.#directLimits.set(input.inputId, Math.max(1, input.queueSize))
    this.#direct = (registration.directRoutes ?? []).length > 0 ? new DirectSender(registration, this.#directCounter) : undefined
    if (this.#direct !== undefined || directIn !== undefined) {
      this.#directReport = setInterval(() => this.#reportDirect(), DIRECT_REPORT_MS)
      this.#directReport.unref()
    }
    this.#paused = new OutputPauses(registration.nodeId)
    // A process opens the LMDB environment itself: reads are plain LMDB reads (see kvs.ts).
    this.kvs = createKvs(
      registration.kvsPath === ''
        ? `node "${registration.nodeId}" has no KVS: its supervisor handed over no KVS path at registration (an older dora-ts)`
        : directSource({
            dir: registration.kvsPath,
            mapSizeBytes: registration.kvsMapSize > 0n ? Number(registration.kvsMapSize) : DEFAULT_KVS_MAP_SIZE_BYTES,
            namespace: registration.kvsNamespace === '' ? registration.dataflowName : registration.kvsNamespace,
          }),
    )
  }

  /** dora's `is_restart()`: true when this process replaces one that crashed. */
  get isRestart(): boolean {
    return this.restartCount > 0
  }

  /**
   * Connect to the supervisor that launched this process and register.
   *
   * Rejects with a {@link NodeConnectError} when the environment does not name a supervisor,
   * the supervisor refuses the registration or does not answer within `timeoutMs`, and with
   * `options.signal.reason` when the signal aborts first. On every rejection the socket is
   * closed.
   *
   * @example
   * ```ts
   * const controller = new AbortController()
   * process.once('SIGTERM', () => controller.abort())
   * const node = await Node.connect({ signal: controller.signal })
   * ```
   */
  static async connect(options: NodeConnectOptions = {}): Promise<Node> {
    const { socket, sender, registration } = await openConnection(options)
    let directIn: DirectReceiver | undefined
    try {
      // Bound before connect() returns: what senders queued for this node flows in from now.
      directIn = await DirectReceiver.bind(registration)
    } catch (err) {
      sender.close(err)
      socket.linger = 0
      socket.close()
      throw new NodeConnectError(
        `node "${registration.nodeId}" could not bind its best-effort endpoint ${registration.directEndpoint ?? ''}: ${errorMessage(err)}`,
        {
          hint: 'Is another process of this node still running? Best-effort inputs need the endpoint the supervisor named.',
          cause: err,
        },
      )
    }
    const node = new Node(socket, sender, registration, directIn)
    directIn?.start((a) => node.#directArrived(a))
    node.#startReceiving()
    node.#stopWatching = watchSupervisor((pid) => node.#onSupervisorGone(pid))
    return node
  }

  /**
   * The node's events, in order. Ends after a `stop` event, when the node is closed or
   * destroyed, or when `options.signal` aborts. Only one consumer may iterate at a time.
   *
   * @example
   * ```ts
   * for await (const event of node.events()) {
   *   if (event.type === 'input') await node.send('out', event.data)
   * }
   * ```
   */
  async *events(options: NodeEventsOptions = {}): AsyncGenerator<DoraEvent, void, undefined> {
    const signal = options.signal
    if (signal?.aborted) return
    const onAbort = (): void => this.#wake(true)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        if (signal?.aborted) return
        const item = this.#buffer.shift()
        if (item !== undefined) {
          if (item.direct !== undefined) this.#directQueued.set(item.direct, (this.#directQueued.get(item.direct) ?? 1) - 1)
          const event = item.event
          if (event === undefined) {
            this.#consume(item.seq)
            continue
          }
          yield event
          // The program took it and came back for more: consumed. (A loop that breaks out
          // never comes back: the event it was handling is not.)
          this.#consume(item.seq)
          if (event.type === 'stop') return
          continue
        }
        if (this.#ended) return
        this.#requestNext()
        const ended = await new Promise<boolean>((resolve) => (this.#waiter = resolve))
        if (ended && this.#buffer.length === 0) return
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Send `data` on `outputId`. The bytes go out as their own ZeroMQ frame, uncopied.
   *
   * Resolves once the supervisor has taken the message: routed it to the queue of every
   * receiver it feeds. From then on the message survives this process being killed, so a
   * source may record its position (in the KVS, say) after `await node.send()`. Sends are
   * pipelined: many may be in flight, and one confirmation from the supervisor covers all the
   * messages it received in a burst. To send fast, start several sends and await them together:
   *
   * ```ts
   * await Promise.all(frames.map((f) => node.send('frame', f)))
   * ```
   *
   * When a receiver's `backpressure` queue is full, it first waits until that receiver catches
   * up (at most 5 s per send).
   *
   * Receivers whose input is `reliability: best_effort` get the message from this process
   * directly, handed to ZeroMQ before anything else happens, never stored: one whose pipe is
   * full misses it (counted as dropped). On an output that only best-effort inputs read, the
   * supervisor is not involved and `send()` resolves as soon as ZeroMQ has the message.
   *
   * Rejects with a `ClosedError` (code `DORA_CLOSED`) once {@link close} or {@link destroy}
   * has been called, also for a send that was waiting on backpressure then: nothing of it
   * was sent. Sends that started before close() are flushed by it. A send still unconfirmed
   * when the node is destroyed (or its supervisor dies) rejects with a `ClosedError` saying
   * so: that message may or may not have reached its receivers.
   */
  async send(outputId: string, data: Uint8Array, options: NodeSendOptions = {}): Promise<void> {
    if (this.#state !== 'open') throw this.#closedError(`node "${this.id}" is closed; nothing was sent on "${outputId}"`)
    checkOutput(this.outputs, outputId, `node "${this.id}"`)
    checkPayload(data, `node "${this.id}"`)
    checkPayloadSize(data, this.#maxMessageSize, `node "${this.id}"`, outputId)
    checkMessageId(options.messageId, `node "${this.id}"`)
    if (this.#paused.has(outputId)) {
      await this.#paused.wait(outputId, () => this.#state === 'open' && !this.#ended)
      if (this.#state !== 'open') throw this.#closedError(`node "${this.id}" was closed while "${outputId}" was paused by backpressure; nothing was sent`)
    }
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    const header: MessageHeader = {
      dataflowId: this.dataflowId,
      senderNode: this.id,
      senderOperator: '',
      outputId,
      sequence,
      timestampNs: nowNs(),
      metadata: options.parameters ?? {},
      encoding: options.encoding ?? Encoding.raw,
      messageId: options.messageId ?? `${this.restartCount}.${sequence}`,
      redelivered: false,
    }
    if (this.#direct?.has(outputId) === true) {
      // Best-effort receivers get it now, from here; if no one else reads the output, that is all.
      this.#direct.send(outputId, header, data)
      if (this.#direct.only(outputId)) return
    }
    const shm = this.#shm.share(data)
    if (!this.#atLeastOnce) {
      // A supervisor that confirms nothing: queued in ZeroMQ is all this can know.
      await this.#sender.send(outputFrames(header, 0n, data, shm))
      return
    }
    // Numbered and queued in the same synchronous step, so numbers follow the order on the wire.
    const sendSeq = this.#pending.next()
    const taken = this.#pending.wait(sendSeq)
    this.#sender.send(outputFrames(header, sendSeq, data, shm, this.#credit.takeReport())).catch((err: unknown) => this.#pending.fail(sendSeq, err))
    await taken
  }

  /** Send a JSON-serialisable value (encoding `json`); resolves as {@link send} does. */
  sendJson(outputId: string, value: unknown, options: NodeSendOptions = {}): Promise<void> {
    return this.send(outputId, encodeJson(value), { ...options, encoding: Encoding.json })
  }

  /**
   * Tell the supervisor these outputs will send nothing more (their receivers get InputClosed).
   * Resolves once the supervisor confirms, which also means it has received everything this
   * node sent before (at most {@link CLOSE_ACK_TIMEOUT_MS} if it does not answer, or until the
   * node is destroyed). Best-effort receivers are told first on their links, after the last
   * message there; a marker that meets a full pipe is retried for up to DIRECT_CLOSE_WAIT_MS
   * (1 s) before the supervisor is told.
   */
  async closeOutputs(outputs: readonly string[]): Promise<void> {
    for (const output of outputs) checkOutput(this.outputs, output, `node "${this.id}"`)
    // Best-effort receivers hear it on the link itself, after the last message sent on it, and
    // before the supervisor's InputClosed (which tells them to wait for it) can go out.
    await this.#direct?.close(outputs)
    const acked = wakeOrTimeout(this.#closeAcks, CLOSE_ACK_TIMEOUT_MS)
    try {
      await this.#sender.send([encodeNodeToSupervisor({ type: 'close-outputs', outputs: [...outputs] })])
    } catch (err) {
      acked.wake() // no answer will come: free the timer
      throw err
    }
    await acked.done
  }

  /**
   * Close every output and the connection, after flushing what was sent: the supervisor's
   * confirmation of the outputs' close means it has everything sent before. Idempotent: every
   * caller, concurrent or later, gets the same promise, and the node refuses new sends from
   * the moment of the first call. Never rejects.
   *
   * @example
   * ```ts
   * await using node = await Node.connect() // or: try { ... } finally { await node.close() }
   * ```
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#state = 'closing'
    // Paused sends re-check the state now and reject instead of sending after close-outputs.
    this.#paused.wakeAll()
    this.#closing = this.#closeGracefully()
    return this.#closing
  }

  /**
   * Stop now, without flushing: sends still queued reject with a `ClosedError` (whose `cause`
   * is `err`, when given), the socket is closed without lingering, the event stream ends. A
   * {@link close} in progress finishes at once. Returns the same promise as {@link close}.
   */
  destroy(err?: unknown): Promise<void> {
    if (this.#state !== 'closed') {
      this.#destroyCause = err
      this.#release(true)
    }
    this.#closing ??= Promise.resolve()
    return this.#closing
  }

  /** `await using node = ...` closes it: the same promise as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #closeGracefully(): Promise<void> {
    try {
      // The supervisor counts a pushed event consumed only when told: what the program took
      // since the last credit is told now, and the close round trip (even with no outputs)
      // makes sure that credit arrived before the process exits. Untold, those events would be
      // delivered again to the next run (or restart) of this node.
      const unreported = this.#credit.unreported
      if (unreported) this.#sendCredit()
      // The last counts of the best-effort links, confirmed by the close round trip below.
      const counted = this.#reportDirect()
      if (this.outputs.length > 0 || unreported || counted) await this.closeOutputs(this.outputs)
    } catch {
      // The supervisor may already be gone, or destroy() came first: release the socket anyway.
    }
    this.#release(false)
  }

  /** Release everything the node holds; `now`: drop what ZeroMQ has not delivered yet. */
  #release(now: boolean): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#stopWatching()
    this.#paused.wakeAll()
    for (const ack of [...this.#closeAcks]) ack()
    this.#pending.failAll((seq) =>
      this.#closedError(
        `node "${this.id}" was ${now ? 'destroyed' : 'closed'} before the supervisor confirmed its message #${seq}; it may or may not have reached its receivers`,
      ),
    )
    this.#sender.close(this.#destroyCause)
    if (now) this.#socket.linger = 0
    this.#socket.close()
    clearInterval(this.#directReport)
    for (const timer of this.#directClosing.values()) clearTimeout(timer)
    this.#directClosing.clear()
    this.#direct?.release(now)
    this.#directIn?.close()
    this.#ended = true
    this.#wake(true)
    // Last: the connection is released even if closing the LMDB environment throws.
    this.kvs.close()
  }

  #closedError(message: string): ClosedError {
    return new ClosedError(message, this.#destroyCause === undefined ? {} : { cause: this.#destroyCause })
  }

  /**
   * The supervisor process is gone: nobody will send Stop, answer `next` or confirm a close.
   * End the stream the way a stopping dataflow would and release the connection; leave the
   * process to the user's code (and to the supervisor side's reaper).
   */
  #onSupervisorGone(pid: number): void {
    if (this.#state === 'closed') return
    process.stderr.write(`dora-ts: the supervisor (pid ${pid}) is gone; node "${this.id}" stops (its events end with a stop event)\n`)
    if (!this.#stopQueued) {
      this.#stopQueued = true
      this.#buffer.push({ event: { type: 'stop', cause: 'manual' }, seq: 0 })
      this.#wake(false)
    }
    void this.destroy(new SupervisorGoneError(`the supervisor (pid ${pid}) of node "${this.id}" is gone`))
  }

  /** Push mode: the program consumed event `seq`; tell the supervisor once a quarter of the window is. */
  #consume(seq: number): void {
    if (this.#credit.consume(seq)) this.#sendCredit()
  }

  #sendCredit(): void {
    if (this.#state === 'closed') return
    this.#sender.post([encodeNodeToSupervisor({ type: 'credit', ...this.#credit.takeCredit() })])
  }

  /** Tell the supervisor the best-effort counts, if they changed; true when a report went. */
  #reportDirect(): boolean {
    if (this.#state === 'closed' || (this.#direct === undefined && this.#directIn === undefined)) return false
    const counts = this.#directCounter.take()
    if (counts === undefined) return false
    this.#sender.post([encodeNodeToSupervisor({ type: 'direct-counts', ...counts })])
    return true
  }

  /**
   * A best-effort message (or its sender's close) arrived. It joins the same buffer as
   * everything else, unnumbered (the supervisor never sees it, so it is not consumed, and never
   * redelivered), and its input's queue_size holds there: the oldest waiting message of that
   * input makes room for the newest, as `drop_oldest` does in the supervisor.
   */
  #directArrived(a: DirectArrival): void {
    if (this.#state === 'closed') return
    if (a.type === 'input-closed') {
      this.#closeDirect(a.id)
      return
    }
    const counter = this.#directCounter
    if (this.#directClosed.has(a.id) || a.event === undefined) {
      counter.dropped++
      return
    }
    counter.received++
    const limit = this.#directLimits.get(a.id) ?? 1
    const queued = this.#directQueued.get(a.id) ?? 0
    if (queued >= limit) {
      const oldest = this.#buffer.findIndex((item) => item.direct === a.id)
      if (oldest >= 0) this.#buffer.splice(oldest, 1)
      counter.dropped++
    } else this.#directQueued.set(a.id, queued + 1)
    this.#buffer.push({ event: a.event, seq: 0, direct: a.id })
    this.#wake(false)
  }

  /**
   * The supervisor says best-effort input `id` is closed: its event `seq` is consumed unseen (the
   * program gets one `input-closed`, unnumbered, from #closeDirect). When the sender closed the
   * output itself (`linkClosed`), its marker on the link follows its last messages there, and
   * those may still be in flight or waiting in the socket (a large payload takes longer on the
   * link than this small message through the supervisor, a busy receiver reads both sockets
   * late): closing now would drop them as late. So the input ends when the marker comes, or
   * after {@link DIRECT_CLOSE_WAIT_MS} with nothing waiting in the socket (the marker was lost).
   * Without `linkClosed` the sender ended without closing (killed): nothing more will come.
   */
  #directSupervisorClosed(id: string, linkClosed: boolean, seq: number): void {
    this.#buffer.push({ event: undefined, seq })
    if (!linkClosed) this.#closeDirect(id)
    else if (!this.#directClosed.has(id) && !this.#directClosing.has(id)) {
      const expire = (): void => {
        // Messages wait in the socket (this process was busy): they are read first, the
        // marker may be among them.
        if (this.#directIn?.pending === true) this.#directClosing.set(id, setTimeout(expire, 10).unref())
        else this.#closeDirect(id)
      }
      this.#directClosing.set(id, setTimeout(expire, DIRECT_CLOSE_WAIT_MS).unref())
    }
    this.#wake(false)
  }

  /** End best-effort input `id` for the program (once): later messages on it are dropped. */
  #closeDirect(id: string): void {
    clearTimeout(this.#directClosing.get(id))
    this.#directClosing.delete(id)
    if (this.#directClosed.has(id)) return
    this.#directClosed.add(id)
    this.#buffer.push({ event: { type: 'input-closed', id }, seq: 0 })
    if (this.#heldStop !== undefined && this.#directClosing.size === 0) {
      this.#buffer.push({ event: this.#heldStop, seq: 0 })
      this.#heldStop = undefined
    }
    this.#wake(false)
  }

  #requestNext(): void {
    if (this.#push) {
      // The program waits with nothing buffered: the first credit opens the window, later
      // ones tell what it consumed (so the supervisor may send more, and deletes those).
      if (this.#credit.wanted) this.#sendCredit()
      return
    }
    if (this.#nextRequested || this.#state === 'closed') return
    this.#nextRequested = true
    // A `next` that cannot leave (the node is closing) needs no report: no events are wanted.
    this.#sender.post([encodeNodeToSupervisor({ type: 'next' })])
  }

  #wake(ended: boolean): void {
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.(ended)
  }

  #startReceiving(): void {
    void (async () => {
      try {
        for await (const frames of this.#socket) {
          const message = decodeOrSay(frames[0], this.id)
          if (message === undefined) continue
          if (message.type === 'inputs') this.#acceptInputs(message.inputs, frames)
          else this.#accept(message, frames[1])
        }
      } catch {
        // The socket was closed: the loop ends.
      }
      this.#ended = true
      this.#wake(true)
    })()
  }

  /**
   * Several inputs in one message (push mode, see SupervisorToNode.InputBatch): each is one
   * event, numbered in list order; payloads are frames 1..n, one per input not in shared memory.
   */
  #acceptInputs(inputs: readonly WireInput[], frames: readonly Buffer[]): void {
    let frame = 1
    for (const input of inputs) this.#bufferInput(input, input.shm === undefined ? frames[frame++] : undefined, this.#push ? this.#credit.number() : 0)
  }

  /** Buffer an input numbered `seq` (0: not numbered); one whose payload cannot be read is said, and consumed unseen. */
  #bufferInput(input: WireInput, payload: Buffer | undefined, seq: number): void {
    this.#buffer.push({ event: inputEvent(input, payload, this.#shm.dir, this.id), seq })
    if (!this.#atLeastOnce) this.#nextRequested = false
    this.#wake(false)
  }

  #accept(message: SupervisorToNode, payload: Buffer | undefined): void {
    let event: DoraEvent
    // Push mode numbers every event message (see NodeToSupervisor.Credit); others are not events.
    const seq = this.#push && isEvent(message) ? this.#credit.number() : 0
    switch (message.type) {
      case 'outputs-paused':
        // Not an event: flow control for `send`, which may be waiting right now.
        this.#paused.set(message.outputs)
        return
      case 'outputs-closed':
        // Not an event: the answer to the oldest closeOutputs() still waiting.
        this.#closeAcks.values().next().value?.()
        return
      case 'outputs-taken':
        // Not an event: the confirmation the pending sends wait for.
        this.#pending.taken(message.upTo)
        return
      case 'batch-end':
        // Every event answering our `next` is here: the following `next` may go, and it tells
        // the supervisor this batch is consumed, so it goes only once the user's loop has taken
        // every event of the batch (asks for more with the buffer empty).
        if (this.#push) return
        this.#nextRequested = false
        if (this.#waiter !== undefined && this.#buffer.length === 0) this.#requestNext()
        return
      case 'input':
        this.#bufferInput(message, payload, seq)
        return
      case 'stop':
        this.#stopQueued = true
        if (message.cause === 'all-inputs-closed' && this.#directClosing.size > 0) {
          // It answers the InputClosed of a best-effort input whose last messages are still on
          // the link: yielded after that input's close, or the program would stop before them.
          this.#buffer.push({ event: undefined, seq })
          this.#heldStop = message
          this.#wake(false)
          return
        }
        event = message
        break
      case 'input-closed':
        if (this.#directLimits.has(message.id)) {
          this.#directSupervisorClosed(message.id, message.linkClosed === true, seq)
          return
        }
        event = message
        break
      case 'input-recovered':
      case 'error':
      case 'node-restarted':
      case 'node-failed':
        event = message
        break
      default:
        // Registration replies are answered in connect(); unknown kinds come from a newer
        // supervisor: ignore them so the protocol can grow.
        return
    }
    // Each batch answers one `next` request; the following pull asks again (once the batch
    // has ended, when the supervisor says where it ends).
    if (!this.#atLeastOnce) this.#nextRequested = false
    this.#buffer.push({ event, seq })
    this.#wake(false)
  }
}

// Re-exported so `dora-ts` users can name the env variables in their own launchers.
export { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID }
