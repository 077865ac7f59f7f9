/**
 * One running dataflow: binds its private ZeroMQ endpoint, launches custom nodes and operator
 * workers, ticks timers, routes every output to the inboxes of its receivers, and stops it
 * all with dora's ladder (Stop, grace period, SIGTERM, SIGKILL).
 *
 * Message path: node --(DEALER/ROUTER, ipc)--> supervisor --> receiver inbox --> either
 * ROUTER --> node, or MessagePort --> operator worker.
 */
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { Router } from 'zeromq'
import { decodeNodeToSupervisor, encodeSupervisorToNode } from '../../src/protocol/node/codec.js'
import { PROTOCOL_VERSION, type MessageHeader, type NodeToSupervisor, type StopCause } from '../../src/protocol/node/messages.js'
import type { DataflowSpec, InputSpec } from '../../src/spec/types.js'
import { createRunDir, type RunDir } from '../../src/transport/run-dir.js'
import { SendQueue, type Frames } from '../../src/transport/send-queue.js'
import { CustomNode } from './custom-node.js'
import { Inbox, type InboxItem, type InputLimits } from './inbox.js'
import { OperatorHost } from '../operator/host.js'
import { buildRoutingTable, operatorKey, type RoutingTable } from './routing.js'
import { StateStore } from '../../src/store/state/store.js'
import { acquireOwnerLockWaiting, type OwnerLock } from '../../src/store/state/owner-lock.js'
import { OWNER_ENDPOINT_FILE, StateService } from '../state/service.js'
import { stateDirOf } from '../state/location.js'
import { join, resolve } from 'node:path'
import { DEFAULT_KVS_MAP_SIZE_BYTES, defaultKvsDir } from '../../src/store/kvs/store.js'
import type { KvsConfig } from '../../node-sdk/kvs.js'
import { KvsService } from '../../src/store/kvs/service.js'
import type { MessagePort } from 'node:worker_threads'
import { copyBytes } from '../../src/bytes.js'
import { Timer } from './timers.js'
import { FlowControl } from './flow-control.js'
import type { LogEntry, Unit, UnitHost, UnitResult } from './unit.js'

export interface RunOptions {
  /** How long nodes get to handle Stop before SIGTERM (default 10 s). */
  graceMs?: number
  /** Stop the dataflow after this long (dora's `--stop-after`). */
  stopAfterMs?: number
  /** Where log lines go (node output, operator logs, supervisor notices). */
  log?: (entry: LogEntry) => void
  /** Dataflow id; a random UUID by default. */
  dataflowId?: string
  /**
   * Root of operator state; the dataflow's store is `<stateDir>/<dataflow name>`. Default: the
   * YAML's `state_dir`, else `.dora-ts/state` next to the YAML.
   */
  stateDir?: string
  /** Start from empty state on purpose (`--clean-state`). */
  cleanState?: boolean
  /** Directory for the run's private socket directory (default: see `runRoot()`). */
  runtimeDir?: string
  /**
   * The machine's shared KVS directory, handed to every node and operator (`--kvs-dir`).
   * Default: `$DORA_TS_KVS_DIR`, else `$XDG_STATE_HOME/dora-ts/kvs`, else `~/.local/state/dora-ts/kvs`.
   */
  kvsDir?: string
  /** Size limit of the KVS in bytes, handed to every node and operator (default 1 GiB). */
  kvsMapSizeBytes?: number
}

export interface UnitReport {
  unit: string
  status: 'finished' | 'failed'
  error?: string | undefined
  stderrTail: string[]
}

/** One node or operator as `dora-ts list` shows it. */
export interface UnitInfo {
  name: string
  kind: 'custom' | 'operator'
  status: string
  restarts: number
  /** OS pid: the node's process, or the supervisor's for an operator. */
  pid: number | undefined
  /** Worker thread id of an operator. */
  threadId?: number | undefined
  /** When the current instance started (ms since epoch). */
  startedAt: number
  messagesIn: number
  messagesOut: number
}

export interface RunResult {
  /** True when every node finished without failing. */
  ok: boolean
  /** Why the run ended. */
  reason: 'completed' | 'stopped' | 'stop-after' | 'start-failed'
  units: UnitReport[]
  /** Messages dropped by drop_oldest queues, per `receiver/input`. */
  dropped: Record<string, number>
}

/** After Stop escalates to SIGTERM, how long before SIGKILL. */
const KILL_AFTER_TERM_MS = 3000
/** A node that crashed may still have frames in flight on the socket; wait this long for them. */
const CRASH_DRAIN_MS = 50

export class DataflowRun {
  readonly spec: DataflowSpec
  readonly id: string
  readonly done: Promise<RunResult>
  readonly #options: Required<Pick<RunOptions, 'graceMs' | 'log'>> & Pick<RunOptions, 'stopAfterMs' | 'stateDir' | 'cleanState' | 'runtimeDir'>
  readonly #routing: RoutingTable
  /** Backpressure: pauses the outputs feeding full `backpressure` inputs (flow-control.ts). */
  readonly #flow: FlowControl
  readonly #units = new Map<string, Unit>()
  readonly #customByIdentity = new Map<string, CustomNode>()
  readonly #results = new Map<string, UnitReport>()
  readonly #closedOutputs = new Set<string>()
  readonly #openInputs = new Map<string, Set<string>>()
  readonly #timers: Timer[] = []
  readonly #deadlines: NodeJS.Timeout[] = []
  #runDir: RunDir | undefined
  #store: StateStore | undefined
  #kvsService: KvsService | undefined
  #stateService: StateService | undefined
  #ownerLock: OwnerLock | undefined
  #router: Router | undefined
  #sender: SendQueue | undefined
  #stopRequested = 0
  #reason: RunResult['reason'] = 'completed'
  #finished = false
  #resolveDone!: (result: RunResult) => void
  readonly #undecodableLogged = new Set<string>()
  readonly #counters = new Map<string, { in: number; out: number; startedAt: number }>()
  readonly #inputWatchdogs = new Map<string, { feed(): void; stop(): void }>()
  readonly startedAt = Date.now()

  /** The shared KVS as this run hands it to its nodes and operators (they open it themselves). */
  readonly kvs: KvsConfig

  constructor(spec: DataflowSpec, options: RunOptions = {}) {
    this.spec = spec
    this.id = options.dataflowId ?? randomUUID()
    this.kvs = {
      dir: resolve(options.kvsDir ?? defaultKvsDir()),
      mapSizeBytes: options.kvsMapSizeBytes ?? DEFAULT_KVS_MAP_SIZE_BYTES,
      namespace: spec.kvsNamespace ?? spec.name,
    }
    this.#options = {
      graceMs: options.graceMs ?? 10_000,
      stopAfterMs: options.stopAfterMs,
      log: options.log ?? (() => {}),
      stateDir: options.stateDir,
      cleanState: options.cleanState,
      runtimeDir: options.runtimeDir,
    }
    this.#routing = buildRoutingTable(spec)
    this.#flow = new FlowControl(this.#routing, (producer, paused) => this.#units.get(producer)?.setPausedOutputs(paused))
    this.done = new Promise((resolve) => (this.#resolveDone = resolve))
  }

  /** The units of this run, keyed `node` or `node/operator`. */
  get units(): ReadonlyMap<string, Unit> {
    return this.#units
  }

  get endpoint(): string | undefined {
    return this.#runDir?.nodeEndpoint
  }

  /**
   * Launch everything. Resolves once every operator is ready and every process spawned;
   * if any fails to start, the rest is stopped and `done` reports `start-failed`.
   */
  async start(): Promise<void> {
    try {
      this.#store = await this.#openStateStore()
      this.#runDir = createRunDir(this.#options.runtimeDir === undefined ? undefined : join(this.#options.runtimeDir, 'dora-ts'))
      // No send high-water mark: a ROUTER silently drops past it. Flow control is the inbox and
      // the nodes' `next` requests, which bound what is in flight to each node.
      this.#router = new Router({ linger: 0, mandatory: false, sendHighWaterMark: 0 })
      await this.#router.bind(this.#runDir.nodeEndpoint)
      // The CLI reads a live store through its owner only: see state-service.ts.
      if (this.#store !== undefined) this.#stateService = await StateService.start(this.#store, `ipc://${join(this.#runDir.path, 'state.sock')}`)
    } catch (err) {
      // Nothing was launched yet: release what was opened, and let the caller report it.
      this.#stateService?.close()
      this.#router?.close()
      this.#runDir?.remove()
      this.#store?.close()
      this.#ownerLock?.release()
      throw err
    }
    const router = this.#router
    this.#sender = new SendQueue(router, (err) => this.#notice('warn', `a send to a node failed: ${(err as Error).message}`))
    void this.#receive(router)

    const host = this.#unitHost()
    for (const node of this.spec.nodes) {
      if (node.kind === 'custom') {
        const unit = new CustomNode(node, host, {
          endpoint: this.#runDir.nodeEndpoint,
          sendTo: (identity, frames) => this.#send(identity, frames),
          inbox: this.#inbox(node.id, node.inputs),
          cwd: this.spec.baseDir,
        })
        this.#add(unit, node.inputs)
      } else {
        for (const op of node.operators) {
          const state = this.#store?.operator(operatorKey(node, op), { durability: op.durability })
          this.#add(new OperatorHost(node, op, host, { inbox: this.#inbox(operatorKey(node, op), op.inputs), state, maxMemoryMb: op.maxMemoryMb, kvs: this.#operatorKvs() }), op.inputs)
        }
      }
    }

    // Armed before anything launches: messages routed while a slow receiver is still starting
    // feed its input_timeout watchdogs too (armed later, a pause during start-up went unseen).
    this.#armInputTimeouts()
    const starts: Promise<{ unit: Unit; err: unknown } | undefined>[] = []
    for (const unit of this.#units.values()) {
      starts.push(
        unit.start().then(
          () => undefined,
          (err: unknown) => ({ unit, err }),
        ),
      )
      // spawn() blocks until the child has exec'd (up to ~0.5 s each on a loaded machine): let
      // the router answer the nodes already up between launches, or with 50 nodes the first
      // ones waited past the SDK's registration timeout and gave up.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const failures = (await Promise.all(starts)).filter((f) => f !== undefined)
    if (failures.length > 0) {
      this.#reason = 'start-failed'
      this.stop()
      return
    }
    for (const route of this.#routing.timers) {
      const timer = new Timer(route.name, route.intervalNs, this.id, (tick) => {
        for (const dest of route.destinations) {
          // A timer cannot be slowed down: a tick for a full backpressure queue is skipped.
          if (this.#units.get(dest.receiver)?.inbox.backpressureFull(dest.inputId) === true) continue
          this.#deliver(dest.receiver, { kind: 'input', inputId: dest.inputId, header: tick.header, payload: new Uint8Array(0) })
        }
      })
      this.#timers.push(timer)
      timer.start()
    }
    if (this.#options.stopAfterMs !== undefined) {
      this.#deadlines.push(
        setTimeout(() => {
          this.#reason = 'stop-after'
          this.stop()
        }, this.#options.stopAfterMs).unref(),
      )
    }
  }

  /** True once every unit has ended. */
  get finished(): boolean {
    return this.#finished
  }

  /** True once stop() was called. */
  get stopping(): boolean {
    return this.#stopRequested > 0
  }

  /** Per node and operator: status, restarts, pid, uptime and message counts. */
  unitInfo(): UnitInfo[] {
    return [...this.#units.values()].map((unit) => {
      const counter = this.#counters.get(unit.key)!
      const operator = unit instanceof OperatorHost
      return {
        name: unit.display,
        kind: operator ? 'operator' : 'custom',
        status: unit.status,
        restarts: unit.restartCount,
        pid: operator ? process.pid : (unit as CustomNode).pid,
        threadId: operator ? unit.threadId : undefined,
        startedAt: counter.startedAt,
        messagesIn: counter.in,
        messagesOut: counter.out,
      }
    })
  }

  /** Find a unit by the name users see (`node` or `node/operator`), or by node id. */
  findUnit(name: string): Unit | undefined {
    for (const unit of this.#units.values()) if (unit.display === name || unit.key === name) return unit
    return undefined
  }

  /**
   * How operators reach the KVS: through one KVS thread per run, started when the first
   * operator launches (worker threads must not hold LMDB transactions: see kvs-service.ts).
   */
  #operatorKvs(): { dir: string; namespace: string; connect(): MessagePort } {
    return {
      dir: this.kvs.dir,
      namespace: this.kvs.namespace,
      connect: () => (this.#kvsService ??= new KvsService({ dir: this.kvs.dir, mapSizeBytes: this.kvs.mapSizeBytes })).connect(),
    }
  }

  /** Where this dataflow's operator state lives. */
  get stateDir(): string {
    return stateDirOf(this.spec, this.#options.stateDir)
  }

  /** The run's state store (open while the run is), if it has operators. */
  get store(): StateStore | undefined {
    return this.#store
  }

  async #openStateStore(): Promise<StateStore | undefined> {
    const operators = this.spec.nodes.flatMap((n) => (n.kind === 'operators' ? n.operators : []))
    if (operators.length === 0) return undefined
    this.#ownerLock = await acquireOwnerLockWaiting(this.stateDir)
    // An endpoint published by an owner that died (SIGKILL) must not send the CLI there.
    rmSync(join(this.stateDir, OWNER_ENDPOINT_FILE), { force: true })
    // Durability is chosen per commit (each operator's own); this is the store's default.
    let store: StateStore
    try {
      store = StateStore.open({ dir: this.stateDir, durability: this.spec.durability })
    } catch (err) {
      this.#ownerLock.release()
      throw err
    }
    if (this.#options.cleanState === true) {
      store.clear()
      this.#notice('info', `--clean-state: cleared the saved state in ${this.stateDir}`)
    }
    return store
  }

  /**
   * Stop the dataflow: every node gets Stop, then after the grace period SIGTERM, then SIGKILL.
   * Calling it again skips the grace period (a second Ctrl-C).
   */
  stop(cause: StopCause = 'manual'): void {
    this.#stopRequested++
    // Paused senders must be able to flush and see Stop.
    this.#flow.releaseAll()
    if (this.#reason === 'completed') this.#reason = 'stopped'
    for (const timer of this.#timers) timer.stop()
    const live = [...this.#units.values()].filter((u) => u.status !== 'finished' && u.status !== 'failed')
    if (this.#stopRequested === 1) {
      for (const unit of live) this.#deliver(unit.key, { kind: 'stop', cause })
      this.#deadlines.push(setTimeout(() => this.#escalate(), this.#options.graceMs).unref())
    } else {
      this.#escalate()
    }
    this.#checkFinished()
  }

  #escalate(): void {
    const live = [...this.#units.values()].filter((u) => u.status !== 'finished' && u.status !== 'failed')
    for (const unit of live) unit.terminate(`did not stop within the ${this.#options.graceMs / 1000} s grace period and was terminated`)
    this.#deadlines.push(
      setTimeout(() => {
        for (const unit of this.#units.values()) unit.kill('did not exit after SIGTERM and was killed')
      }, KILL_AFTER_TERM_MS).unref(),
    )
  }

  #add(unit: Unit, inputs: InputSpec[]): void {
    this.#units.set(unit.key, unit)
    this.#counters.set(unit.key, { in: 0, out: 0, startedAt: Date.now() })
    this.#openInputs.set(unit.key, new Set(inputs.filter((i) => i.source.kind === 'output').map((i) => i.id)))
  }

  #unitHost(): UnitHost {
    return {
      dataflowId: this.id,
      dataflowName: this.spec.name,
      emit: (unit, outputId, header, payload) => this.#route(unit.key, outputId, header, payload),
      log: (entry) => this.#options.log(entry),
      ended: (unit, result) => this.#onUnitEnded(unit, result),
      restarted: (unit) => {
        const counter = this.#counters.get(unit.key)
        if (counter !== undefined) counter.startedAt = Date.now()
        this.#notifyDownstream(unit, (nodeId) => ({ kind: 'node-restarted', nodeId }))
      },
    }
  }

  #notice(level: LogEntry['level'], text: string): void {
    this.#options.log({ source: 'dora-ts', stream: 'supervisor', level, text })
  }

  #send(identity: Buffer, frames: Frames): void {
    this.#sender?.post([identity, ...frames])
  }

  /** Route an output of `producerKey` to every receiver input it feeds. */
  #route(producerKey: string, outputId: string, header: MessageHeader, payload: Uint8Array): void {
    const key = this.#routing.producers.get(producerKey)?.outputKeys.get(outputId)
    if (key === undefined || this.#closedOutputs.has(key)) return
    const sender = this.#counters.get(producerKey)
    if (sender !== undefined) sender.out++
    const destinations = this.#routing.outputs.get(key)
    if (destinations === undefined) return
    const single = destinations.length === 1
    for (const dest of destinations) {
      // A worker may take ownership of (transfer) its payload's buffer, so with several
      // receivers each operator gets its own copy; processes share the original bytes.
      const receiver = this.#units.get(dest.receiver)
      const own = single || !(receiver instanceof OperatorHost) ? payload : copyBytes(payload)
      this.#deliver(dest.receiver, { kind: 'input', inputId: dest.inputId, header, payload: own })
    }
  }

  #deliver(receiverKey: string, item: InboxItem): void {
    const unit = this.#units.get(receiverKey)
    if (unit === undefined || unit.status === 'finished' || unit.status === 'failed') return
    if (item.kind === 'input') {
      this.#counters.get(receiverKey)!.in++
      this.#inputWatchdogs.get(`${receiverKey}\0${item.inputId}`)?.feed()
    }
    unit.inbox.push(item)
    unit.pump()
  }

  /**
   * `input_timeout`: when an input gets no message for that long after its last one, its
   * receiver gets InputClosed for it; when messages come again, it gets InputRecovered and then
   * the messages, as usual. The first message arms it, so a slow-starting sender is not a timeout.
   * A timed-out input does not count towards Stop(all-inputs-closed): a sensor that pauses
   * must not stop its readers for good.
   */
  #armInputTimeouts(): void {
    for (const [receiver, inputs] of this.#routing.inputs) {
      for (const input of inputs) {
        if (input.inputTimeout === undefined) continue
        const ms = input.inputTimeout * 1000
        let timedOut = false
        let timer: NodeJS.Timeout | undefined
        const arm = (): void => {
          clearTimeout(timer)
          timer = setTimeout(() => {
            if (this.#stopRequested > 0 || !this.#openInputs.get(receiver)?.has(input.id)) return
            timedOut = true
            this.#notice('warn', `${this.#units.get(receiver)?.display ?? receiver}: input "${input.id}" got nothing for ${input.inputTimeout} s (input_timeout); closing it until messages come again`)
            this.#deliver(receiver, { kind: 'input-closed', inputId: input.id })
          }, ms)
          timer.unref()
        }
        this.#inputWatchdogs.set(`${receiver}\0${input.id}`, {
          stop: () => clearTimeout(timer),
          feed: () => {
            if (timedOut) {
              timedOut = false
              this.#notice('info', `${this.#units.get(receiver)?.display ?? receiver}: input "${input.id}" recovered`)
              // Queued ahead of the message that recovered it (feed() runs before its push).
              this.#deliver(receiver, { kind: 'input-recovered', inputId: input.id })
            }
            arm()
          },
        })
      }
    }
  }

  /** Close outputs of a unit: their receivers get InputClosed, and Stop when none is left. */
  #closeOutputs(unit: Unit, outputs: readonly string[]): void {
    const producer = this.#routing.producers.get(unit.key)
    if (producer === undefined) return
    for (const output of outputs) {
      const key = producer.outputKeys.get(output)
      if (key === undefined || this.#closedOutputs.has(key)) continue
      this.#closedOutputs.add(key)
      for (const dest of this.#routing.outputs.get(key) ?? []) {
        const open = this.#openInputs.get(dest.receiver)
        if (open === undefined || !open.delete(dest.inputId)) continue
        this.#deliver(dest.receiver, { kind: 'input-closed', inputId: dest.inputId })
        if (open.size === 0 && this.#allTimerFree(dest.receiver)) this.#deliver(dest.receiver, { kind: 'stop', cause: 'all-inputs-closed' })
      }
    }
  }

  /** A receiver whose inputs include a timer keeps running: timers never close. */
  #allTimerFree(receiverKey: string): boolean {
    return !(this.#routing.inputs.get(receiverKey) ?? []).some((i) => i.source.kind === 'timer')
  }

  /** Send an event to every receiver fed by one of `unit`'s outputs, once per receiver. */
  #notifyDownstream(unit: Unit, make: (nodeId: string, affectedInputs: string[]) => InboxItem): void {
    const producer = this.#routing.producers.get(unit.key)
    if (producer === undefined || this.#stopRequested > 0) return
    const affected = new Map<string, string[]>()
    for (const key of producer.outputKeys.values()) {
      for (const dest of this.#routing.outputs.get(key) ?? []) affected.set(dest.receiver, [...(affected.get(dest.receiver) ?? []), dest.inputId])
    }
    for (const [receiver, inputs] of affected) this.#deliver(receiver, make(unit.display, inputs))
  }

  /** The inbox of receiver `key`; its queues report their length to flow control (which ignores all but backpressure inputs). */
  #inbox(key: string, inputs: InputSpec[]): Inbox {
    return new Inbox(limitsOf(inputs), (inputId, queued) => this.#flow.queued(key, inputId, queued))
  }

  #onUnitEnded(unit: Unit, result: UnitResult): void {
    // It takes nothing more: whatever it held paused goes on (its queue is never delivered).
    this.#flow.release(unit.key)
    this.#results.set(unit.key, { unit: unit.display, status: result.status, error: result.error, stderrTail: result.stderrTail })
    if (result.status === 'failed') {
      this.#notice('error', `${unit.display} ${result.error ?? 'failed'}`)
      this.#notifyDownstream(unit, (nodeId, affectedInputs) => ({ kind: 'node-failed', nodeId, error: result.error ?? 'failed', affectedInputs }))
    }
    const close = (): void => {
      this.#closeOutputs(unit, unit.outputs)
      this.#checkExitWhenFinish()
      this.#checkFinished()
    }
    // Frames a process wrote just before it exited may still be in the socket: let them land
    // before its outputs close, so receivers never get InputClosed ahead of the last message.
    if (unit instanceof CustomNode) setTimeout(close, CRASH_DRAIN_MS)
    else close()
  }

  #checkExitWhenFinish(): void {
    const watched = this.spec.exitWhenNodesFinish
    if (watched.length === 0 || this.#stopRequested > 0) return
    const allDone = watched.every((nodeId) =>
      [...this.#units.values()].filter((u) => u.nodeId === nodeId).every((u) => u.status === 'finished' || u.status === 'failed'),
    )
    if (allDone) this.stop()
  }

  #checkFinished(): void {
    if (this.#finished) return
    for (const unit of this.#units.values()) if (!this.#results.has(unit.key)) return
    this.#finished = true
    void this.#finish()
  }

  async #finish(): Promise<void> {
    for (const timer of this.#timers) timer.stop()
    for (const watchdog of this.#inputWatchdogs.values()) watchdog.stop()
    for (const deadline of this.#deadlines) clearTimeout(deadline)
    this.#sender?.close()
    this.#stateService?.close()
    this.#router?.close()
    this.#runDir?.remove()
    this.#store?.close()
    this.#ownerLock?.release()
    await this.#kvsService?.close()
    const units = [...this.#units.values()].map((u) => this.#results.get(u.key)!)
    const dropped: Record<string, number> = {}
    for (const unit of this.#units.values()) {
      for (const [input, count] of unit.inbox.dropped) dropped[`${unit.display}/${input}`] = count
    }
    const ok = this.#reason !== 'start-failed' && units.every((u) => u.status === 'finished')
    this.#resolveDone({ ok, reason: this.#reason, units, dropped })
  }

  async #receive(router: Router): Promise<void> {
    try {
      for await (const frames of router) {
        const [identity, head, payload] = frames
        if (identity === undefined || head === undefined) continue
        let message: NodeToSupervisor
        try {
          message = decodeNodeToSupervisor(head)
        } catch (err) {
          this.#dropped(identity, `an undecodable frame (${(err as Error).message})`)
          continue
        }
        try {
          this.#handle(identity, message, payload)
        } catch (err) {
          this.#notice('error', `internal error handling a "${message.type}" message: ${(err as Error).stack ?? String(err)}`)
        }
      }
    } catch {
      // The router was closed: the run is over.
    }
  }

  #dropped(identity: Buffer, what: string): void {
    // Log once per sender so a rogue process cannot flood the log.
    const key = identity.toString('hex')
    if (this.#undecodableLogged.has(key)) return
    this.#undecodableLogged.add(key)
    this.#notice('warn', `dropped ${what} from connection ${key}; further drops from it are not logged`)
  }

  #handle(identity: Buffer, message: NodeToSupervisor, payload: Buffer | undefined): void {
    if (message.type === 'register') {
      this.#register(identity, message.nodeId, message.protocolVersion)
      return
    }
    const node = this.#customByIdentity.get(identity.toString('hex'))
    if (node === undefined) {
      this.#dropped(identity, `a "${message.type}" message from an unregistered connection`)
      return
    }
    switch (message.type) {
      case 'output': {
        if (!node.outputs.includes(message.header.outputId)) {
          this.#notice('warn', `${node.display} sent on undeclared output "${message.header.outputId}"; dropped`)
          return
        }
        // Trust the connection, not the header, for who sent it.
        const header: MessageHeader = { ...message.header, dataflowId: this.id, senderNode: node.nodeId, senderOperator: '' }
        const data = payload === undefined ? new Uint8Array(0) : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
        this.#route(node.key, header.outputId, header, data)
        return
      }
      case 'next':
        node.requestNext()
        return
      case 'close-outputs':
        this.#closeOutputs(node, message.outputs.filter((o) => node.outputs.includes(o)))
        // The node waits for this before it closes its socket: everything it sent before has
        // arrived (same connection, in order), so nothing is left for its linger to lose.
        node.send({ type: 'outputs-closed', outputs: message.outputs })
        return
      case 'log':
        this.#options.log({ source: node.display, stream: 'log', level: message.level, text: message.message })
        return
      default:
        return
    }
  }

  #register(identity: Buffer, nodeId: string, protocolVersion: number): void {
    const reject = (reason: string): void => {
      this.#notice('warn', `rejected a registration as "${nodeId}": ${reason}`)
      this.#send(identity, [encodeSupervisorToNode({ type: 'register-rejected', reason })])
    }
    if (protocolVersion !== PROTOCOL_VERSION) {
      reject(`protocol version ${protocolVersion} does not match the supervisor's ${PROTOCOL_VERSION}`)
      return
    }
    const unit = this.#units.get(nodeId)
    if (!(unit instanceof CustomNode)) {
      reject(`this dataflow has no custom node "${nodeId}"`)
      return
    }
    if (unit.registered) {
      reject(`node "${nodeId}" is already registered`)
      return
    }
    this.#customByIdentity.set(identity.toString('hex'), unit)
    this.#send(identity, [
      encodeSupervisorToNode({
        type: 'registered',
        registration: {
          dataflowId: this.id,
          dataflowName: this.spec.name,
          nodeId,
          restartCount: unit.restartCount,
          inputs: unit.spec.inputs.map((i) => i.id),
          outputs: [...unit.spec.outputs],
          kvsPath: this.kvs.dir,
          kvsMapSize: BigInt(this.kvs.mapSizeBytes),
          kvsNamespace: this.kvs.namespace,
        },
      }),
    ])
    unit.attach(identity)
  }
}

function limitsOf(inputs: InputSpec[]): Map<string, InputLimits> {
  return new Map(inputs.map((i) => [i.id, { queueSize: i.queueSize, queuePolicy: i.queuePolicy }]))
}
