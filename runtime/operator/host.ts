/**
 * Supervises one operator in its own worker thread (piscina's pattern), and makes it survive
 * crashes: the worker counts as started only after READY; events are posted ahead (up to
 * PIPELINE_DEPTH or DEEP_PIPELINE_DEPTH, and a `drop_oldest` input's queue_size: see
 * fresh-inputs.ts; the worker handles them one at a time in order) and each is kept until its
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
 * (state-commit.ts) and committing before routing (event-commits.ts), backpressure holds
 * (pause-gate.ts), how far ahead and in what posts events reach the worker (post-batch.ts),
 * moving or copying an input's bytes (input-transfer.ts; a best-effort input whose bytes moved
 * is lost with a crash, see #crash), the headers and routes of the
 * messages it sends (sent-messages.ts), what a launch hands the worker (launch-data.ts) and
 * its timeouts (watchdog.ts).
 */
import { randomBytes } from 'node:crypto'
import type { Worker } from 'node:worker_threads'
import { deserializeError, DoraError, errorMessage } from '../../src/errors.js'
import { copyBytes } from '../../src/bytes.js'
import type { OperatorNodeSpec, OperatorSpec } from '../../src/spec/types.js'
import { POISON_OUTPUT } from '../../src/spec/resolve.js'
import type { OperatorState } from '../../src/store/state/store.js'
import type { Inbox } from '../supervisor/inbox.js'
import {
  LINK_ACTIVE,
  LINK_STARTED,
  MIN_TRANSFER_BYTES,
  STOPPING,
  type BufferedOutput,
  type LinkCounts,
  type LinkMessage,
  type OperatorWorkerData,
  type StateWrite,
  type WorkerToHost,
} from './messages.js'
import type { OperatorLinks } from './operator-links.js'
import { STAGED_PREFIX } from '../../src/store/state/segments.js'
import { SPLIT_BYTES } from '../../src/store/state/outbox.js'
import { RestartBudget, STOPPING_REASON, type RestartDecision } from '../supervisor/restart-policy.js'
import { displayName, operatorKey } from '../supervisor/routing.js'
import { LineTail, type LogEntry, type Unit, type UnitHost, type UnitResult, type UnitStatus } from '../supervisor/unit.js'
import { Deliveries, poisonReport, type InFlight } from './deliveries.js'
import { PauseGate } from './pause-gate.js'
import { loadState } from './state-commit.js'
import { consumedKey, type OutboxRoute } from './outbox.js'
import type { DeliveredEvent } from '../../src/events.js'
import { launchWorker } from './worker-launch.js'
import { depthFor, PostBatch } from './post-batch.js'
import { recyclableBuffers } from './state-buffers.js'
import { transferOf } from './input-transfer.js'
import { SentMessages } from './sent-messages.js'
import { EventCommits } from './event-commits.js'
import { workerDataOf, workerEnv, type KvsAccess } from './launch-data.js'
import { Watchdog } from './watchdog.js'
import { SpareSlot } from './spare-slot.js'
import { FreshInputs } from './fresh-inputs.js'
import { LongHandlerWatch, secondsText } from '../../src/long-handler-watch.js'
import { loadFailureHint } from '../../src/spec/load-hint.js'

export interface OperatorHostOptions {
  inbox: Inbox
  /** How long it may take to load, or to handle one event, before the run says so (default {@link SLOW_WARNING_S}). */
  warningMs?: number | undefined
  /** The operator's private state; undefined runs it without persistence. */
  state?: OperatorState | undefined
  /** Heap limit of the worker in MiB (resource limits); undefined = Node's default. */
  maxMemoryMb?: number | undefined
  /** The shared KVS the operator reaches as ctx.kvs: a new port to the run's KVS thread per launch. */
  kvs?: KvsAccess | undefined
  /** The receivers of an output whose copies are committed into the outbox (operators and custom nodes). */
  outboxRoutes?: ((outputId: string) => readonly OutboxRoute[]) | undefined
  /** How many receiver inputs an output feeds, of every kind (one may get the bytes moved to it). */
  receiverCount?: ((outputId: string) => number) | undefined
  /** The run's direct links between operators (operator-links.ts), when it has any. */
  links?: OperatorLinks | undefined
  /** What the worker's direct links did (messages the host never saw), for `dora-ts list`. */
  linkCounts?: ((counts: LinkCounts) => void) | undefined
}

export { DEEP_PIPELINE_DEPTH, PIPELINE_DEPTH } from './post-batch.js'

/** An error's message, followed by its code when it is a dora-ts error (`[DORA_KVS_BAD_KEY]`), for scripts. */
function withCode(error: Error): string {
  return error instanceof DoraError ? `${error.message} [${error.code}]` : error.message
}

/**
 * Seconds a worker may take to load its operator (module, restoreState, init), or to handle one
 * event, before the run says so: as long as a custom node's default connect_timeout.
 */
export const SLOW_WARNING_S = 10

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
  /** Events posted and not yet sent, sent in one message (post-batch.ts). */
  readonly #batch = new PostBatch((generation) => (generation === this.#generation ? this.#worker : undefined))
  /** The last crash, for the report when a stop ends the operator instead of a restart. */
  #lastCrash: string | undefined
  #stopHandled = false
  #endedReported = false
  #failure: string | undefined
  #restartCount = 0
  #restartTimer: NodeJS.Timeout | undefined
  /** A started thread for the next restart, kept once the operator has crashed (spare-slot.ts). */
  readonly #spare: SpareSlot
  /** Settles once every worker this host retired has its thread gone ({@link threadsGone}). */
  #retiredGone: Promise<void> = Promise.resolve()
  /** Times the start-up (health_check_timeout) and the event being handled (timeout). */
  readonly #watchdog = new Watchdog((reason, caused) => this.#crash(reason, caused))
  /** Says once that the current worker has been loading for {@link SLOW_WARNING_S}. */
  #loadTimer: NodeJS.Timeout | undefined
  #loadOverdue = false
  /**
   * start()'s reject while its first launch has not settled: an operator ended while loading
   * (a Stop, `dora-ts kill`) must settle it, or `dora-ts run` awaited it until Node gave up on
   * the unsettled top-level await (exit code 13, no report).
   */
  #unsettledStart: ((err: unknown) => void) | undefined
  /** Says when a handler has run for the warning time (no `timeout:` shorter than it); from start() on. */
  #longHandler: LongHandlerWatch | undefined
  readonly #stderr = new LineTail()
  readonly #host: UnitHost
  readonly #state: OperatorState | undefined
  readonly #maxMemoryMb: number | undefined
  readonly #warningMs: number
  readonly #kvs: OperatorHostOptions['kvs']
  readonly #budget: RestartBudget
  /** Headers and routes of what it sends (sent-messages.ts). */
  readonly #sent: SentMessages
  /** Commit, then route (event-commits.ts). */
  readonly #commits: EventCommits
  /** Each `drop_oldest` input's messages posted ahead, at most its queue_size (fresh-inputs.ts). */
  readonly #fresh: FreshInputs
  /** Its `reliability: best_effort` inputs (from operators, never in the outbox). */
  readonly #bestEffort: ReadonlySet<string>
  /**
   * Whether `next` waits in the inbox: the worker has its depth of events posted, or an input
   * is held (backpressure, or its `drop_oldest` input has its queue_size posted). Checked on
   * the event about to be taken, past any copy skipped as already committed.
   */
  readonly #heldItem = (next: DeliveredEvent): boolean =>
    (this.#posted >= depthFor(next) && !this.inbox.stopRequested) || (next.type === 'input' && (this.#pause.holds() || this.#fresh.holds(next.id)))
  /**
   * Set to STOPPING when the dataflow stops: the worker then hands back the posted events of
   * the inputs that make way for the Stop (OperatorWorkerData.stop). One word for every launch:
   * a Stop is final.
   */
  readonly #stopWord = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT))
  /** Where the current worker's operator called process.exit(), if it said so as it ended. */
  #exitCall: string | undefined
  /** What the current worker holds, as it tells it (OperatorWorkerData.held); 0 until it does. */
  readonly #heldWord = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT))
  /** The inputs whose posted events the worker hands back at a Stop of the dataflow. */
  readonly #waitingAtStop: string[]

  /** The names the current worker stages large payloads under (OperatorWorkerData.staging), if it does. */
  #stagePrefix: string | undefined
  readonly #links: OperatorLinks | undefined
  readonly #linkCounts: OperatorHostOptions['linkCounts']
  /** The tallies (LinkMessage.tally) of the links' ends the current worker holds. */
  #linkTallies: SharedArrayBuffer[] = []
  /** The current worker's LinkMessage.activity, when it receives on links. */
  #linkActivity: Int32Array | undefined
  /** Looks for a handler of a linked event that outlives `timeout` (the host did not post that event). */
  #linkWatch: NodeJS.Timeout | undefined

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
    this.#warningMs = options.warningMs ?? SLOW_WARNING_S * 1000
    this.#kvs = options.kvs
    this.#budget = new RestartBudget(spec.restart)
    this.#fresh = new FreshInputs(spec.inputs)
    this.#bestEffort = new Set(spec.inputs.filter((input) => input.reliability === 'best_effort').map((input) => input.id))
    this.#waitingAtStop = spec.inputs.filter((input) => this.inbox.atStop(input.id) !== undefined).map((input) => input.id)
    const sender = { unit: this, host, nodeId: node.id, operatorId: spec.id, stateful: options.state !== undefined }
    this.#sent = new SentMessages(sender, options.outboxRoutes, options.receiverCount)
    this.#commits = new EventCommits(this.key, options.state, this.#deliveries, this.#sent, {
      fail: (failure) => this.#failForGood(failure),
      warn: (text) => this.#notice('warn', `${this.display}: ${text}`),
    })
    this.#spare = new SpareSlot(() => ({ env: workerEnv(node), display: this.display, maxMemoryMb: options.maxMemoryMb }), spec)
    this.#pause = new PauseGate(
      () => this.pump(),
      (text) => this.#notice('warn', `${this.display}: ${text}`),
    )
    this.#linkCounts = options.linkCounts
    this.#links = options.links?.has(this.key) === true ? options.links : undefined
    this.#links?.register(this.key, { give: (link) => this.#giveLink(link), lost: (inputId, count) => this.inbox.countDropped(inputId, count) })
  }

  get status(): UnitStatus {
    return this.#status
  }

  get restartCount(): number {
    return this.#restartCount
  }

  /** The current worker has been loading its operator longer than {@link SLOW_WARNING_S}, and is still at it. */
  get loadOverdue(): boolean {
    return this.#loadOverdue && this.#status === 'starting'
  }

  /** Seconds it may load before the run says so. */
  get warningS(): number {
    return this.#warningMs / 1000
  }

  get threadId(): number | undefined {
    return this.#worker?.threadId
  }

  /**
   * Seconds its current worker's thread has been busy (its event loop's active time: handlers,
   * loading, and whatever holds the thread), which `dora-ts list` and `top` give as an
   * operator's CPU; undefined without a worker. No per-thread CPU clock is open to Node 20.
   */
  get busySeconds(): number | undefined {
    try {
      const active = this.#worker?.performance.eventLoopUtilization().active
      return active === undefined ? undefined : active / 1000
    } catch {
      // A worker that has just exited.
      return undefined
    }
  }

  /**
   * Bytes its current worker holds (heap in use and buffers, as max_memory_mb counts them), as
   * it last told (within a second); undefined before it has loaded, or without a worker.
   */
  get heldBytes(): number | undefined {
    if (this.#worker === undefined) return undefined
    const held = Number(Atomics.load(this.#heldWord, 0))
    return held > 0 ? held : undefined
  }

  /** The operator's `max_memory_mb`, if it has one. */
  get maxMemoryMb(): number | undefined {
    return this.#maxMemoryMb
  }

  /** Launch the first worker. Rejects when the operator fails to load (no restart loop). */
  start(): Promise<void> {
    this.#watchLongHandlers()
    return new Promise((resolve, reject) => {
      const first: FirstLaunch = {
        resolve: () => {
          this.#unsettledStart = undefined
          resolve()
        },
        reject: (err) => {
          this.#unsettledStart = undefined
          reject(err)
        },
      }
      this.#unsettledStart = first.reject
      this.#launch(first)
    })
  }

  /**
   * Say when a handler has run for the warning time, unless its `timeout:` ends it first.
   * From start(), not the constructor: a run that fails before its units start never ends them.
   */
  #watchLongHandlers(): void {
    if (this.spec.timeout === undefined || this.spec.timeout * 1000 > this.#warningMs) {
      this.#longHandler ??= new LongHandlerWatch({
        warnAfterMs: this.#warningMs,
        busy: () => this.#posted > 0 && this.#status === 'running' && this.#worker !== undefined,
        stalled: (ms) =>
          this.#host.log({
            source: 'dora-ts',
            stream: 'supervisor',
            level: 'warn',
            text: `${this.display} has been handling one event for ${secondsText(ms)} s: a handler has not returned (a loop, or a call that never ends), and its inputs wait or drop meanwhile. If it is only slow, this is all; \`timeout:\` on operator "${this.spec.id}" makes a handler that long count as a crash, restarted by its restart_policy.`,
          }),
        resumed: (ms) =>
          this.#host.log({
            source: 'dora-ts',
            stream: 'supervisor',
            level: 'info',
            text: `${this.display} is through that event, about ${secondsText(ms)} s after it began`,
          }),
      })
    }
  }

  pump(): void {
    // Stop is final: a crashed operator waiting for its restart ends now, with its real cause.
    if (this.#status === 'restarting' && this.inbox.stopRequested) {
      this.#failForGood(`${this.#lastCrash ?? 'crashed'}; not restarted: ${STOPPING_REASON}`)
      return
    }
    // The Stop comes next: what the inbox set aside for it, the worker sets aside too.
    if (this.inbox.stopRequested) Atomics.store(this.#stopWord, 0, STOPPING)
    if (this.#status !== 'running' || this.#worker === undefined) return
    // Refill in batches: one post carries all the events that fit (see #post), and a worker
    // with more than half its depth of events queued has enough work until they arrive. Not
    // the Stop: it goes at once.
    if (this.#posted > depthFor(this.inbox.peek()) / 2 && !this.inbox.stopRequested) return
    while (!this.#stopSent && this.#worker !== undefined) {
      const inFlight = this.#deliveries.take(this.inbox, (skipped) => this.discarded(skipped), this.#heldItem)
      if (inFlight === undefined) return
      this.#post(inFlight)
    }
  }

  /**
   * An input this operator will never handle (dropped by its queue policy, or a copy it
   * already committed): its outbox entry goes, or the next run would replay it.
   */
  discarded(item: DeliveredEvent): void {
    this.#commits.discard(item)
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

  restartNow(reason: string): string | undefined {
    if (this.inbox.stopRequested) return 'its dataflow is stopping'
    if (this.#endedReported) return 'it has ended for good'
    if (this.#status === 'restarting') {
      // Waiting out its restart delay: now.
      clearTimeout(this.#restartTimer)
      this.#relaunch()
      return undefined
    }
    // Its load (module, restoreState, init) settles the run's start: a restart in the middle of
    // it would leave that unanswered. A Stop ends one that never finishes loading.
    if (this.#status === 'starting' || this.#worker === undefined) return 'it is still loading; restart it once it runs'
    // Not the input's fault, and not a crash: neither max_redeliveries nor max_restarts counts it.
    this.#crash(reason, false, true)
    return undefined
  }

  #end(reason: string): void {
    clearTimeout(this.#restartTimer)
    this.#watchdog.clear()
    if (this.#endedReported) return
    this.#failure ??= reason
    this.#stopWorker()
    this.#report()
  }

  /**
   * An operator whose module's top level, restoreState() or init() never returns (a loop, a
   * wait on a device that never answers) held `dora-ts run` silent: no line, no "running",
   * until Ctrl-C, and then the whole grace period. Say so once it has loaded for
   * {@link SLOW_WARNING_S} (or the run's operatorWarningMs), naming the operator and what to
   * set; a Stop then ends it at once (stopUnits): it cannot handle one, and nothing of it has
   * committed.
   */
  #armLoadWarning(): void {
    this.#clearLoadWarning()
    const generation = this.#generation
    this.#loadTimer = setTimeout(() => {
      if (generation !== this.#generation || this.#status !== 'starting') return
      this.#loadOverdue = true
      this.#host.log({
        source: 'dora-ts',
        stream: 'supervisor',
        level: 'warn',
        text: `${this.display} has not finished loading ${this.#warningMs / 1000} s after its worker started: its module's top level, restoreState() or init() has not returned, and it gets no inputs until they do. If it only loads slowly (a model), this is all; if it is stuck, \`health_check_timeout:\` on operator "${this.spec.id}" makes a start that long count as a crash, restarted by its restart_policy.`,
      })
    }, this.#warningMs)
    this.#loadTimer.unref()
  }

  #clearLoadWarning(): void {
    clearTimeout(this.#loadTimer)
    this.#loadOverdue = false
  }

  /** Retire the current worker: its later messages and exit are ignored, and its thread ends. */
  #stopWorker(): void {
    this.#clearLoadWarning()
    this.#generation++
    clearInterval(this.#linkWatch)
    this.#linkActivity = undefined
    const worker = this.#worker
    this.#worker = undefined
    this.#dropStaged()
    this.#batch.clear()
    // No worker: its thread already exited (the 'exit' that brought us here).
    const exited = worker === undefined ? Promise.resolve() : worker.terminate()
    // Settled, the chain holds nothing (a crash-looping operator retires a worker per restart).
    this.#retiredGone = Promise.allSettled([this.#retiredGone, exited]).then(() => undefined)
    this.#linksGone(exited)
  }

  /**
   * Resolves once the threads of the workers this host retired have ended (the run closes its
   * store after it). terminate() is not instant: a worker in the middle of a burst of sends went
   * on writing staged payloads after the unit had ended, and those written after the store's
   * close were left in shared memory (six 256 KiB files in a CI run's segments-kill test).
   */
  threadsGone(): Promise<void> {
    return this.#retiredGone
  }

  /** The worker that held the current ends of links is retired; `exited` settles when its thread is gone. */
  #linksGone(exited: Promise<unknown>): void {
    const tallies = this.#linkTallies
    this.#linkTallies = []
    this.#links?.gone(this.key, tallies, exited)
  }

  #launch(first?: FirstLaunch): void {
    const generation = ++this.#generation
    this.#posted = 0
    this.#fresh.reset()
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
    const stop = this.#waitingAtStop.length === 0 ? undefined : { word: this.#stopWord.buffer as SharedArrayBuffer, inputs: this.#waitingAtStop }
    // A new worker's word: nothing told yet (what the last one held is gone with it).
    Atomics.store(this.#heldWord, 0, 0n)
    this.#exitCall = undefined
    const { workerData, kvsPort } = workerDataOf(
      this.#host,
      this.node,
      this.spec,
      this.#restartCount,
      state,
      this.#kvs,
      this.#staging(),
      stop,
      this.#heldWord.buffer as SharedArrayBuffer,
    )
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
        env: workerEnv(this.node),
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
            this.#linksGone(Promise.resolve())
            this.#report()
            return
          }
          const reason = `its worker exited with code ${code}${this.#exitCall === undefined ? '' : `: ${this.#exitCall}`}`
          if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason, this.#status === 'running')
        },
      },
      this.#spare.take(),
    )
    this.#wireLinks()
    this.#armLoadWarning()
    const healthTimeout = this.spec.restart.healthCheckTimeout
    if (healthTimeout !== undefined) {
      this.#watchdog.arm(healthTimeout, `did not become ready within health_check_timeout (${healthTimeout} s)`, false)
    }
  }

  #onMessage(message: WorkerToHost, first: FirstLaunch | undefined): void {
    switch (message.type) {
      case 'ready': {
        if (message.counts !== undefined) this.#onLinkCounts(message.counts)
        this.#watchdog.clear()
        this.#clearLoadWarning()
        if (!this.#commits.launch(message.writes, message.outputs)) return
        this.#status = 'running'
        first?.resolve()
        // A spare thread for the next restart, started after the first event (spare-slot.ts).
        this.#spare.ready(this.#restartCount)
        // The events a crash interrupted go again, in order, before anything new.
        for (const inFlight of this.#deliveries.uncommitted) this.#post(inFlight)
        this.pump()
        // Nothing to handle yet: nothing for the spare's start to delay.
        if (this.#posted === 0) this.#startSpare()
        return
      }
      case 'exiting':
        this.#exitCall = message.why
        return
      case 'load-failed': {
        const error = deserializeError(message.error)
        if (first !== undefined) {
          // Failing to load the first time is a bug in the module or the YAML, not a crash:
          // restarting would only loop.
          // The project's part in it, if any, after the message's first line (not Node's require stack).
          const hint = loadFailureHint(this.spec.module, [error.message, String((error as { code?: unknown }).code)])
          const why = hint === undefined ? message.why : `${error.message.split('\n', 1)[0]}; it is ${hint}`
          this.#failForGood(`failed to load ${this.spec.module}: ${why}`)
          first.reject(error)
        } else {
          // restoreState or init failed: not the fault of the input waiting for it.
          this.#crash(`failed to load on restart: ${message.why}`, false)
        }
        return
      }
      case 'failed':
        this.#crash(`crashed: ${withCode(deserializeError(message.error))}`, true)
        return
      case 'memory-exceeded': {
        const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0)
        const held = `${mib(message.heapBytes + message.bufferBytes)} MiB (${mib(message.bufferBytes)} MiB of it in buffers)`
        // Held across events (a leak), not one input's fault: no input is counted as poison.
        this.#crash(`ran out of memory: it held ${held} after a full collection, over max_memory_mb ${this.#maxMemoryMb} MiB`, false)
        return
      }
      case 'set-aside':
        this.#onSetAside(message.count)
        return
      case 'done':
        if (message.counts !== undefined) this.#onLinkCounts(message.counts)
        if (message.direct === true) this.#onLinkedDone(message.writes ?? [], message.outputs ?? [])
        else this.#onDone(message.writes ?? [], message.outputs ?? [])
        return
      case 'counts':
        this.#onLinkCounts(message.counts)
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
    const moved = transferOf(inFlight, this.#state, this.key, this.#isBestEffort(inFlight.item))
    if (moved !== undefined && 'failure' in moved) {
      this.#failForGood(moved.failure)
      return
    }
    let transfer = moved
    let event = this.#deliveries.post(inFlight)
    if (event.type === 'stop') this.#stopSent = true
    // The watchdog times the event the worker is handling: the oldest posted one.
    if (this.#posted === 0) this.#armHandlerWatchdog()
    this.#posted++
    if (event.type === 'input') this.#fresh.posted(event.id)
    // Without a transfer it is copied into the worker (structured clone): the original stays
    // here for a redelivery. Moved, not copied: a structured clone of 1 MB cost 2-35 ms (fresh
    // memory on both sides), a transfer nothing. The outbox keeps the bytes until this event
    // commits.
    if (transfer !== undefined) inFlight.transferred = true
    else if (event.type === 'input' && event.data.byteLength >= MIN_TRANSFER_BYTES) {
      // Kept here, so copied; once, into a buffer that moves: packed into the batch instead, it
      // was copied in and then out again by the worker (a 4 MB input twice).
      const copy = copyBytes(event.data)
      event = { ...event, data: copy }
      transfer = copy.buffer
    }
    this.#batch.add(event, transfer, this.#generation)
  }

  /**
   * Where the worker about to launch writes its large outputs for the store to take as segment
   * files (OperatorWorkerData.staging): only outputs that go through the outbox, only when the
   * store keeps segments for this operator. A fresh prefix per launch, so what a worker that is
   * gone left behind can be told apart ({@link #dropStaged}).
   */
  #staging(): OperatorWorkerData['staging'] {
    this.#stagePrefix = undefined
    let where: { dir: string; threshold: number; spares?: SharedArrayBuffer | undefined } | undefined
    try {
      where = this.#state?.staging()
    } catch {
      where = undefined
    }
    if (where === undefined) return undefined
    const outputs = this.spec.outputs.filter((o) => this.#sent.routes(o).length > 0)
    if (outputs.length === 0) return undefined
    // `<launch>@`: each file `.staged-<launch>@<n>` is a segment's name, kept when a commit takes it.
    const prefix = `${randomBytes(8).toString('hex')}@`
    this.#stagePrefix = prefix
    return { dir: where.dir, prefix: `${STAGED_PREFIX}${prefix}`, threshold: Math.max(where.threshold, SPLIT_BYTES), outputs, spares: where.spares }
  }

  /**
   * The worker is retired: remove the payloads it staged that no commit took (an event it never
   * finished). After the commit group of this turn, which takes those of the events it did
   * finish; a file it writes after that (terminate() is not instant) goes when the store closes.
   */
  #dropStaged(): void {
    const prefix = this.#stagePrefix
    const state = this.#state
    this.#stagePrefix = undefined
    if (prefix === undefined || state === undefined) return
    setImmediate(() => {
      try {
        state.dropStaged(prefix)
      } catch {
        // The store is closed: its close() removed every staged file.
      }
    }).unref()
  }

  #armHandlerWatchdog(): void {
    if (this.spec.timeout !== undefined) {
      this.#watchdog.arm(this.spec.timeout, `a handler did not return within its timeout (${this.spec.timeout} s)`, true)
    }
  }

  /**
   * The worker is through with the oldest posted event (handled or handed back): one fewer
   * posted, and its input's freshness count goes down.
   */
  #workerThrough(item: DeliveredEvent): void {
    this.#longHandler?.through()
    this.#posted = Math.max(0, this.#posted - 1)
    if (item.type === 'input') this.#fresh.handled(item.id)
  }

  #onDone(writes: StateWrite[], outputs: BufferedOutput[]): void {
    this.#watchdog.clear()
    const inFlight = this.#deliveries.inFlight
    if (inFlight === undefined) return
    this.#workerThrough(inFlight.item)
    if (this.#posted > 0) this.#armHandlerWatchdog()
    const generation = this.#generation
    // Grouped with the other commits of this turn (one transaction); the worker meanwhile
    // goes on with the next events posted to it.
    this.#commits.eventLater(inFlight, writes, outputs, () => {
      // Committed: LMDB holds a copy of each value, so their buffers go back to the worker.
      if (generation === this.#generation) this.#batch.recycle(recyclableBuffers(writes))
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

  /**
   * The worker handed back `count` posted events unhandled, at a Stop of the dataflow: their
   * messages stay in the outbox (the next run replays them), nothing is committed for them.
   */
  #onSetAside(count: number): void {
    let waiting = 0
    for (let i = 0; i < count; i++) {
      const inFlight = this.#deliveries.setAside()
      if (inFlight === undefined) break
      this.#workerThrough(inFlight.item)
      if (inFlight.item.type === 'input' && this.inbox.atStop(inFlight.item.id) === 'waits') waiting++
    }
    this.inbox.countWaitingForNextRun(waiting)
    this.#watchdog.clear()
    if (this.#posted > 0) this.#armHandlerWatchdog()
    this.pump()
  }

  /**
   * The worker handled an event that came over a direct link: commit what it did (grouped, as
   * any event) and route its messages after. Nothing the host posted is done by it.
   */
  #onLinkedDone(writes: StateWrite[], outputs: BufferedOutput[]): void {
    const generation = this.#generation
    this.#commits.linkedLater(writes, outputs, () => {
      if (generation === this.#generation) this.#batch.recycle(recyclableBuffers(writes))
    })
  }

  /** The new worker gets its ends of the run's direct links (operator-links.ts), and a watch on its linked events. */
  #wireLinks(): void {
    const links = this.#links
    if (links === undefined) return
    if (links.receives(this.key)) {
      const activity = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)
      this.#linkActivity = new Int32Array(activity)
      const timeout = this.spec.timeout
      if (timeout !== undefined) {
        // A linked event is never posted by the host, so the watchdog does not time it: this
        // looks at the worker's activity words instead, and finds a handler that is still in
        // the same linked event one timeout later (so it fires within one to two timeouts).
        let last = -1
        this.#linkWatch = setInterval(() => {
          const words = this.#linkActivity
          if (words === undefined) return
          const started = Atomics.load(words, LINK_STARTED)
          if (Atomics.load(words, LINK_ACTIVE) === 1 && started === last) {
            this.#crash(`a handler did not return within its timeout (${timeout} s)`, false)
            return
          }
          last = started
        }, timeout * 1000)
        this.#linkWatch.unref()
      }
    }
    links.launched(this.key)
  }

  /**
   * What the worker's links did: drops go to the inbox's count of their input (`dora-ts list`
   * and the run's final report read it, as for the inputs the host queues), the rest to the run.
   */
  #onLinkCounts(counts: LinkCounts): void {
    for (const [inputId, n] of Object.entries(counts.dropped)) this.inbox.countDropped(inputId, n)
    this.#linkCounts?.(counts)
  }

  /** Hand an end of a link to the current worker; false when there is none. */
  #giveLink(link: LinkMessage): boolean {
    const worker = this.#worker
    if (worker === undefined) return false
    const activity = link.role === 'in' ? this.#linkActivity : undefined
    worker.postMessage({ ...link, activity: activity?.buffer as SharedArrayBuffer | undefined }, [link.port])
    if (link.tally !== undefined) this.#linkTallies.push(link.tally)
    return true
  }

  /** Whether the worker is handling an event that came over a link (its crash is not the host's event's fault). */
  #handlingLinked(): boolean {
    const words = this.#linkActivity
    return words !== undefined && Atomics.load(words, LINK_ACTIVE) === 1
  }

  /** Start the spare thread if one is due (once the restarted worker handled an event, or crashed). */
  #startSpare(): void {
    if (!this.#endedReported) this.#spare.startIfDue()
  }

  /**
   * A crash. `caused`: the event the worker was handling caused it (its handler threw or timed
   * out, or the worker died while running it), so it counts towards max_redeliveries; a failed
   * restore, a kill on purpose or a health check does not. `requested`: a restart asked for
   * (restartNow): at once, whatever the restart policy, and not counted against it.
   */
  #crash(reason: string, caused: boolean, requested = false): void {
    if (this.#endedReported || this.#status === 'restarting') return
    // Read before the worker is retired (that forgets its activity words): a crash or a hang in
    // an event that came over a link is that event's alone, lost with it (at most once).
    if (caused && this.#handlingLinked()) caused = false
    this.#watchdog.clear()
    this.#stopWorker()
    this.#lastCrash = reason
    this.#notice(requested ? 'warn' : 'error', `${this.display} ${reason}`)

    const oldest = this.#deliveries.inFlight
    const consumed = oldest === undefined ? undefined : consumedKey(this.key, oldest.item)
    const poison = this.#deliveries.crashed(this.spec.maxRedeliveries, caused)
    if (poison !== undefined) {
      // Dropped for good: it counts as consumed, in the store too (dedup record, outbox entry).
      if (!this.#commits.commit([], [], consumed)) return
      const { text, payload } = poisonReport(this.display, poison, this.spec.maxRedeliveries, reason)
      this.#notice('error', `${this.display} ${text}`)
      this.#sent.emit(POISON_OUTPUT, payload, 'json', {}, '')
    }
    this.#dropLost()
    // Stop is final: after it nothing restarts.
    const decision: RestartDecision = requested
      ? { restart: true, delayMs: 0, attempt: this.#restartCount + 1 }
      : this.#budget.next(true, this.inbox.stopRequested)
    if (!decision.restart) {
      this.#failForGood(`${reason}; not restarted: ${decision.reason}`)
      return
    }
    this.#status = 'restarting'
    // Crashed before handling an event since its restart (a crash loop): the spare starts now,
    // during restart_delay, rather than never.
    this.#startSpare()
    this.#notice('warn', `${this.display} restarting in ${Math.round(decision.delayMs)} ms (restart ${decision.attempt})`)
    this.#restartTimer = setTimeout(() => this.#relaunch(), decision.delayMs)
  }

  /** Start the next worker of a crashed (or restarted) operator. */
  #relaunch(): void {
    this.#restartCount++
    this.#host.restarted(this)
    this.#launch()
  }

  /** Whether `item` is an input on one of this operator's best-effort inputs. */
  #isBestEffort(item: DeliveredEvent): boolean {
    return item.type === 'input' && this.#bestEffort.has(item.id)
  }

  /**
   * After a crash: best-effort inputs whose bytes had moved into the dead worker are gone (no
   * outbox holds them to read back): they are dropped, counted as drops of their input, as a
   * full queue would have dropped them. Copied ones stay and are delivered again.
   */
  #dropLost(): void {
    if (this.#bestEffort.size === 0) return
    const lost = this.#deliveries.drop((inFlight) => inFlight.transferred && this.#isBestEffort(inFlight.item))
    if (lost.length === 0) return
    for (const inFlight of lost) if (inFlight.item.type === 'input') this.inbox.countDropped(inFlight.item.id)
    this.#notice('warn', `${this.display}: ${lost.length} best-effort input(s) the crash interrupted are lost (their bytes had moved into the worker)`)
  }

  /** A line of the supervisor's own in the log. */
  #notice(level: LogEntry['level'], text: string): void {
    this.#host.log({ source: 'dora-ts', stream: 'supervisor', level, text })
  }

  #failForGood(error: string): void {
    this.#failure ??= error
    this.#status = 'failed'
    this.#watchdog.clear()
    this.#stopWorker()
    this.#report()
  }

  #report(): void {
    this.#spare.close()
    this.#longHandler?.close()
    // A clean end (Stop handled, the worker exited) does not go through #stopWorker.
    clearInterval(this.#linkWatch)
    this.#links?.ended(this.key)
    if (this.#endedReported) return
    this.#endedReported = true
    this.#watchdog.clear()
    clearTimeout(this.#restartTimer)
    // Events handled before the end may still wait in this turn's commit group: commit them
    // now, so their outputs are routed before `ended` closes this operator's outputs (else a
    // crash right after them, restart_policy never, left the sink without them until the
    // next run replayed them from the outbox).
    this.#state?.flush()
    this.#status = this.#failure === undefined ? 'finished' : 'failed'
    const result: UnitResult = { status: this.#status, error: this.#failure, stderrTail: this.#stderr.lines }
    this.#unsettledStart?.(new Error(`${this.display} ${this.#failure ?? 'ended before it loaded'}`))
    this.#host.ended(this, result)
  }
}
