/**
 * Supervises one operator in its own worker thread (piscina's pattern), and makes it survive
 * crashes: the worker counts as started only after READY; events are posted ahead (up to
 * PIPELINE_DEPTH or DEEP_PIPELINE_DEPTH, the worker handles them one at a time in order) and each is kept until its
 * `done` (with the event's state writes and outputs) has been committed, so after any crash
 * the restarted worker gets `restoreState` with the last committed state, then the unfinished
 * events again, the first marked redelivered. An event's outputs are routed only after it
 * committed (read-committed), and those for operators are committed with it into the outbox
 * (exactly-once between operators, see src/store/state/outbox.ts). ZeroMQ never enters the
 * worker (zeromq.js #411).
 *
 * Crash kinds handled the same way: a handler that throws or rejects, `process.exit()` in the
 * worker, an uncaught error, a handler that outlives its `timeout` (the thread is terminated),
 * running out of memory (resource limits), and failing to load on a restart.
 *
 * This file is the lifecycle (starting -> running -> stopping -> finished | failed, with
 * restarting after a crash); the jobs it delegates: launching a worker (worker-launch.ts),
 * in-flight events, redelivery, duplicates and poison (deliveries.ts), committing state
 * (state-commit.ts), and backpressure holds (pause-gate.ts).
 */
import type { Worker, MessagePort } from 'node:worker_threads'
import { deserializeError, DoraError, errorMessage } from '../../src/errors.js'
import { nowNs } from '../../src/clock.js'
import type { MessageHeader } from '../../src/events.js'
import type { OperatorNodeSpec, OperatorSpec } from '../../src/spec/types.js'
import { POISON_OUTPUT } from '../../src/spec/resolve.js'
import type { OperatorState } from '../../src/store/state/store.js'
import type { Inbox } from '../supervisor/inbox.js'
import { MIN_TRANSFER_BYTES, type BufferedOutput, type HostToWorker, type OperatorWorkerData, type StateWrite, type WorkerToHost } from './messages.js'
import { RestartBudget } from '../supervisor/restart-policy.js'
import { displayName, operatorKey } from '../supervisor/routing.js'
import { LineTail, type Unit, type UnitHost, type UnitResult, type UnitStatus } from '../supervisor/unit.js'
import { Deliveries, poisonReport, type InFlight } from './deliveries.js'
import { PauseGate } from './pause-gate.js'
import { commitEvent, commitEventLater, loadState, type EventCommit, type SentMessage } from './state-commit.js'
import { eventOrder, initOrder } from '../../src/store/state/outbox.js'
import { consumedKey, discardConsumed, isExclusive, markExclusive, rememberOrder, type OutboxRoute } from './outbox.js'
import { ownsWholeBuffer } from '../../src/bytes.js'
import type { DeliveredEvent } from '../../src/events.js'
import { launchWorker, SpareWorker } from './worker-launch.js'
import { packEvents } from './event-wire.js'

export interface OperatorHostOptions {
  inbox: Inbox
  /** The operator's private state; undefined runs it without persistence. */
  state?: OperatorState | undefined
  /** Heap limit of the worker in MiB (resource limits); undefined = Node's default. */
  maxMemoryMb?: number | undefined
  /** The shared KVS the operator reaches as ctx.kvs: a new port to the run's KVS thread per launch. */
  kvs?: { dir: string; namespace: string; connect(): MessagePort } | undefined
  /** The receivers of an output whose copies are committed into the outbox (operators and custom nodes). */
  outboxRoutes?: ((outputId: string) => readonly OutboxRoute[]) | undefined
}

/**
 * Events posted to the worker ahead of the one it is handling: it never waits for a round trip
 * to the host between two events, and the `done`s of up to this many events arrive in one
 * turn and commit in one transaction (group commit): at 4, a stream paid one LMDB commit per
 * 2-4 events. Still small, so a `drop_oldest` queue still drops what a slow operator cannot
 * take (events posted ahead are no longer in the queue).
 */
export const PIPELINE_DEPTH = 16

/**
 * How far small inputs (under MIN_TRANSFER_BYTES) are posted ahead to an operator none of
 * whose inputs is `drop_oldest`: nothing could be dropped for freshness, so the depth only
 * sets how many events share a post. Each post wakes the worker thread, and on a busy machine
 * that wake-up, not the copy, was most of a post's cost on the routing thread (~70 us a post
 * in the 8 B stream's profile at load 3-4): at 64 (refilled at 32) the routing thread spent
 * ~25% less CPU per message than at 16 (refilled at 8), 16.9-18.2 us against 22.6-23.1 us,
 * load 27. Large inputs keep PIPELINE_DEPTH: the worker's memory stays bounded (the extra
 * events hold at most 48 x 16 KiB).
 */
export const DEEP_PIPELINE_DEPTH = 64

const NO_ROUTES: readonly OutboxRoute[] = []

/** An error's message, followed by its code when it is a dora-ts error (`[DORA_KVS_BAD_KEY]`), for scripts. */
function withCode(error: Error): string {
  return error instanceof DoraError ? `${error.message} [${error.code}]` : error.message
}

/** The promise of the first start(), settled by the first launch. */
type FirstLaunch = { resolve: () => void; reject: (err: unknown) => void }

export class OperatorHost implements Unit {
  readonly key: string
  readonly display: string
  readonly nodeId: string
  readonly inbox: Inbox
  readonly spec: OperatorSpec
  readonly node: OperatorNodeSpec
  readonly outputs: readonly string[]
  #status: UnitStatus = 'starting'
  #worker: Worker | undefined
  /** Increments per launch; messages from an older worker are ignored. */
  #generation = 0
  readonly #deliveries = new Deliveries()
  /** Backpressure (pause-gate.ts): while some output is paused, no new input is delivered. */
  readonly #pause: PauseGate
  #stopSent = false
  /** Uncommitted events already posted to the current worker. */
  #posted = 0
  /**
   * Events posted and not yet sent (#flushBatch sends them in one message), whether each one's
   * bytes are transferred, and those transfers.
   */
  #batch: DeliveredEvent[] = []
  #batchMoved: boolean[] = []
  #batchTransfer: ArrayBuffer[] = []
  /** The last crash, for the report when a stop ends the operator instead of a restart. */
  #lastCrash: string | undefined
  #stopHandled = false
  #endedReported = false
  #failure: string | undefined
  #restartCount = 0
  #restartTimer: NodeJS.Timeout | undefined
  /** A started thread for the next restart, kept once the operator has crashed (worker-launch.ts). */
  #spare: SpareWorker | undefined
  /** A spare is to be started (see the `ready` case of #onMessage). */
  #spareDue = false
  #watchdog: NodeJS.Timeout | undefined
  readonly #sequences = new Map<string, bigint>()
  readonly #stderr = new LineTail()
  readonly #host: UnitHost
  readonly #state: OperatorState | undefined
  readonly #maxMemoryMb: number | undefined
  readonly #kvs: OperatorHostOptions['kvs']
  readonly #budget: RestartBudget
  readonly #outboxRoutes: (outputId: string) => readonly OutboxRoute[]
  /** No input of it drops for freshness: small inputs are posted further ahead (DEEP_PIPELINE_DEPTH). */
  readonly #deep: boolean

  constructor(node: OperatorNodeSpec, spec: OperatorSpec, host: UnitHost, options: OperatorHostOptions) {
    this.node = node
    this.spec = spec
    this.key = operatorKey(node, spec)
    this.display = displayName(node, spec)
    this.nodeId = node.id
    this.outputs = [...spec.outputs, POISON_OUTPUT]
    this.inbox = options.inbox
    this.#host = host
    this.#state = options.state
    this.#maxMemoryMb = options.maxMemoryMb
    this.#kvs = options.kvs
    this.#budget = new RestartBudget(spec.restart)
    this.#deep = spec.inputs.every((input) => input.queuePolicy !== 'drop_oldest')
    // Asked twice per message sent (commit, route): a lookup by output id here, not the run's
    // lookup by a key built from two strings (3% of the routing thread in the 8 B stream).
    const routes = options.outboxRoutes
    const byOutput = new Map<string, readonly OutboxRoute[]>()
    this.#outboxRoutes =
      routes === undefined
        ? () => NO_ROUTES
        : (outputId) => {
            let found = byOutput.get(outputId)
            if (found === undefined) {
              found = routes(outputId)
              byOutput.set(outputId, found)
            }
            return found
          }
    this.#pause = new PauseGate(
      () => this.pump(),
      (text) => this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'warn', text: `${this.display}: ${text}` }),
    )
  }

  get status(): UnitStatus {
    return this.#status
  }

  get restartCount(): number {
    return this.#restartCount
  }

  get threadId(): number | undefined {
    return this.#worker?.threadId
  }

  /** Launch the first worker. Rejects when the operator fails to load (no restart loop). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.#launch({ resolve, reject }))
  }

  pump(): void {
    // Stop is final: a crashed operator waiting for its restart ends now, with its real cause.
    if (this.#status === 'restarting' && this.inbox.stopRequested) {
      this.#failForGood(`${this.#lastCrash ?? 'crashed'}; not restarted: the dataflow is stopping`)
      return
    }
    if (this.#status !== 'running' || this.#worker === undefined) return
    // Refill in batches: one post carries all the events that fit (see #post), and a worker
    // with more than half its depth of events queued has enough work until they arrive.
    if (this.#posted > this.#depthFor(this.inbox.peek()) / 2) return
    while (!this.#stopSent && this.#worker !== undefined) {
      const next = this.inbox.peek()
      if (next === undefined || this.#posted >= this.#depthFor(next)) return
      if (next.type === 'input' && this.#pause.holds()) return
      const inFlight = this.#deliveries.take(this.inbox, (skipped) => this.discarded(skipped))
      if (inFlight === undefined) return
      this.#post(inFlight)
    }
  }

  /** How many events may be posted ahead when `next` is the next one (see DEEP_PIPELINE_DEPTH). */
  #depthFor(next: DeliveredEvent | undefined): number {
    return this.#deep && next?.type === 'input' && next.data.byteLength < MIN_TRANSFER_BYTES ? DEEP_PIPELINE_DEPTH : PIPELINE_DEPTH
  }

  /**
   * An input this operator will never handle (dropped by its queue policy, or a copy it
   * already committed): its outbox entry goes, or the next run would replay it.
   */
  discarded(item: DeliveredEvent): void {
    const state = this.#state
    if (state === undefined) return
    discardConsumed(
      this.key,
      [item],
      // With the next group commit: no write transaction of its own on the routing thread.
      (keys, done) => state.discardLater(keys, done),
      (text) => this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'warn', text: `${this.display}: ${text}` }),
    )
  }

  /** Backpressure: hold new inputs while any of `outputs` is paused (at most MAX_PAUSE_MS per event). */
  setPausedOutputs(outputs: ReadonlySet<string>): void {
    this.#pause.set(outputs)
  }

  terminate(reason: string): void {
    this.#end(reason)
  }

  kill(reason: string): void {
    this.#end(reason)
  }

  /** Crash it on purpose (fault injection): the restart policy acts as for a real crash. */
  crash(reason = 'killed on purpose'): void {
    // Not the input's fault: it does not count towards max_redeliveries.
    if (this.#worker !== undefined) this.#crash(reason, false)
  }

  #end(reason: string): void {
    clearTimeout(this.#restartTimer)
    clearTimeout(this.#watchdog)
    if (this.#endedReported) return
    this.#failure ??= reason
    this.#stopWorker()
    this.#report()
  }

  /** Retire the current worker: its later messages and exit are ignored, and its thread ends. */
  #stopWorker(): void {
    this.#generation++
    const worker = this.#worker
    this.#worker = undefined
    this.#batch = []
    this.#batchMoved = []
    this.#batchTransfer = []
    if (worker !== undefined) void worker.terminate()
  }

  #launch(first?: FirstLaunch): void {
    const generation = ++this.#generation
    this.#posted = 0
    let state: Map<string, Uint8Array>
    try {
      const loaded = loadState(this.#state)
      state = loaded.state
      // Ids continue from the last committed event across runs (never reused).
      if (first !== undefined) this.#deliveries.resume(loaded.meta)
    } catch (err) {
      this.#failForGood(`could not read its saved state: ${errorMessage(err)}`)
      first?.reject(err)
      return
    }
    const workerData: OperatorWorkerData = {
      modulePath: this.spec.module,
      language: this.spec.language,
      dataflowId: this.#host.dataflowId,
      dataflowName: this.#host.dataflowName,
      nodeId: this.node.id,
      operatorId: this.spec.id,
      outputs: [...this.spec.outputs],
      restartCount: this.#restartCount,
      maxMessageBytes: this.#host.maxMessageBytes,
      state,
    }
    const kvsPort = this.#kvs?.connect()
    if (this.#kvs !== undefined && kvsPort !== undefined) workerData.kvs = { dir: this.#kvs.dir, namespace: this.#kvs.namespace, port: kvsPort }
    this.#status = 'starting'
    // A worker that dies before its first READY is a load failure, not a reason to loop.
    const loadFailed = (reason: string): boolean => {
      if (first === undefined || this.#status === 'running') return false
      this.#failForGood(reason)
      first.reject(new Error(reason))
      return true
    }
    this.#worker = launchWorker(
      {
        workerData,
        kvsPort,
        env: { ...process.env, ...this.node.env },
        display: this.display,
        maxMemoryMb: this.#maxMemoryMb,
        log: (entry) => this.#host.log(entry),
        stderr: this.#stderr,
        current: () => generation === this.#generation,
      },
      {
        message: (message) => this.#onMessage(message, first),
        error: (err) => {
          const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          const reason = oom ? `ran out of memory (limit ${this.#maxMemoryMb ?? 'default'} MiB)` : `crashed: ${err.message}`
          if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason, this.#status === 'running')
        },
        exit: (code) => {
          this.#worker = undefined
          if (this.#stopHandled) {
            this.#report()
            return
          }
          const reason = `its worker exited with code ${code}`
          if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason, this.#status === 'running')
        },
      },
      this.#spare,
    )
    this.#spare = undefined
    const healthTimeout = this.spec.restart.healthCheckTimeout
    if (healthTimeout !== undefined) {
      this.#armWatchdog(healthTimeout, `did not become ready within health_check_timeout (${healthTimeout} s)`, false)
    }
  }

  #onMessage(message: WorkerToHost, first: FirstLaunch | undefined): void {
    switch (message.type) {
      case 'ready': {
        clearTimeout(this.#watchdog)
        if (!this.#commitLaunch(message.writes, message.outputs)) return
        this.#status = 'running'
        first?.resolve()
        // It crashed before, it may again: a started thread makes the next restart cost no
        // thread start (one idle thread, only for operators that crashed). Started once the
        // restarted worker has handled its first event (#onDone), not now: starting a thread
        // and importing the module took CPU from that first event, the one a crash -> first
        // event time measures.
        this.#spareDue = this.#restartCount > 0 && this.#spare === undefined
        // The events a crash interrupted go again, in order, before anything new.
        for (const inFlight of this.#deliveries.uncommitted) this.#post(inFlight)
        this.pump()
        // Nothing to handle yet: nothing for the spare's start to delay.
        if (this.#posted === 0) this.#startSpare()
        return
      }
      case 'load-failed': {
        const error = deserializeError(message.error)
        if (first !== undefined) {
          // Failing to load the first time is a bug in the module or the YAML, not a crash:
          // restarting would only loop.
          this.#failForGood(`failed to load ${this.spec.module}: ${withCode(error)}`)
          first.reject(error)
        } else {
          // restoreState or init failed: not the fault of the input waiting for it.
          this.#crash(`failed to load on restart: ${withCode(error)}`, false)
        }
        return
      }
      case 'failed':
        this.#crash(`crashed: ${withCode(deserializeError(message.error))}`, true)
        return
      case 'done':
        this.#onDone(message.writes ?? [], message.outputs ?? [])
        return
      case 'log':
        this.#host.log({ source: this.display, stream: 'log', level: message.level, text: message.text })
        return
      default:
        return
    }
  }

  #post(inFlight: InFlight): void {
    // Gone when reading a transferred input back failed the operator (a loop of posts goes on).
    if (this.#worker === undefined) return
    const transfer = this.#transferable(inFlight)
    if (transfer === false) return
    const event = this.#deliveries.post(inFlight)
    if (event.type === 'stop') this.#stopSent = true
    // The watchdog times the event the worker is handling: the oldest posted one.
    if (this.#posted === 0) this.#armHandlerWatchdog()
    this.#posted++
    this.#batch.push(event)
    this.#batchMoved.push(transfer !== undefined)
    // Without a transfer it is copied into the worker (structured clone): the original stays
    // here for a redelivery. Moved, not copied: a structured clone of 1 MB cost 2-35 ms (fresh
    // memory on both sides), a transfer nothing. The outbox keeps the bytes until this event
    // commits.
    if (transfer !== undefined) {
      inFlight.transferred = true
      this.#batchTransfer.push(transfer)
    }
    if (this.#batch.length === 1) {
      // Every event posted in this stretch of synchronous work (a pump, a ready, the routing of
      // a whole commit group) goes in one post: a post costs ~10 us of its own.
      const generation = this.#generation
      queueMicrotask(() => this.#flushBatch(generation))
    }
  }

  /** Post the events gathered by #post, unless the worker they were meant for is gone. */
  #flushBatch(generation: number): void {
    const events = this.#batch
    const moved = this.#batchMoved
    const transfer = this.#batchTransfer
    this.#batch = []
    this.#batchMoved = []
    this.#batchTransfer = []
    if (generation !== this.#generation || this.#worker === undefined || events.length === 0) return
    const { batch, packed } = packEvents(events, moved)
    if (packed !== undefined) transfer.push(packed)
    const message: HostToWorker = batch
    this.#worker.postMessage(message, transfer)
  }

  /**
   * The buffer to transfer with `inFlight`'s input, undefined to copy it, false when the input
   * cannot be posted (this operator has failed). An input may move to the worker when this
   * operator is its only receiver and it is committed in the outbox under this operator's key
   * (no one else reads the bytes, and a redelivery reads them back from there). One already
   * moved by an earlier post (before a crash) is read back first.
   */
  #transferable(inFlight: InFlight): ArrayBuffer | undefined | false {
    const item = inFlight.item
    const state = this.#state
    if (item.type !== 'input' || state === undefined) return undefined
    const key = consumedKey(this.key, item)
    if (key === undefined) return undefined
    if (inFlight.transferred) {
      let data: Uint8Array | undefined
      try {
        data = state.payload(key)
      } catch (err) {
        this.#failForGood(`could not read input "${item.id}" back from the outbox to deliver it again: ${errorMessage(err)}`)
        return false
      }
      if (data === undefined) {
        this.#failForGood(`could not deliver input "${item.id}" again: its message is no longer in the outbox (this is a bug, please report it)`)
        return false
      }
      markExclusive(data)
      inFlight.item = { ...item, data }
      inFlight.transferred = false
    }
    const data = (inFlight.item as { data: Uint8Array }).data
    // Never an empty buffer: it may be one already moved away, and posting a detached buffer
    // in a transfer list throws (DataCloneError) on the routing thread. Nor a small one: copying
    // a few KiB costs less than detaching a buffer, and the copy needs no read back.
    return data.byteLength >= MIN_TRANSFER_BYTES && isExclusive(data) && ownsWholeBuffer(data) ? data.buffer : undefined
  }

  #armHandlerWatchdog(): void {
    if (this.spec.timeout !== undefined) {
      this.#armWatchdog(this.spec.timeout, `a handler did not return within its timeout (${this.spec.timeout} s)`, true)
    }
  }

  #armWatchdog(seconds: number, reason: string, caused: boolean): void {
    clearTimeout(this.#watchdog)
    this.#watchdog = setTimeout(() => this.#crash(reason, caused), seconds * 1000)
    this.#watchdog.unref()
  }

  #onDone(writes: StateWrite[], outputs: BufferedOutput[]): void {
    clearTimeout(this.#watchdog)
    const inFlight = this.#deliveries.inFlight
    if (inFlight === undefined) return
    this.#posted = Math.max(0, this.#posted - 1)
    if (this.#posted > 0) this.#armHandlerWatchdog()
    const { ids, redelivered } = this.#deliveries.messageIds(outputs.length)
    const sent = outputs.map((output, i) => this.#message(output, ids[i] ?? '', redelivered, eventOrder(inFlight.eventNo, i)))
    const consumed = consumedKey(this.key, inFlight.item)
    this.#deliveries.committed()
    const generation = this.#generation
    // Grouped with the other commits of this turn (one transaction); the worker meanwhile
    // goes on with the next events posted to it.
    commitEventLater(this.#state, this.#eventCommit(writes, sent, consumed), (failure) => {
      if (failure !== undefined) {
        this.#failForGood(failure)
        return
      }
      // Committed: only now may anyone see its outputs.
      for (const message of sent) this.#route(message)
      if (inFlight.item.type === 'stop') {
        // Stop was handled: a deliberate, clean end (unless the worker was replaced meanwhile).
        if (generation !== this.#generation) return
        this.#stopHandled = true
        this.#status = 'stopping'
        void this.#worker?.terminate()
      }
    })
    if (inFlight.item.type !== 'stop') this.pump()
    this.#startSpare()
  }

  /** Start the spare thread if one is due (once the restarted worker handled an event, or crashed). */
  #startSpare(): void {
    if (!this.#spareDue || this.#endedReported) return
    this.#spareDue = false
    this.#spare ??= new SpareWorker(
      { env: { ...process.env, ...this.node.env }, display: this.display, maxMemoryMb: this.#maxMemoryMb },
      { modulePath: this.spec.module, language: this.spec.language },
    )
  }

  /** Commit init()/restoreState's writes and messages, under a new launch number when it sent any. */
  #commitLaunch(writes: StateWrite[], outputs: BufferedOutput[]): boolean {
    if (outputs.length === 0) return this.#commit(writes, [], undefined)
    const { launch, ids } = this.#deliveries.launchIds(outputs.length)
    const lastEvent = Number(this.#deliveries.meta().lastEvent)
    const sent = outputs.map((output, i) => this.#message(output, ids[i] ?? '', false, initOrder(lastEvent, launch, i)))
    this.#deliveries.launchCommitted(launch)
    if (!this.#commit(writes, sent, undefined)) return false
    for (const message of sent) this.#route(message)
    return true
  }

  #eventCommit(writes: StateWrite[], sent: readonly SentMessage[], consumed: Buffer | undefined): EventCommit {
    return { sender: this.key, writes, sent, routes: this.#outboxRoutes, consumed, meta: this.#deliveries.meta() }
  }

  /** Commit what an event did in one transaction; false (and failed) when that fails. */
  #commit(writes: StateWrite[], sent: readonly SentMessage[], consumed: Buffer | undefined): boolean {
    const failure = commitEvent(this.#state, this.#eventCommit(writes, sent, consumed))
    if (failure === undefined) return true
    this.#failForGood(failure)
    return false
  }

  /**
   * A crash. `caused`: the event the worker was handling caused it (its handler threw or timed
   * out, or the worker died while running it), so it counts towards max_redeliveries; a failed
   * restore, a kill on purpose or a health check does not.
   */
  #crash(reason: string, caused: boolean): void {
    if (this.#endedReported || this.#status === 'restarting') return
    clearTimeout(this.#watchdog)
    this.#stopWorker()
    this.#lastCrash = reason
    this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'error', text: `${this.display} ${reason}` })

    const oldest = this.#deliveries.inFlight
    const consumed = oldest === undefined ? undefined : consumedKey(this.key, oldest.item)
    const poison = this.#deliveries.crashed(this.spec.maxRedeliveries, caused)
    if (poison !== undefined) {
      // Dropped for good: it counts as consumed, in the store too (dedup record, outbox entry).
      if (!this.#commit([], [], consumed)) return
      const { text, payload } = poisonReport(this.display, poison, this.spec.maxRedeliveries, reason)
      this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'error', text: `${this.display} ${text}` })
      this.#emit(POISON_OUTPUT, payload, 'json', {}, '', false)
    }
    // Stop is final: after it nothing restarts.
    if (this.inbox.stopRequested) {
      this.#failForGood(`${reason}; not restarted: the dataflow is stopping`)
      return
    }
    const decision = this.#budget.next(true)
    if (!decision.restart) {
      this.#failForGood(`${reason}; not restarted: ${decision.reason}`)
      return
    }
    this.#status = 'restarting'
    // Crashed before handling an event since its restart (a crash loop): the spare starts now,
    // during restart_delay, rather than never.
    this.#startSpare()
    this.#host.log({
      source: 'dora-ts',
      stream: 'supervisor',
      level: 'warn',
      text: `${this.display} restarting in ${Math.round(decision.delayMs)} ms (restart ${decision.attempt})`,
    })
    this.#restartTimer = setTimeout(() => {
      this.#restartCount++
      this.#host.restarted(this)
      this.#launch()
    }, decision.delayMs)
  }

  /** A message the worker sent, with its header and outbox sort key, ready to commit and route. */
  #message(output: BufferedOutput, messageId: string, redelivered: boolean, order: string): SentMessage {
    return { header: this.#header(output.outputId, output.encoding, output.parameters, messageId, redelivered), data: output.data, order }
  }

  #route(message: SentMessage): void {
    rememberOrder(message.header, message.order)
    // Its only receiver may move the bytes into its worker (see #transferable): this host
    // no longer needs them, and the outbox has them.
    // Only bytes that would be transferred (#transferable): a WeakSet entry per small message
    // cost the routing thread its insert and the GC its ephemeron.
    if (this.#state !== undefined && message.data.byteLength >= MIN_TRANSFER_BYTES && this.#outboxRoutes(message.header.outputId).length === 1) {
      markExclusive(message.data)
    }
    this.#host.emit(this, message.header.outputId, message.header, message.data)
  }

  #emit(outputId: string, data: Uint8Array, encoding: string, parameters: MessageHeader['metadata'], messageId: string, redelivered: boolean): void {
    this.#host.emit(this, outputId, this.#header(outputId, encoding, parameters, messageId, redelivered), data)
  }

  #header(outputId: string, encoding: string, parameters: MessageHeader['metadata'], messageId: string, redelivered: boolean): MessageHeader {
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    return {
      dataflowId: this.#host.dataflowId,
      senderNode: this.node.id,
      senderOperator: this.spec.id,
      outputId,
      sequence,
      timestampNs: nowNs(),
      metadata: parameters,
      encoding,
      messageId,
      redelivered,
    }
  }

  #failForGood(error: string): void {
    this.#failure ??= error
    this.#status = 'failed'
    clearTimeout(this.#watchdog)
    this.#stopWorker()
    this.#report()
  }

  #report(): void {
    this.#spare?.close()
    this.#spare = undefined
    if (this.#endedReported) return
    this.#endedReported = true
    clearTimeout(this.#watchdog)
    clearTimeout(this.#restartTimer)
    // Events handled before the end may still wait in this turn's commit group: commit them
    // now, so their outputs are routed before `ended` closes this operator's outputs (else a
    // crash right after them, restart_policy never, left the sink without them until the
    // next run replayed them from the outbox).
    this.#state?.flush()
    this.#status = this.#failure === undefined ? 'finished' : 'failed'
    const result: UnitResult = { status: this.#status, error: this.#failure, stderrTail: this.#stderr.lines }
    this.#host.ended(this, result)
  }
}
