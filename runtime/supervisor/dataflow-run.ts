/**
 * One running dataflow: opens what it needs (run-resources.ts), binds the custom nodes' ROUTER
 * (node-router.ts), launches custom nodes and operator workers, ticks timers, routes every
 * output to the inboxes of its receivers, and stops it all with dora's ladder (stop-ladder.ts).
 * The pieces it wires together each keep one kind of bookkeeping: closed outputs and what
 * receivers are told about their senders (downstream.ts), input_timeout clocks
 * (input-timeouts.ts), backpressure (flow-control.ts) and message counts (counters.ts).
 *
 * Message path: node --(DEALER/ROUTER, ipc)--> supervisor --> receiver inbox --> either
 * ROUTER --> node, or MessagePort --> operator worker.
 */
import { errorMessage } from '../../src/errors.js'
import { randomUUID } from 'node:crypto'
import type { DataflowSpec, InputSpec } from '../../src/spec/types.js'
import type { Frames } from '../../src/transport/send-queue.js'
import type { DeliveredEvent, MessageHeader } from '../../src/events.js'
import { DEFAULT_KVS_MAP_SIZE_BYTES, defaultKvsDir } from '../../src/store/kvs/store.js'
import type { StateStore } from '../../src/store/state/store.js'
import type { KvsConfig } from '../../node-sdk/kvs.js'
import { stateDirOf } from '../state/location.js'
import { OperatorHost } from '../operator/host.js'
import { discardConsumed, rememberOrder, type OutboxRoute } from '../operator/outbox.js'
import { resolve } from 'node:path'
import type { SharedSegment } from './shm-payloads.js'
import { CustomNode } from './custom-node.js'
import { UnitCounters, type UnitInfo } from './counters.js'
import { Downstream } from './downstream.js'
import { FlowControl } from './flow-control.js'
import { Inbox, type InputLimits } from './inbox.js'
import { InputTimeouts } from './input-timeouts.js'
import { NodeOutputs } from './node-outputs.js'
import { NodeRouter } from './node-router.js'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/transport/node-socket.js'
import { buildRoutingTable, operatorKey, type RoutingTable } from './routing.js'
import { RunResources } from './run-resources.js'
import { StopLadder } from './stop-ladder.js'
import { Timer } from './timers.js'
import type { LogEntry, Unit, UnitHost, UnitResult } from './unit.js'

export type { UnitInfo } from './counters.js'

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

export interface RunResult {
  /** True when every node finished without failing. */
  ok: boolean
  /** Why the run ended. */
  reason: 'completed' | 'stopped' | 'stop-after' | 'start-failed'
  units: UnitReport[]
  /** Messages dropped by drop_oldest queues, per `receiver/input`. */
  dropped: Record<string, number>
}

/** A node that crashed may still have frames in flight on the socket; wait this long for them. */
const CRASH_DRAIN_MS = 50

/**
 * A dataflow run: `start()` it, await `done` for how it ended, `stop()` it (again to skip the
 * grace period), and `close()` (or `await using`) it to be sure everything it held is released.
 *
 * @example
 * await using run = new DataflowRun(spec, { stopAfterMs: 30_000 })
 * await run.start()
 * const result = await run.done
 */
export class DataflowRun implements AsyncDisposable {
  readonly spec: DataflowSpec
  readonly id: string
  /** How the run ended; resolves once every unit ended and everything the run held is released. */
  readonly done: Promise<RunResult>
  readonly startedAt = Date.now()
  /** The shared KVS as this run hands it to its nodes and operators (they open it themselves). */
  readonly kvs: KvsConfig
  readonly #options: Required<Pick<RunOptions, 'graceMs' | 'log'>> & Pick<RunOptions, 'stopAfterMs' | 'stateDir' | 'cleanState' | 'runtimeDir'>
  readonly #routing: RoutingTable
  /** Backpressure: pauses the outputs feeding full `backpressure` inputs (flow-control.ts). */
  readonly #flow: FlowControl
  readonly #downstream: Downstream
  readonly #inputTimeouts: InputTimeouts
  readonly #ladder: StopLadder
  readonly #counters = new UnitCounters()
  readonly #units = new Map<string, Unit>()
  readonly #results = new Map<string, UnitReport>()
  readonly #timers: Timer[] = []
  readonly #outboxRoutes = new Map<string, readonly OutboxRoute[]>()
  #resources: RunResources | undefined
  #nodes: NodeRouter | undefined
  /** Custom nodes' messages: committed into the outbox before they are routed and confirmed. */
  #nodeOutputs: NodeOutputs = new NodeOutputs(undefined, this.#nodeOutputsOptions())
  #starting: Promise<void> | undefined
  #closing: Promise<void> | undefined
  #reason: RunResult['reason'] = 'completed'
  #finished = false
  /** Custom nodes whose process connected at least once; see {@link startupSettled}. */
  readonly #everConnected = new Set<string>()
  readonly #startupWaiters = new Set<() => boolean>()
  #resolveDone!: (result: RunResult) => void

  constructor(spec: DataflowSpec, options: RunOptions = {}) {
    this.spec = spec
    this.id = options.dataflowId ?? randomUUID()
    this.kvs = {
      dir: resolve(options.kvsDir ?? defaultKvsDir()),
      mapSizeBytes: options.kvsMapSizeBytes ?? spec.kvsMapSize ?? DEFAULT_KVS_MAP_SIZE_BYTES,
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
    this.#downstream = new Downstream(this.#routing, (receiver, event) => this.#deliver(receiver, event))
    this.#inputTimeouts = new InputTimeouts(this.#routing.inputs, {
      mayTimeOut: (receiver, inputId) => !this.stopping && this.#downstream.isInputOpen(receiver, inputId),
      timedOut: (receiver, input) => {
        this.#notice(
          'warn',
          `${this.#nameOf(receiver)}: input "${input.id}" got nothing for ${input.inputTimeout} s (input_timeout); closing it until messages come again`,
        )
        this.#deliver(receiver, { type: 'input-closed', id: input.id })
      },
      recovered: (receiver, input) => {
        this.#notice('info', `${this.#nameOf(receiver)}: input "${input.id}" recovered`)
        this.#deliver(receiver, { type: 'input-recovered', id: input.id })
      },
    })
    this.#ladder = new StopLadder({
      graceMs: this.#options.graceMs,
      sendStop: () => {
        for (const unit of this.#live()) {
          // A process past its connect_timeout without connecting cannot receive Stop: waiting
          // the grace period for it only delayed the end (issue 14). Its program still gets
          // SIGTERM to clean up. One still within connect_timeout gets Stop once it connects.
          if (unit instanceof CustomNode && unit.status === 'running' && !unit.hasConnected && unit.connectOverdue) {
            unit.terminate(
              'had not connected to the supervisor when the dataflow stopped, past its connect_timeout (its program never called Node.connect()), so it was terminated at once',
            )
          } else this.#deliver(unit.key, { type: 'stop', cause: 'manual' })
        }
      },
      terminate: (reason) => {
        for (const unit of this.#live()) unit.terminate(reason)
      },
      kill: (reason) => {
        for (const unit of this.#units.values()) unit.kill(reason)
      },
    })
    this.done = new Promise((resolve) => (this.#resolveDone = resolve))
  }

  /**
   * Resolves once the run is past its start-up: every custom node has connected (operators are
   * ready when {@link start} resolved) or ended, or the run ended; with the units that failed by
   * then. `dora-ts start` waits on it, so a dataflow that fails at once is reported as failed
   * instead of "started" (issue 14). Call it after start() resolved; `signal` ends the wait
   * early (a node still loading), resolving with what failed so far.
   */
  startupSettled(signal?: AbortSignal): Promise<UnitReport[]> {
    const failed = (): UnitReport[] => [...this.#results.values()].filter((r) => r.status === 'failed')
    return new Promise((resolve) => {
      const check = (): boolean => {
        const past =
          this.#finished || [...this.#units.values()].every((u) => !(u instanceof CustomNode) || this.#everConnected.has(u.key) || this.#results.has(u.key))
        if (!past && signal?.aborted !== true) return false
        this.#startupWaiters.delete(check)
        signal?.removeEventListener('abort', onAbort)
        resolve(failed())
        return true
      }
      const onAbort = (): void => void check()
      if (check()) return
      this.#startupWaiters.add(check)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #checkStartup(): void {
    for (const check of [...this.#startupWaiters]) check()
  }

  /** The units of this run, keyed `node` or `node/operator`. */
  get units(): ReadonlyMap<string, Unit> {
    return this.#units
  }

  /** Refused registrations and dropped frames on the node socket (tests, diagnostics), once started. */
  get nodeSocketStats(): NodeRouter['stats'] | undefined {
    return this.#nodes?.stats
  }

  /** The custom nodes' ZeroMQ endpoint, once started. */
  get endpoint(): string | undefined {
    return this.#resources?.runDir.nodeEndpoint
  }

  /** True once every unit has ended. */
  get finished(): boolean {
    return this.#finished
  }

  /** True once stop() was called. */
  get stopping(): boolean {
    return this.#ladder.requests > 0
  }

  /** Where this dataflow's operator state lives. */
  get stateDir(): string {
    return stateDirOf(this.spec, this.#options.stateDir)
  }

  /** The run's state store (open while the run is), if it has operators. */
  get store(): StateStore | undefined {
    return this.#resources?.store
  }

  /**
   * Launch everything. Resolves once every operator is ready and every process spawned;
   * if any fails to start, the rest is stopped and `done` reports `start-failed`. Rejects,
   * with nothing left open, when the run's store, directory or socket cannot be set up.
   */
  start(): Promise<void> {
    if (this.#starting !== undefined || this.#closing !== undefined) return Promise.reject(new Error('DataflowRun.start() can be called once, before close()'))
    this.#starting = this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    const resources = await RunResources.open({
      spec: this.spec,
      stateDir: this.stateDir,
      cleanState: this.#options.cleanState,
      runtimeDir: this.#options.runtimeDir,
      kvs: this.kvs,
      notice: (text) => this.#notice('info', text),
      log: (level, text) => this.#notice(level, text),
    })
    // A stop() while nothing was launched yet ended the run at once (it has no units): it must
    // not launch anything now, and what was just opened is released here.
    if (this.#finished) return resources.close()
    this.#nodeOutputs = new NodeOutputs(resources.store, this.#nodeOutputsOptions())
    try {
      this.#nodes = await NodeRouter.bind(resources.runDir.nodeEndpoint, {
        dataflowId: this.id,
        dataflowName: this.spec.name,
        kvs: this.kvs,
        customNode: (nodeId) => {
          const unit = this.#units.get(nodeId)
          return unit instanceof CustomNode ? unit : undefined
        },
        output: (node, header, data, taken, shm) => this.#nodeOutputs.take(node.key, header, data, taken, shm),
        afterOutputs: (node, step) => this.#nodeOutputs.inOrder(node.key, step),
        closeOutputs: (node, outputs) => this.#downstream.closeOutputs(node.key, outputs),
        log: (entry) => this.#options.log(entry),
        maxMessageBytes: this.spec.maxMessageSize,
        shm: resources.shm,
      })
    } catch (err) {
      // Nothing was launched yet: release what was opened, and let the caller report it.
      await resources.close()
      throw err
    }
    if (this.#finished) {
      this.#nodes.close()
      return resources.close()
    }
    this.#resources = resources

    const host = this.#unitHost()
    for (const node of this.spec.nodes) {
      if (node.kind === 'custom') {
        const unit = new CustomNode(node, host, {
          endpoint: resources.runDir.nodeEndpoint,
          sendTo: (identity, frames) => this.#send(identity, frames),
          inbox: this.#inbox(node.id, node.inputs),
          cwd: this.spec.baseDir,
          reaper: resources.reaper,
          consumed: (events) => this.#consumedByNode(node.id, events),
          connected: () => {
            this.#everConnected.add(node.id)
            this.#checkStartup()
          },
          processEnded: () => resources.shm?.sweep(node.id),
        })
        this.#add(unit)
      } else {
        for (const op of node.operators) {
          const key = operatorKey(node, op)
          const state = resources.store?.operator(key, { durability: op.durability })
          const kvs = { dir: this.kvs.dir, namespace: this.kvs.namespace, connect: () => resources.connectKvs() }
          const outboxRoutes = (outputId: string): readonly OutboxRoute[] => this.#outboxReceivers(key, outputId)
          this.#add(new OperatorHost(node, op, host, { inbox: this.#inbox(key, op.inputs), state, maxMemoryMb: op.maxMemoryMb, kvs, outboxRoutes }))
        }
      }
    }
    // Messages between operators that a previous run committed and their receiver did not:
    // first in line, before anything new (a SIGKILL, a stop or a power cut lost none of them).
    this.#replayOutbox()

    // The input_timeout clocks exist since the constructor: messages routed while a slow
    // receiver is still starting feed them too (armed later, a pause during start-up went unseen).
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
    // A stop() while the units were starting: no timer and no deadline may start after it.
    if (this.stopping) return
    for (const route of this.#routing.timers) {
      const timer = new Timer(route.name, route.intervalNs, this.id, (tick) => {
        for (const dest of route.destinations) {
          // A timer cannot be slowed down: a tick for a full backpressure queue is skipped.
          if (this.#units.get(dest.receiver)?.inbox.backpressureFull(dest.inputId) === true) continue
          this.#deliver(dest.receiver, { type: 'input', id: dest.inputId, header: tick.header, data: new Uint8Array(0) })
        }
      })
      this.#timers.push(timer)
      timer.start()
    }
    if (this.#options.stopAfterMs !== undefined) {
      this.#ladder.deadline(this.#options.stopAfterMs, () => {
        this.#reason = 'stop-after'
        this.stop()
      })
    }
  }

  /**
   * Stop the dataflow: every node gets Stop, then after the grace period SIGTERM, then SIGKILL.
   * Calling it again skips the grace period (a second Ctrl-C).
   */
  stop(): void {
    // Paused senders must be able to flush and see Stop.
    this.#flow.releaseAll()
    if (this.#reason === 'completed') this.#reason = 'stopped'
    for (const timer of this.#timers) timer.stop()
    this.#ladder.request()
    this.#checkFinished()
  }

  /**
   * End the run and release everything it holds: stops it if it is running (with the grace
   * period), waits for every unit to end, then closes its sockets, state service, state store,
   * owner lock and KVS thread. Safe on every path: before start(), after a start() that
   * failed, while running, after it ended. Idempotent: every call shares one promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #close(): Promise<void> {
    // A start() under way finishes launching first, so every unit it starts is stopped too.
    await this.#starting?.catch(() => {})
    if (!this.#finished && !this.stopping) this.stop()
    else this.#checkFinished()
    await this.done
  }

  /** Per node and operator: status, restarts, pid, uptime and message counts. */
  unitInfo(): UnitInfo[] {
    return [...this.#units.values()].map((unit) => {
      const counter = this.#counters.get(unit.key)
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

  #live(): Unit[] {
    return [...this.#units.values()].filter((u) => u.status !== 'finished' && u.status !== 'failed')
  }

  #nameOf(key: string): string {
    return this.#units.get(key)?.display ?? key
  }

  #add(unit: Unit): void {
    this.#units.set(unit.key, unit)
    this.#counters.add(unit.key)
  }

  #unitHost(): UnitHost {
    return {
      dataflowId: this.id,
      dataflowName: this.spec.name,
      maxMessageBytes: this.spec.maxMessageSize ?? DEFAULT_MAX_MESSAGE_BYTES,
      emit: (unit, outputId, header, payload) => this.#route(unit.key, outputId, header, payload),
      log: (entry) => this.#options.log(entry),
      ended: (unit, result) => this.#onUnitEnded(unit, result),
      restarted: (unit) => {
        this.#counters.restarted(unit.key)
        if (!this.stopping) this.#downstream.notify(unit.key, () => ({ type: 'node-restarted', nodeId: unit.display }))
      },
    }
  }

  #notice(level: LogEntry['level'], text: string): void {
    this.#options.log({ source: 'dora-ts', stream: 'supervisor', level, text })
  }

  #send(identity: Buffer, frames: Frames): void {
    this.#nodes?.send(identity, frames)
  }

  /** Route an output of `producerKey` to every receiver input it feeds. */
  #route(producerKey: string, outputId: string, header: MessageHeader, payload: Uint8Array, shm?: SharedSegment): void {
    const key = this.#downstream.openOutputKey(producerKey, outputId)
    if (key === undefined) return
    this.#counters.sent(producerKey)
    const destinations = this.#routing.outputs.get(key)
    if (destinations === undefined) return
    // Every receiver shares the same bytes: nothing writes to a payload, and an operator's
    // host copies it into the worker unless it was marked its alone (runtime/operator/host.ts).
    for (const dest of destinations) {
      if (shm === undefined) this.#deliver(dest.receiver, { type: 'input', id: dest.inputId, header, data: payload })
      else this.#deliver(dest.receiver, this.#resources!.shm!.delivery(shm, dest.inputId, header, this.#liveCustomNode(dest.receiver)))
    }
  }

  /** True when `key` is a custom node that will queue what it is given (see #deliver). */
  #liveCustomNode(key: string): boolean {
    const unit = this.#units.get(key)
    return unit instanceof CustomNode && unit.status !== 'finished' && unit.status !== 'failed'
  }

  #deliver(receiverKey: string, item: DeliveredEvent): void {
    const unit = this.#units.get(receiverKey)
    if (unit === undefined || unit.status === 'finished' || unit.status === 'failed') return
    if (item.type === 'input') {
      this.#counters.received(receiverKey)
      this.#inputTimeouts.feed(receiverKey, item.id)
    }
    const displaced = unit.inbox.push(item)
    // Dropped by drop_oldest: it must not come back from the outbox in the next run.
    if (displaced !== undefined) {
      if (unit instanceof OperatorHost) unit.discarded(displaced)
      else this.#consumedByNode(unit.key, [displaced])
    }
    unit.pump()
  }

  /**
   * A custom node consumed these events (it asked for its next batch) or its queue dropped
   * them: their outbox entries go, or the next run would deliver them again.
   */
  #consumedByNode(nodeKey: string, events: readonly DeliveredEvent[]): void {
    // Their shared-memory segments too: the last receiver done deletes the file.
    const shm = this.#resources?.shm
    const store = this.#resources?.store
    if (store === undefined) {
      shm?.release(events)
      return
    }
    // In the group commit of this turn, not a transaction of its own per batch: until it
    // commits, a supervisor death only means these come again, marked redelivered.
    discardConsumed(
      nodeKey,
      events,
      // With the next group commit: no write transaction of its own on the routing thread.
      (keys, done) => store.receiverOutbox(nodeKey).discardLater(keys, done),
      (text) => this.#notice('warn', `${nodeKey}: ${text}`),
    )
    // After the commit that deletes their entries, when the store has let go of its own link
    // to a segment (src/store/state/segments.ts): only then can the file go back to its writer
    // for reuse (shm-payloads.ts never hands back a file the store still holds).
    if (shm !== undefined) store.receiverOutbox(nodeKey).afterGroup(() => shm.release(events))
  }

  #nodeOutputsOptions(): ConstructorParameters<typeof NodeOutputs>[1] {
    return {
      routes: (sender, outputId) => (this.#downstream.openOutputKey(sender, outputId) === undefined ? [] : this.#outboxReceivers(sender, outputId)),
      route: (sender, header, data, order, shm) => {
        if (order !== undefined) rememberOrder(header, order)
        this.#route(sender, header.outputId, header, data, shm)
      },
      warn: (sender, text) => this.#notice('warn', `${this.#nameOf(sender)}: ${text}`),
    }
  }

  /**
   * The receivers of `producer`'s output `outputId` whose copies go into the outbox with the
   * producing event: operators, and custom nodes, which consume theirs by asking for their
   * next batch. A message for any of them survives the supervisor's death and a stop.
   */
  #outboxReceivers(producer: string, outputId: string): readonly OutboxRoute[] {
    const cacheKey = `${producer}\0${outputId}`
    let routes = this.#outboxRoutes.get(cacheKey)
    if (routes === undefined) {
      const key = this.#routing.producers.get(producer)?.outputKeys.get(outputId)
      const destinations = key === undefined ? [] : (this.#routing.outputs.get(key) ?? [])
      routes = destinations.filter((d) => this.#units.has(d.receiver)).map((d) => ({ receiver: d.receiver, inputId: d.inputId }))
      this.#outboxRoutes.set(cacheKey, routes)
    }
    return routes
  }

  /** Queue every message left in the outbox for its receiver, in the order it was committed. */
  #replayOutbox(): void {
    const store = this.#resources?.store
    if (store === undefined) return
    for (const unit of this.#units.values()) {
      const inputs = new Set((this.#routing.inputs.get(unit.key) ?? []).map((i) => i.id))
      let entries
      try {
        entries = unit instanceof OperatorHost ? store.operator(unit.key).pending(this.id) : store.receiverOutbox(unit.key).pending(this.id)
      } catch (err) {
        this.#notice('error', `${unit.display}: could not read the messages waiting for it: ${errorMessage(err)}`)
        continue
      }
      let unknown = 0
      for (const entry of entries) {
        if (!inputs.has(entry.inputId)) {
          // The YAML changed since: the entry stays, for a run that has the input again.
          unknown++
          continue
        }
        rememberOrder(entry.header, entry.order)
        this.#deliver(unit.key, { type: 'input', id: entry.inputId, header: entry.header, data: entry.data })
      }
      if (entries.length > unknown) this.#notice('info', `${unit.display}: replaying ${entries.length - unknown} message(s) committed by the previous run`)
      if (unknown > 0) this.#notice('warn', `${unit.display}: ${unknown} waiting message(s) are for inputs it no longer has; they are kept`)
    }
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
      if (!this.stopping)
        this.#downstream.notify(unit.key, (affectedInputs) => ({ type: 'node-failed', nodeId: unit.display, error: result.error ?? 'failed', affectedInputs }))
    }
    this.#checkStartup()
    const close = (): void => {
      this.#downstream.closeOutputs(unit.key, unit.outputs)
      this.#checkExitWhenFinish()
      this.#checkFinished()
    }
    // Frames a process wrote just before it exited may still be in the socket: let them land
    // (and their commits finish) before its outputs close, so receivers never get InputClosed
    // ahead of the last message.
    if (unit instanceof CustomNode) setTimeout(() => this.#nodeOutputs.inOrder(unit.key, close), CRASH_DRAIN_MS)
    else close()
  }

  #checkExitWhenFinish(): void {
    const watched = this.spec.exitWhenNodesFinish
    if (watched.length === 0 || this.stopping) return
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
    this.#inputTimeouts.stop()
    this.#ladder.clear()
    this.#nodes?.close()
    try {
      await this.#resources?.close()
    } catch (err) {
      this.#notice('error', `could not release the run's state store or KVS thread: ${errorMessage(err)}`)
    }
    const units = [...this.#units.values()].map((u) => this.#results.get(u.key)!)
    const dropped: Record<string, number> = {}
    for (const unit of this.#units.values()) {
      for (const [input, count] of unit.inbox.dropped) dropped[`${unit.display}/${input}`] = count
    }
    const ok = this.#reason !== 'start-failed' && units.every((u) => u.status === 'finished')
    this.#resolveDone({ ok, reason: this.#reason, units, dropped })
    this.#checkStartup()
  }
}

function limitsOf(inputs: InputSpec[]): Map<string, InputLimits> {
  return new Map(inputs.map((i) => [i.id, { queueSize: i.queueSize, queuePolicy: i.queuePolicy }]))
}
