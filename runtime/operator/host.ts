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
import type { HostToWorker, OperatorWorkerData, StateWrite, WorkerToHost } from './messages.js'
import { RestartBudget } from '../supervisor/restart-policy.js'
import { displayName, operatorKey } from '../supervisor/routing.js'
import { LineTail, type Unit, type UnitHost, type UnitResult, type UnitStatus } from '../supervisor/unit.js'
import { Deliveries, poisonReport, type InFlight } from './deliveries.js'
import { PauseGate } from './pause-gate.js'
import { commitWrites, loadState } from './state-commit.js'
import { launchWorker } from './worker-launch.js'

export interface OperatorHostOptions {
  inbox: Inbox
  /** The operator's private state; undefined runs it without persistence. */
  state?: OperatorState | undefined
  /** Heap limit of the worker in MiB (resource limits); undefined = Node's default. */
  maxMemoryMb?: number | undefined
  /** The shared KVS the operator reaches as ctx.kvs: a new port to the run's KVS thread per launch. */
  kvs?: { dir: string; namespace: string; connect(): MessagePort } | undefined
}

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
  #stopHandled = false
  #endedReported = false
  #failure: string | undefined
  #restartCount = 0
  #restartTimer: NodeJS.Timeout | undefined
  #watchdog: NodeJS.Timeout | undefined
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
    if (this.#status !== 'running' || this.#deliveries.inFlight !== undefined || this.#stopSent) return
    if (this.inbox.peek()?.type === 'input' && this.#pause.holds()) return
    const inFlight = this.#deliveries.take(this.inbox)
    if (inFlight !== undefined) this.#post(inFlight)
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
    if (this.#worker !== undefined) this.#crash(reason)
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
    if (worker !== undefined) void worker.terminate()
  }

  #launch(first?: FirstLaunch): void {
    const generation = ++this.#generation
    let state: Map<string, Uint8Array>
    try {
      state = loadState(this.#state)
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
          if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason)
        },
        exit: (code) => {
          this.#worker = undefined
          if (this.#stopHandled) {
            this.#report()
            return
          }
          const reason = `its worker exited with code ${code}`
          if (!loadFailed(`failed to start: ${reason}`)) this.#crash(reason)
        },
      },
    )
    const healthTimeout = this.spec.restart.healthCheckTimeout
    if (healthTimeout !== undefined) {
      this.#armWatchdog(healthTimeout, `did not become ready within health_check_timeout (${healthTimeout} s)`)
    }
  }

  #onMessage(message: WorkerToHost, first: FirstLaunch | undefined): void {
    switch (message.type) {
      case 'ready': {
        clearTimeout(this.#watchdog)
        if (!this.#commit(message.writes)) return
        this.#status = 'running'
        first?.resolve()
        const inFlight = this.#deliveries.inFlight
        if (inFlight !== undefined) this.#post(inFlight)
        else this.pump()
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
      case 'output': {
        const { messageId, redelivered } = this.#deliveries.nextMessage()
        this.#emit(message.outputId, message.data, message.encoding, message.parameters, messageId, redelivered)
        return
      }
      case 'log':
        this.#host.log({ source: this.display, stream: 'log', level: message.level, text: message.text })
        return
      default:
        return
    }
  }

  #post(inFlight: InFlight): void {
    const event = this.#deliveries.post(inFlight)
    if (event.type === 'stop') this.#stopSent = true
    if (this.spec.timeout !== undefined) {
      this.#armWatchdog(this.spec.timeout, `a handler did not return within its timeout (${this.spec.timeout} s)`)
    }
    const message: HostToWorker = { type: 'event', event }
    // Copied into the worker (structured clone), never transferred: see forWorker().
    this.#worker!.postMessage(message)
  }

  #armWatchdog(seconds: number, reason: string): void {
    clearTimeout(this.#watchdog)
    this.#watchdog = setTimeout(() => this.#crash(reason), seconds * 1000)
    this.#watchdog.unref()
  }

  #onDone(writes: StateWrite[]): void {
    clearTimeout(this.#watchdog)
    if (!this.#commit(writes)) return
    const done = this.#deliveries.committed()
    if (done?.item.type === 'stop') {
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
    const failure = commitWrites(this.#state, writes, this.#deliveries.eventNo)
    if (failure === undefined) return true
    this.#failForGood(failure)
    return false
  }

  #crash(reason: string): void {
    if (this.#endedReported || this.#status === 'restarting') return
    clearTimeout(this.#watchdog)
    this.#stopWorker()
    this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'error', text: `${this.display} ${reason}` })

    const poison = this.#deliveries.crashed(this.spec.maxRedeliveries)
    if (poison !== undefined) {
      const { text, payload } = poisonReport(this.display, poison, this.spec.maxRedeliveries, reason)
      this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'error', text: `${this.display} ${text}` })
      this.#emit(POISON_OUTPUT, payload, 'json', {}, '', false)
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

  #emit(outputId: string, data: Uint8Array, encoding: string, parameters: MessageHeader['metadata'], messageId: string, redelivered: boolean): void {
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
    clearTimeout(this.#watchdog)
    this.#stopWorker()
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
