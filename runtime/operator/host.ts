/**
 * Supervises one operator in its own worker thread (piscina's pattern), and makes it survive
 * crashes: the worker counts as started only after READY; one event is in flight at a time and
 * is kept until its `done` (with the event's state writes) has been committed, so after any
 * crash the restarted worker gets `restoreState` with the last committed state, then the
 * unfinished event again, marked redelivered. ZeroMQ never enters the worker (zeromq.js #411).
 *
 * Crash kinds handled the same way: a handler that throws or rejects, `process.exit()` in the
 * worker, an uncaught error, a handler that outlives its `timeout` (the thread is terminated),
 * running out of memory (resource limits), and failing to load on a restart.
 */
import { Worker, type MessagePort } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { deserializeError, DoraError, errorMessage } from '../../src/errors.js'
import { nowNs } from '../../src/clock.js'
import { copyBytes, ownsWholeBuffer } from '../../src/bytes.js'
import type { MessageHeader } from '../../src/events.js'
import type { OperatorNodeSpec, OperatorSpec } from '../../src/spec/types.js'
import { POISON_OUTPUT } from '../../src/spec/resolve.js'
import type { OperatorState } from '../../src/store/state/store.js'
import type { DeliveredEvent } from '../../src/events.js'
import { encodeJson } from '../../node-sdk/payload.js'
import type { Inbox } from '../supervisor/inbox.js'
import type { HostToWorker, OperatorWorkerData, StateWrite, WorkerToHost } from './messages.js'
import { MAX_PAUSE_MS } from '../supervisor/flow-control.js'
import { RestartBudget } from '../supervisor/restart-policy.js'
import { displayName, operatorKey } from '../supervisor/routing.js'
import { forEachLine, LineTail, type Unit, type UnitHost, type UnitResult, type UnitStatus } from '../supervisor/unit.js'


/**
 * The worker entry is always the compiled file: when this module itself runs from the TS
 * sources (tests), map to the build output, since a worker cannot load .ts without a loader.
 */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return join(dirname(here), 'worker.js')
  return join(dirname(here), '..', '..', 'dist', 'runtime', 'operator', 'worker.js')
}

export interface OperatorHostOptions {
  inbox: Inbox
  /** The operator's private state; undefined runs it without persistence. */
  state?: OperatorState | undefined
  /** Heap limit of the worker in MiB (resource limits); undefined = Node's default. */
  maxMemoryMb?: number | undefined
  /** The shared KVS the operator reaches as ctx.kvs: a new port to the run's KVS thread per launch. */
  kvs?: { dir: string; namespace: string; connect(): MessagePort } | undefined
}

/** An event handed to the worker and not yet committed. */
interface InFlight {
  item: DeliveredEvent
  eventNo: number
  crashes: number
}

/** An error's message, followed by its code when it is a dora-ts error (`[DORA_KVS_BAD_KEY]`), for scripts. */
function withCode(error: Error): string {
  return error instanceof DoraError ? `${error.message} [${error.code}]` : error.message
}

/** Id of a message produced while handling event `eventNo`: `<event>.<index>`. */
const MESSAGE_ID = /^(\d+)\.(\d+)$/

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
  #inFlight: InFlight | undefined
  #eventNo = 0
  #outputIndex = 0
  #stopSent = false
  #stopHandled = false
  #endedReported = false
  #failure: string | undefined
  #restartCount = 0
  #restartTimer: NodeJS.Timeout | undefined
  #watchdog: NodeJS.Timeout | undefined
  #deduplicated = 0
  /** Backpressure (flow-control.ts): while some output is paused, no new input is delivered. */
  #pausedSince: number | undefined
  #pauseTimer: NodeJS.Timeout | undefined
  #pauseWarned = false
  readonly #seen = new Map<string, [number, number]>()
  readonly #sequences = new Map<string, bigint>()
  readonly #stderr = new LineTail()
  readonly #host: UnitHost
  readonly #state: OperatorState | undefined
  readonly #maxMemoryMb: number | undefined
  readonly #kvs: OperatorHostOptions['kvs']
  readonly #budget: RestartBudget

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
  }

  get status(): UnitStatus {
    return this.#status
  }

  get restartCount(): number {
    return this.#restartCount
  }

  /** Redelivered messages dropped because this operator had already committed them. */
  get deduplicated(): number {
    return this.#deduplicated
  }

  get threadId(): number | undefined {
    return this.#worker?.threadId
  }

  /** Launch the first worker. Rejects when the operator fails to load (no restart loop). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.#launch({ resolve, reject }))
  }

  pump(): void {
    if (this.#status !== 'running' || this.#inFlight !== undefined || this.#stopSent) return
    if (this.#pausedSince !== undefined && this.inbox.peek()?.type === 'input' && !this.#pauseExpired()) return
    for (let item = this.inbox.shift(); item !== undefined; item = this.inbox.shift()) {
      if (item.type === 'input' && this.#isDuplicate(item.header)) {
        this.#deduplicated++
        continue
      }
      this.#inFlight = { item, eventNo: ++this.#eventNo, crashes: 0 }
      this.#post(this.#inFlight)
      return
    }
  }

  /** Backpressure: hold new inputs while any of `outputs` is paused (at most MAX_PAUSE_MS per event). */
  setPausedOutputs(outputs: ReadonlySet<string>): void {
    clearTimeout(this.#pauseTimer)
    if (outputs.size === 0) {
      this.#pausedSince = undefined
      this.#pauseWarned = false
      this.pump()
      return
    }
    this.#pausedSince ??= Date.now()
    this.#wakeAtPauseEnd()
  }

  /** Pump again when the current pause reaches MAX_PAUSE_MS. */
  #wakeAtPauseEnd(): void {
    clearTimeout(this.#pauseTimer)
    this.#pauseTimer = setTimeout(() => this.pump(), Math.max(0, this.#pausedSince! + MAX_PAUSE_MS - Date.now())).unref()
  }

  /**
   * A pause that lasted MAX_PAUSE_MS lets one event through and starts again: a cycle of
   * backpressure inputs slows to a crawl instead of deadlocking, and says so once.
   */
  #pauseExpired(): boolean {
    if (Date.now() - this.#pausedSince! < MAX_PAUSE_MS) return false
    if (!this.#pauseWarned) {
      this.#pauseWarned = true
      this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'warn', text: `${this.display}: its outputs have been paused by backpressure for ${MAX_PAUSE_MS / 1000} s; letting one input through every ${MAX_PAUSE_MS / 1000} s (a cycle of backpressure inputs?)` })
    }
    this.#pausedSince = Date.now()
    this.#wakeAtPauseEnd()
    return true
  }

  terminate(reason: string): void {
    this.#end(reason)
  }

  kill(reason: string): void {
    this.#end(reason)
  }

  /** Crash it on purpose (fault injection): the restart policy acts as for a real crash. */
  crash(reason = 'killed on purpose'): void {
    if (this.#worker !== undefined) this.#crash(reason)
  }

  #end(reason: string): void {
    clearTimeout(this.#restartTimer)
    clearTimeout(this.#watchdog)
    if (this.#endedReported) return
    this.#failure ??= reason
    this.#generation++
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) void worker.terminate()
    this.#report()
  }

  #launch(first?: { resolve: () => void; reject: (err: unknown) => void }): void {
    const generation = ++this.#generation
    let state: Map<string, Uint8Array>
    try {
      state = this.#state?.load().state ?? new Map()
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
      state,
    }
    const kvsPort = this.#kvs?.connect()
    if (this.#kvs !== undefined && kvsPort !== undefined) workerData.kvs = { dir: this.#kvs.dir, namespace: this.#kvs.namespace, port: kvsPort }
    this.#status = 'starting'
    const worker = new Worker(workerEntry(), {
      workerData,
      ...(kvsPort === undefined ? {} : { transferList: [kvsPort] }),
      stdout: true,
      stderr: true,
      env: { ...process.env, ...this.node.env },
      name: `dora-ts operator ${this.display}`,
      ...(this.#maxMemoryMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: this.#maxMemoryMb } }),
    })
    this.#worker = worker
    forEachLine(worker.stdout, (text) => this.#host.log({ source: this.display, stream: 'stdout', level: 'info', text }))
    forEachLine(worker.stderr, (text) => {
      this.#stderr.push(text)
      this.#host.log({ source: this.display, stream: 'stderr', level: 'warn', text })
    })
    const current = (): boolean => generation === this.#generation

    const healthTimeout = this.spec.restart.healthCheckTimeout
    if (healthTimeout !== undefined) {
      this.#armWatchdog(healthTimeout, `did not become ready within health_check_timeout (${healthTimeout} s)`)
    }

    worker.on('message', (message: WorkerToHost) => {
      if (!current()) return
      switch (message.type) {
        case 'ready':
          clearTimeout(this.#watchdog)
          if (!this.#commit(message.writes)) return
          this.#status = 'running'
          first?.resolve()
          if (this.#inFlight !== undefined) this.#post(this.#inFlight)
          else this.pump()
          return
        case 'load-failed': {
          const error = deserializeError(message.error)
          if (first !== undefined) {
            // Failing to load the first time is a bug in the module or the YAML, not a crash:
            // restarting would only loop.
            this.#failForGood(`failed to load ${this.spec.module}: ${withCode(error)}`)
            first.reject(error)
          } else {
            this.#crash(`failed to load on restart: ${withCode(error)}`)
          }
          return
        }
        case 'failed':
          this.#crash(`crashed: ${withCode(deserializeError(message.error))}`)
          return
        case 'done':
          this.#onDone(message.writes)
          return
        case 'output':
          this.#emit(message.outputId, message.data, message.encoding, message.parameters)
          return
        case 'log':
          this.#host.log({ source: this.display, stream: 'log', level: message.level, text: message.text })
          return
        default:
          return
      }
    })
    // A worker that dies before its first READY is a load failure, not a reason to loop.
    const loadFailed = (reason: string): boolean => {
      if (first === undefined || this.#status === 'running') return false
      this.#failForGood(reason)
      first.reject(new Error(reason))
      return true
    }
    worker.on('error', (err) => {
      if (!current()) return
      const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
      const reason = oom ? `ran out of memory (limit ${this.#maxMemoryMb ?? 'default'} MiB)` : `crashed: ${err.message}`
      if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason)
    })
    worker.on('exit', (code) => {
      if (!current()) return
      this.#worker = undefined
      if (this.#stopHandled) {
        this.#report()
        return
      }
      const reason = `its worker exited with code ${code}`
      if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason)
    })
  }

  #post(inFlight: InFlight): void {
    const event = forWorker(inFlight.item, inFlight.crashes > 0)
    if (event.type === 'stop') this.#stopSent = true
    this.#outputIndex = 0
    if (this.spec.timeout !== undefined) {
      this.#armWatchdog(this.spec.timeout, `a handler did not return within its timeout (${this.spec.timeout} s)`)
    }
    const message: HostToWorker = { type: 'event', event }
    // Inputs are copied into the worker, never transferred: the original stays here until the
    // event commits, so it can be delivered again after a crash.
    this.#worker!.postMessage(message)
  }

  #armWatchdog(seconds: number, reason: string): void {
    clearTimeout(this.#watchdog)
    this.#watchdog = setTimeout(() => this.#crash(reason), seconds * 1000)
    this.#watchdog.unref()
  }

  #onDone(writes: StateWrite[]): void {
    clearTimeout(this.#watchdog)
    const inFlight = this.#inFlight
    if (!this.#commit(writes)) return
    this.#inFlight = undefined
    if (inFlight !== undefined && inFlight.item.type === 'input') this.#markSeen(inFlight.item.header)
    if (inFlight?.item.type === 'stop') {
      // Stop was handled: a deliberate, clean end.
      this.#stopHandled = true
      this.#status = 'stopping'
      void this.#worker?.terminate()
      return
    }
    this.pump()
  }

  /** Commit an event's state writes in one transaction; false (and failed) when that fails. */
  #commit(writes: StateWrite[]): boolean {
    if (writes.length === 0) return true
    if (this.#state === undefined) return true
    try {
      this.#state.commit(writes, { lastEvent: BigInt(this.#eventNo), seen: new Map() })
      return true
    } catch (err) {
      // A full map or disk will not get better by restarting: fail with the store's advice.
      const text = err instanceof DoraError ? err.describe() : errorMessage(err)
      this.#failForGood(`could not commit its state: ${text}`)
      return false
    }
  }

  #crash(reason: string): void {
    if (this.#endedReported || this.#status === 'restarting') return
    clearTimeout(this.#watchdog)
    this.#generation++
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) void worker.terminate()
    this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'error', text: `${this.display} ${reason}` })

    const inFlight = this.#inFlight
    if (inFlight !== undefined) {
      inFlight.crashes++
      if (inFlight.crashes >= this.spec.maxRedeliveries && inFlight.item.type === 'input') {
        this.#dropPoison(inFlight, reason)
        this.#inFlight = undefined
      }
    }
    const decision = this.#budget.next(true)
    if (!decision.restart) {
      this.#failForGood(`${reason}; not restarted: ${decision.reason}`)
      return
    }
    this.#status = 'restarting'
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

  #dropPoison(inFlight: InFlight, reason: string): void {
    const item = inFlight.item
    if (item.type !== 'input') return
    const { header } = item
    const text = `dropped input "${item.id}" (sequence ${header.sequence} from ${header.senderNode}${header.senderOperator === '' ? '' : `/${header.senderOperator}`}) as poison: it crashed the operator ${inFlight.crashes} times (max_redeliveries ${this.spec.maxRedeliveries}); last error: ${reason}`
    this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'error', text: `${this.display} ${text}` })
    const report = encodeJson({
      operator: this.display,
      input: item.id,
      sequence: header.sequence.toString(),
      sender: header.senderOperator === '' ? header.senderNode : `${header.senderNode}/${header.senderOperator}`,
      messageId: header.messageId,
      crashes: inFlight.crashes,
      error: reason,
    })
    // The poisoned input still counts as consumed, so a redelivered copy is not run again.
    this.#markSeen(header)
    this.#emitRaw(POISON_OUTPUT, report, 'json', {}, '')
  }

  #isDuplicate(header: MessageHeader): boolean {
    if (header.senderOperator === '') return false
    const id = MESSAGE_ID.exec(header.messageId)
    if (id === null) return false
    const seen = this.#seen.get(`${header.senderNode}/${header.senderOperator}`)
    if (seen === undefined) return false
    const event = Number(id[1])
    const index = Number(id[2])
    return event < seen[0] || (event === seen[0] && index <= seen[1])
  }

  #markSeen(header: MessageHeader): void {
    if (header.senderOperator === '') return
    const id = MESSAGE_ID.exec(header.messageId)
    if (id === null) return
    this.#seen.set(`${header.senderNode}/${header.senderOperator}`, [Number(id[1]), Number(id[2])])
  }

  #emit(outputId: string, data: Uint8Array, encoding: string, parameters: MessageHeader['metadata']): void {
    const inFlight = this.#inFlight
    // The id depends only on the event that produced the message and its place in it, so a
    // receiver can recognise the same message sent again after this operator crashed.
    const messageId = inFlight === undefined ? '' : `${inFlight.eventNo}.${this.#outputIndex++}`
    this.#emitRaw(outputId, data, encoding, parameters, messageId, inFlight !== undefined && inFlight.crashes > 0)
  }

  #emitRaw(outputId: string, data: Uint8Array, encoding: string, parameters: MessageHeader['metadata'], messageId: string, redelivered = false): void {
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    const header: MessageHeader = {
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
    this.#host.emit(this, outputId, header, data)
  }

  #failForGood(error: string): void {
    this.#failure ??= error
    this.#status = 'failed'
    this.#generation++
    clearTimeout(this.#watchdog)
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) void worker.terminate()
    this.#report()
  }

  #report(): void {
    if (this.#endedReported) return
    this.#endedReported = true
    clearTimeout(this.#watchdog)
    clearTimeout(this.#restartTimer)
    this.#status = this.#failure === undefined ? 'finished' : 'failed'
    const result: UnitResult = { status: this.#status, error: this.#failure, stderrTail: this.#stderr.lines }
    this.#host.ended(this, result)
  }
}

/**
 * The event as posted to the worker: an input delivered again is marked so, and its bytes are
 * trimmed to a buffer of their own first (structured clone copies a view's whole buffer).
 */
function forWorker(event: DeliveredEvent, redelivered: boolean): DeliveredEvent {
  if (event.type !== 'input') return event
  const data = ownsWholeBuffer(event.data) ? event.data : copyBytes(event.data)
  const header = redelivered ? { ...event.header, redelivered: true } : event.header
  return { ...event, header, data }
}
