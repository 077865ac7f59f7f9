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
import type { Registration, SupervisorToNode, WireInput, WireStop } from '../src/protocol/node/messages.js'
import { SendQueue } from '../src/transport/send-queue.js'
import { ClosedError } from '../src/transport/errors.js'
import { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID } from '../src/transport/env.js'
import { DEFAULT_KVS_MAP_SIZE_BYTES } from '../src/store/kvs/store.js'
import type { DoraEvent, StopEvent } from './events.js'
import { NodeConnectError, SupervisorGoneError } from './errors.js'
import { errorMessage } from '../src/errors.js'
import { encodeJson, Encoding } from './payload.js'
import { createKvs, type Kvs } from './kvs.js'
import { directSource } from './kvs-direct.js'
import { watchSupervisor } from './supervisor-watch.js'
import { PushCredit } from './push-credit.js'
import { decodeOrSay, inputEvent, isEvent } from './node-wire.js'
import { openConnection } from './node-connect.js'
import { DirectReceiver } from './direct-receive.js'
import { DIRECT_REPORT_MS, DirectCounter } from './direct-counter.js'
import { writeExitCounts } from '../src/transport/exit-counts.js'
import { DirectInputs } from './direct-inputs.js'
import { LINK_POLL_MS, LinkInputs } from './link-inputs.js'
import { EventBuffer } from './event-buffer.js'
import { NodeHandlerWatch } from './handler-watch.js'
import { StopHold } from './stop-hold.js'
import { CLOSE_ACK_TIMEOUT_MS, NodeOutputs } from './node-outputs.js'

import type { NodeConnectOptions, NodeEventsOptions, NodeSendOptions } from './node-options.js'

export type { NodeConnectOptions, NodeEventsOptions, NodeSendOptions }

export { CLOSE_ACK_TIMEOUT_MS }

/**
 * A program that was away this long handling an event (ms) first lets the event loop read what
 * its sockets hold before it gets the next one. A handler that keeps the thread busy (a
 * synchronous inference, a tight loop) leaves every message that arrived meanwhile in ZeroMQ,
 * where no `queue_size` applies; handed over one by one as they were read, a viewer taking
 * 150 ms a frame of a 30 Hz camera with `queue_size: 1` got every frame, each 115 ms older than
 * the last (4.5 s behind after 40), where the supervisor's path gives it the newest. Read
 * first, they go through the queue and its `drop_oldest`. So does the supervisor's Stop: left
 * unread behind what had been pushed, a 200 ms model with `queue_size: 100` handled all of it
 * first and was terminated at the end of the grace period. Each event costs two clock reads
 * (the time, the loop's idle time); a handler this slow whose loop never waited pays a few
 * turns of the event loop and a look at its reliable inputs' logs.
 */
export const CATCH_UP_AFTER_MS = 1

/** How long after its stop event a node still open reminds the program to close it (ms; see Node's #remindToClose). */
export const CLOSE_REMINDER_MS = 2_000

/** Most turns of the event loop one catch-up takes (a sender still streaming fast would keep it going). */
const CATCH_UP_TURNS = 8

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
  /** Events received and not yet taken by the program (see event-buffer.ts). */
  readonly #buffer = new EventBuffer()
  /**
   * Push mode (the supervisor offers it, see Registration.pushInputs): events come without a
   * `next`, numbered from 1; the node tells what its program consumed (see push-credit.ts).
   */
  readonly #push: boolean
  readonly #credit = new PushCredit()
  /**
   * The supervisor confirms outputs (`send()` waits for the confirmation) and ends each batch
   * with `batch-end` (the next `next` waits for it: it tells the supervisor the batch is done).
   */
  readonly #atLeastOnce: boolean
  #nextRequested = false
  /** No more events will arrive: the socket's receive loop ended or the node was released. */
  #ended = false
  /** A `stop` event was received or queued: the supervisor-gone path must not add another. */
  #stopQueued = false
  /** Events were set aside at a Stop: settled once the supervisor has the credit that says so (see #setAsideAtStop). */
  #setAsideTold: Promise<unknown> | undefined
  /** A Stop came that is not "all inputs closed": the dataflow (or this node) is being stopped. */
  #dataflowStopping = false
  /** `open` until close() or destroy(); set synchronously, before any await. */
  #state: 'open' | 'closing' | 'closed' = 'open'
  /** The one promise every close(), destroy() and asyncDispose caller gets. */
  #closing: Promise<void> | undefined
  /** Why the node was destroyed, if it was: the `cause` of the ClosedErrors sends get. */
  #destroyCause: unknown
  #stopWatching: () => void = () => {}
  /** The sending half: outputs, their confirmations, backpressure (see node-outputs.ts). */
  readonly #outputs: NodeOutputs
  /**
   * Best-effort links (`reliability: best_effort`): inputs that come straight from their senders
   * (outputs sent to such receivers are #outputs' part), and the counts of both directions.
   */
  readonly #directIn: DirectReceiver | undefined
  readonly #directInputs: DirectInputs
  /** Reliable direct inputs (the default between nodes run by node): through their senders' link logs. */
  readonly #links: LinkInputs
  /** A Stop(all-inputs-closed) waits here for the direct inputs still ending (see stop-hold.ts). */
  readonly #stopHold: StopHold
  #linkPoll: NodeJS.Timeout | undefined
  /** events() loops running now: a reminder to close is not given while the program reads again. */
  #loops = 0
  /** The reminder to close scheduled for the loop that ended last (one at a time). */
  #reminder: NodeJS.Timeout | undefined
  /** Says when the program has been on one event for long (handler-watch.ts); from the first events(). */
  #handlerWatch: NodeHandlerWatch | undefined
  readonly #directCounter = new DirectCounter()
  #directReport: NodeJS.Timeout | undefined
  /** The process's `exit` handler while the node is open ({@link #atExit}). */
  #onExit: (() => void) | undefined

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
    this.#directIn = directIn
    const direct = registration.directInputs ?? []
    this.#stopHold = new StopHold(this.#buffer, () => this.#directInputs.closing || this.#links.closing)
    const inputClosed = (): void => this.#stopHold.inputClosed()
    this.#links = new LinkInputs(direct, this.#buffer, this.#directCounter, registration.dataflowId, registration.nodeId, inputClosed)
    this.#directInputs = new DirectInputs(
      direct.filter((i) => !this.#links.has(i.inputId)),
      this.#buffer,
      this.#directCounter,
      directIn,
      inputClosed,
    )
    this.#outputs = new NodeOutputs(registration, sender, this.#credit, this.#directCounter, {
      isOpen: () => this.#state === 'open',
      isLive: () => this.#state === 'open' && !this.#ended,
      closedError: (message) => this.#closedError(message),
    })
    if (this.#outputs.direct !== undefined || directIn !== undefined) {
      this.#directReport = setInterval(() => this.#reportDirect(), DIRECT_REPORT_MS)
      this.#directReport.unref()
    }
    if (this.#directReport !== undefined || this.#links.size > 0) {
      this.#onExit = () => this.#atExit(registration.restartCount)
      process.on('exit', this.#onExit)
    }
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
    let node: Node
    try {
      node = new Node(socket, sender, registration, directIn)
    } catch (err) {
      // A link log's cursor could not be opened: nothing was started yet.
      directIn?.close()
      sender.close(err)
      socket.linger = 0
      socket.close()
      throw new NodeConnectError(`node "${registration.nodeId}" could not open the link logs of its reliable direct inputs: ${errorMessage(err)}`, {
        cause: err,
      })
    }
    directIn?.start((a) => {
      if (node.#state === 'closed') return
      if (a.type === 'input' && a.link !== undefined) node.#links.arrived({ id: a.id, link: a.link, event: a.inLog === true ? undefined : a.event })
      else node.#directInputs.arrived(a)
    })
    if (node.#links.size > 0) {
      // What a previous process (or run) left unconsumed comes first; later, what no socket
      // message announced (see link-inputs.ts).
      node.#links.poll()
      node.#linkPoll = setInterval(() => node.#links.tick(), LINK_POLL_MS)
      node.#linkPoll.unref()
    }
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
    const onAbort = (): void => this.#buffer.wake(true)
    signal?.addEventListener('abort', onAbort, { once: true })
    const watch = (this.#handlerWatch ??= new NodeHandlerWatch(this.id))
    // A closed node's events end at once; #release closed its watch already, or never will.
    if (this.#state === 'closed') watch.close()
    // When the program was handed its last event, on a node with direct inputs or pushed
    // events, and the event loop's idle time then (see CATCH_UP_AFTER_MS).
    let handedAt: number | undefined
    let idleAt = 0
    // Still false in `finally`: the program left the loop itself (a `break`, or a throw), on
    // the event of type `lastType` (a break on the stop event ends the loop as its end does).
    let ended = false
    let lastType: DoraEvent['type'] | undefined
    this.#loops++
    // Reading again: a reminder is for the loop that ends last, with its reason.
    clearTimeout(this.#reminder)
    try {
      for (;;) {
        if (signal?.aborted) return void (ended = true)
        // Only when the loop never waited meanwhile: a handler that awaited something (a timer,
        // a send) let the loop read the socket then, and a catch-up would only delay the next
        // event (a 1 kHz round trip's p50 rose by a fifth with one after every event).
        if (handedAt !== undefined && performance.now() - handedAt >= CATCH_UP_AFTER_MS && performance.eventLoopUtilization().idle <= idleAt)
          await this.#catchUp()
        handedAt = undefined
        const item = this.#buffer.shift()
        if (item !== undefined) {
          const event = item.event
          // Not what was read from a link log before the node was released (its supervisor
          // died, or it was destroyed): unmarked in the cursor, it would come again unmarked.
          if (event === undefined || (item.link !== undefined && this.#links.released)) {
            this.#consume(item.seq)
            continue
          }
          // A message straight from a sender with nothing of the supervisor's waiting: ask it
          // for its events now, not only once the buffer is empty. A receiver with a steady
          // backlog on its direct inputs never has an empty buffer, and got nothing of the
          // supervisor's (its Stop included) until the backlog was gone: stopped, it was
          // terminated at the end of the grace period.
          if (item.direct !== undefined && this.#buffer.supervisorQueued === 0) this.#requestNext(true)
          if (item.link !== undefined) this.#links.handedOut(item.link.input, item.link.seq, event)
          if (item.seq > 0) this.#credit.handedOut(item.seq)
          if (this.#directIn !== undefined || this.#push) {
            handedAt = performance.now()
            idleAt = performance.eventLoopUtilization().idle
          }
          if (event.type === 'stop' && this.#setAsideTold !== undefined) await this.#setAsideTold
          // Not a Stop: what the program does after it (its own clean-up) holds up no input.
          if (event.type !== 'stop') watch.taken(event.type === 'input' ? `input "${event.id}"` : event.type)
          lastType = event.type
          yield event
          watch.through()
          // The program took it and came back for more: consumed. (A loop that breaks out
          // never comes back: the event it was handling is held, consumed only once the process
          // exits with code 0, as a `for await` loop's return() cannot tell a `break` from a
          // throw: see #closeGracefully and LinkInputs.release.)
          // Written to the cursor later, with the next write or once the loop waited a while (link-inputs.ts).
          if (item.link !== undefined) this.#links.consumed(item.link.input, item.link.seq)
          this.#consume(item.seq)
          if (event.type === 'stop') {
            ended = true
            this.#remindToClose('stop')
            return
          }
          continue
        }
        if (this.#ended) return void (ended = true)
        this.#links.settleSoon()
        this.#requestNext()
        const last = await this.#buffer.wait()
        if (last && this.#buffer.length === 0) return void (ended = true)
      }
    } finally {
      this.#loops--
      if (!ended) this.#remindToClose(lastType === 'stop' ? 'stop' : 'left')
      watch.left()
      this.#links.settle(true)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Send `data` on `outputId`. The bytes go out as their own ZeroMQ frame. Once `send()`
   * resolves, `data` is yours again: refilling the same buffer for the next frame is safe (the
   * SDK copies it where ZeroMQ would still read it later; `{ transfer: true }` skips that copy
   * for a buffer you will not touch again). Until then, leave it alone.
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
  send(outputId: string, data: Uint8Array, options: NodeSendOptions = {}): Promise<void> {
    return this.#outputs.send(outputId, data, options)
  }

  /** Send a JSON-serialisable value (encoding `json`); resolves as {@link send} does. */
  sendJson(outputId: string, value: unknown, options: NodeSendOptions = {}): Promise<void> {
    // A fresh buffer nobody else holds: handed over, no copy.
    return this.send(outputId, encodeJson(value), { ...options, encoding: Encoding.json, transfer: true })
  }

  /**
   * Tell the supervisor these outputs will send nothing more (their receivers get InputClosed).
   * Resolves once the supervisor confirms, which also means it has received everything this
   * node sent before (at most {@link CLOSE_ACK_TIMEOUT_MS} if it does not answer, or until the
   * node is destroyed). Best-effort receivers are told first on their links, after the last
   * message there; a marker that meets a full pipe is retried for up to DIRECT_CLOSE_WAIT_MS
   * (1 s) before the supervisor is told.
   */
  closeOutputs(outputs: readonly string[]): Promise<void> {
    return this.#outputs.close(outputs)
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
    this.#outputs.wakePaused()
    this.#closing = this.#closeGracefully()
    return this.#closing
  }

  /**
   * The program came back from its stop event (`stop`), or left its loop before its events
   * ended (`left`: a `break`): its loop is over. A node left open keeps the process running
   * (its sockets), so a program that ends without `close()` would wait for the supervisor to
   * terminate it at a Stop, after the grace period, which reports the node failed; one that
   * breaks out waits for that Stop first, its inputs unread meanwhile. If the node is still
   * open {@link CLOSE_REMINDER_MS} later, and no loop took its events again, that is said once
   * on stderr (the timer holds nothing: a process with nothing else alive exits as before).
   * A loop that ends later replaces the reminder with its own reason: a program that broke out
   * and read again to its stop is told about the stop (it was told it had left its loop when
   * the first reminder's timer fired after the second loop had ended, on a loaded machine).
   */
  #remindToClose(why: 'stop' | 'left'): void {
    clearTimeout(this.#reminder)
    if (this.#state !== 'open') return
    this.#reminder = setTimeout(() => {
      this.#reminder = undefined
      if (this.#state !== 'open' || this.#loops > 0) return
      const what =
        why === 'stop'
          ? `its events ended ${CLOSE_REMINDER_MS / 1000} s ago (stop) and node.close() was not called`
          : `its program left its events() loop ${CLOSE_REMINDER_MS / 1000} s ago, before they ended, and node.close() was not called`
      process.stderr.write(
        `dora-ts: node "${this.id}": ${what}; the node's sockets keep this process running until it is, and the supervisor terminates a node that has not exited at the end of its grace period. End the program with \`await node.close()\` (or connect with \`await using node = await Node.connect()\`).\n`,
      )
    }, CLOSE_REMINDER_MS).unref()
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
      // The supervisor counts a pushed event consumed only when told: the last credit says
      // what the program took, and the close round trip (even with no outputs) makes sure it
      // arrived before the process exits. Untold, those events would be delivered again to the
      // next run (or restart) of this node; told as exact, nothing more is counted at a clean
      // exit (without it, one after a pushed Stop counted everything pushed before it, read or
      // not). The event the program still holds goes with it: consumed if this process exits
      // with code 0 (it ended by choice, done with what it took), delivered again if it dies or
      // fails (the program may have failed on it).
      const pushed = this.#credit.opened
      if (pushed) this.#sendCredit(true)
      // The last counts of the best-effort links, confirmed by the close round trip below.
      const counted = this.#reportDirect()
      if (this.outputs.length > 0 || pushed || counted) await this.closeOutputs(this.outputs)
    } catch {
      // The supervisor may already be gone, or destroy() came first: release the socket anyway.
    }
    this.#release(false)
  }

  /** Release everything the node holds; `now`: drop what ZeroMQ has not delivered yet. */
  #release(now: boolean): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    if (this.#onExit !== undefined) process.off('exit', this.#onExit)
    this.#stopWatching()
    this.#outputs.release(now, this.#dataflowStopping)
    this.#sender.close(this.#destroyCause)
    if (now) this.#socket.linger = 0
    this.#socket.close()
    clearInterval(this.#directReport)
    clearInterval(this.#linkPoll)
    this.#handlerWatch?.close()
    this.#directInputs.release()
    this.#links.release(!now)
    this.#directIn?.close()
    this.#ended = true
    this.#buffer.wake(true)
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
    // A Stop held for inputs still ending will not come now: this one ends the stream.
    if (!this.#stopQueued || this.#stopHold.holding) {
      this.#stopQueued = true
      this.#stopHold.drop()
      this.#buffer.push({ event: { type: 'stop', cause: 'manual' }, seq: 0 })
    }
    void this.destroy(new SupervisorGoneError(`the supervisor (pid ${pid}) of node "${this.id}" is gone`))
  }

  /** Push mode: the program consumed event `seq`; tell the supervisor once a quarter of the window is. */
  #consume(seq: number): void {
    if (this.#credit.consume(seq)) this.#sendCredit()
  }

  /**
   * A Stop of the dataflow: the pushed inputs it names (SupervisorToNode.Stop.waitingInputs)
   * that the program has not taken wait for the node's next run, in the supervisor (its
   * outbox), and the program gets its Stop before them; the ticks of `droppedInputs` are
   * consumed unseen. A slow program (a 200 ms model) handled up to its queue_size (256 at most)
   * of them first, past the grace period for a large queue. Credits never count them consumed
   * from then on (PushCredit.setAsideFrom), and the supervisor is told the credits are exact
   * before the program sees its Stop (#setAsideTold): otherwise a program that then exits with
   * code 0 without close() would have them counted consumed (without an exact credit, a clean
   * exit after a pushed Stop consumes everything sent).
   */
  #setAsideAtStop(message: WireStop): void {
    if (!this.#push || (message.waitingInputs === undefined && message.droppedInputs === undefined)) return
    const first = this.#buffer.setAsideAtStop(new Set(message.waitingInputs), new Set(message.droppedInputs))
    if (first === undefined) return
    this.#credit.setAsideFrom(first)
    this.#sendCredit()
    // Its answer comes after the credit is handled (the supervisor's answer to a close of no
    // outputs follows everything it received before).
    this.#setAsideTold = this.#outputs.close([]).catch(() => undefined)
  }

  /** `closing`: the node's last credit (see PushCredit.takeCredit). */
  #sendCredit(closing = false): void {
    if (this.#state === 'closed') return
    this.#sender.post([encodeNodeToSupervisor({ type: 'credit', ...this.#credit.takeCredit(closing) })])
  }

  /**
   * Turns of the event loop, in which the direct inputs' socket hands over everything it
   * holds (zeromq.js reads a readable socket on synchronously, so all of it lands in the event
   * buffer, through each input's queue), then the reliable inputs' logs read to their ends:
   * what their senders appended is there even when its socket copy is still on its way (under
   * load, a burst sent during the handler came one by one after it, each handed over in turn).
   * Not asked with `readable`: reading the socket's events from here would consume the edge
   * its pending receive waits for.
   */
  async #catchUp(): Promise<void> {
    // Two turns at least (zeromq.js may hand a socket's messages over in the turn after the one
    // whose poll saw it readable), then on while a turn brought messages.
    const endCatchUp = this.#links.beginCatchUp()
    let arrived = -1
    for (let turn = 0; turn < CATCH_UP_TURNS && (turn < 2 || this.#directCounter.received !== arrived); turn++) {
      arrived = this.#directCounter.received
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    if (this.#state !== 'closed') endCatchUp()
  }

  /**
   * The process exits with the node open (the program threw, or called `process.exit()`):
   * nothing more can be sent, but files can be written, synchronously. The cursors of the
   * reliable direct inputs get their exact marks (what the program held, what it consumed, what
   * was read and accounted for), so the supervisor counts as drops exactly what never reached
   * the program and is gone from its sender's log, and a restart marks as redelivered only the
   * entry the program held, not the next LINK_MARK_AHEAD; and the counts not yet reported are
   * left for the supervisor (src/transport/exit-counts.ts).
   */
  #atExit(restartCount: number): void {
    if (this.#state === 'closed') return
    try {
      this.#links.settle(true)
    } catch {
      // The cursors keep their last marks: bounds, as after a SIGKILL.
    }
    // Whether or not the last report changed anything: one posted just before may still be in
    // the send queue, which goes with the process. All zeros: nothing to tell.
    const counts = this.#directCounter.current()
    if (this.#directReport !== undefined && counts.sent + counts.received + counts.dropped > 0n)
      writeExitCounts(this.#outputs.shmDir, this.id, restartCount, counts)
  }

  /** Tell the supervisor the best-effort counts, if they changed; true when a report went. */
  #reportDirect(): boolean {
    if (this.#state === 'closed' || (this.#outputs.direct === undefined && this.#directIn === undefined)) return false
    const counts = this.#directCounter.take()
    if (counts === undefined) return false
    this.#sender.post([encodeNodeToSupervisor({ type: 'direct-counts', ...counts })])
    return true
  }

  /**
   * Ask the supervisor for events: the program waits with nothing buffered, or (`opening`) it
   * takes a direct message with nothing of the supervisor's waiting. In push mode the first
   * credit opens the window and later ones tell what it consumed (so the supervisor may send
   * more, and deletes those); `opening` sends only the first (after it, a quarter of the window
   * consumed sends the next: see #consume).
   */
  #requestNext(opening = false): void {
    if (this.#push) {
      if (opening ? !this.#credit.opened : this.#credit.wanted) this.#sendCredit()
      return
    }
    if (this.#nextRequested || this.#state === 'closed') return
    this.#nextRequested = true
    // A `next` that cannot leave (the node is closing) needs no report: no events are wanted.
    this.#sender.post([encodeNodeToSupervisor({ type: 'next' })])
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
      this.#buffer.wake(true)
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
    if (!this.#atLeastOnce) this.#nextRequested = false
    this.#buffer.push({ event: inputEvent(input, payload, this.#outputs.shmDir, this.id), seq })
  }

  #accept(message: SupervisorToNode, payload: Buffer | undefined): void {
    let event: DoraEvent
    // Push mode numbers every event message (see NodeToSupervisor.Credit); others are not events.
    const seq = this.#push && isEvent(message) ? this.#credit.number() : 0
    switch (message.type) {
      case 'outputs-paused':
        // Not an event: flow control for `send`, which may be waiting right now.
        this.#outputs.pause(message.outputs)
        return
      case 'outputs-closed':
        // Not an event: the answer to the oldest closeOutputs() still waiting.
        this.#outputs.closed()
        return
      case 'outputs-taken':
        // Not an event: the confirmation the pending sends wait for.
        this.#outputs.taken(message.upTo)
        return
      case 'batch-end':
        // Every event answering our `next` is here: the following `next` may go, and it tells
        // the supervisor this batch is consumed, so it goes only once the user's loop has taken
        // every event of the batch (asks for more with the buffer empty).
        if (this.#push) return
        this.#nextRequested = false
        if (this.#buffer.waiting && this.#buffer.length === 0) this.#requestNext()
        return
      case 'input':
        this.#bufferInput(message, payload, seq)
        return
      case 'stop': {
        this.#stopQueued = true
        if (message.cause !== 'all-inputs-closed') {
          this.#dataflowStopping = true
          // The program gets its Stop next: what was read from link logs and not handed over
          // stays there for the node's next run (see LinkInputs.withhold), so do the inputs the
          // supervisor keeps for it (#setAsideAtStop), and a Stop held for inputs still ending
          // is this one now.
          this.#links.withhold()
          this.#setAsideAtStop(message)
          this.#stopHold.drop()
        }
        // The program's Stop, without the wire's lists.
        const stop: StopEvent = { type: 'stop', cause: message.cause }
        // One that answers the close of inputs still ending on this side waits for their ends.
        if (this.#stopHold.hold(stop, seq)) return
        event = stop
        break
      }
      case 'input-closed':
        if (this.#links.has(message.id)) {
          this.#links.supervisorClosed(message.id, seq)
          return
        }
        if (this.#directInputs.has(message.id)) {
          this.#directInputs.supervisorClosed(message.id, message.linkClosed === true, seq)
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
  }
}

// Re-exported so `dora-ts` users can name the env variables in their own launchers.
export { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID }
