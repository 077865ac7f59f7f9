/**
 * One running dataflow: opens what it needs (run-resources.ts), binds the custom nodes' ROUTER
 * (node-router.ts), launches custom nodes and operator workers (run-units.ts), ticks timers
 * (run-clocks.ts), routes every output to the inboxes of its receivers, and stops it all with
 * dora's ladder (stop-ladder.ts). The pieces it wires together each keep one kind of
 * bookkeeping: closed outputs and what receivers are told about their senders (downstream.ts),
 * input_timeout clocks (input-timeouts.ts), backpressure (flow-control.ts), message counts
 * (counters.ts), the outbox side of routing (run-outbox.ts) and start-up (startup-watch.ts).
 *
 * Message path: node --(DEALER/ROUTER, ipc)--> supervisor --> receiver inbox --> either
 * ROUTER --> node, or MessagePort --> operator worker.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../../src/errors.js'
import { isOutOfFds } from '../../src/fd-limit.js'
import { randomUUID } from 'node:crypto'
import type { DataflowSpec } from '../../src/spec/types.js'
import type { DeliveredEvent, MessageHeader } from '../../src/events.js'
import { DEFAULT_KVS_MAP_SIZE_BYTES, defaultKvsDir } from '../../src/store/kvs/store.js'
import type { StateStore } from '../../src/store/state/store.js'
import type { KvsConfig } from '../../node-sdk/kvs.js'
import { stateDirOf } from '../state/location.js'
import { OperatorHost } from '../operator/host.js'
import { OperatorLinks } from '../operator/operator-links.js'
import { resolve } from 'node:path'
import type { SharedSegment } from './shm-payloads.js'
import { CustomNode } from './custom-node.js'
import { UnitCounters, type UnitInfo } from './counters.js'
import { Downstream } from './downstream.js'
import { FlowControl } from './flow-control.js'
import type { InputTimeouts } from './input-timeouts.js'
import { inputTimeoutsOf, startTimers, type RunClockTargets } from './run-clocks.js'
import { NodeOutputs } from './node-outputs.js'
import { NodeRouter } from './node-router.js'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/transport/node-socket.js'
import { buildRoutingTable, destinationsOf, type RoutingTable } from './routing.js'
import { directWiring, type DirectWiring } from './direct-links.js'
import { OutputTaps, type TapRead } from './output-taps.js'
import { tapSourceOf, topicsOf, type TopicInfo } from './topics.js'
import { producerOf, PublishedHeaders, type PublishReply } from './topic-publish.js'
import { UnitStops } from './unit-stops.js'
import { checkFdBudget, outOfFdsNotice } from './fd-budget.js'
import { initProcessWarning } from './init-process.js'
import { LinkDrops } from './link-drops.js'
import { prepareLinkLogs } from './link-logs.js'
import { RunResources } from './run-resources.js'
import { RunOutbox, type RunOutboxContext } from './run-outbox.js'
import type { RunOptions, RunResult, UnitReport } from './run-types.js'
import { createUnits, startUnits, stopUnits, unitInfoOf } from './run-units.js'
import { StartupWatch } from './startup-watch.js'
import { StopLadder } from './stop-ladder.js'
import type { Timer } from './timers.js'
import type { LogEntry, Unit, UnitHost, UnitResult } from './unit.js'

/** The bytes of a message kept for a unit that ended: none (they are in the outbox). */
const NO_BYTES = new Uint8Array(0)

export type { UnitInfo } from './counters.js'
export type { RunOptions, RunResult, UnitReport } from './run-types.js'

/** A node that crashed may still have frames in flight on the socket; wait this long for them. */
const CRASH_DRAIN_MS = 50
/** How long a finished run waits for its operators' retired worker threads to end before it closes its store (ms). */
const THREADS_GONE_WAIT_MS = 5_000

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
  /** The same moment on the monotonic clock (see UnitInfo.uptimeMs). */
  readonly startedMono = performance.now()
  /** The shared KVS as this run hands it to its nodes and operators (they open it themselves). */
  readonly kvs: KvsConfig
  readonly #options: Required<Pick<RunOptions, 'graceMs' | 'log'>> &
    Pick<RunOptions, 'stopAfterMs' | 'stateDir' | 'cleanState' | 'runtimeDir' | 'operatorWarningMs'>
  readonly #routing: RoutingTable
  /** Direct links between operators (operator-links.ts), when the dataflow has any. */
  readonly #links: OperatorLinks | undefined
  /** Backpressure: pauses the outputs feeding full `backpressure` inputs (flow-control.ts). */
  readonly #flow: FlowControl
  readonly #downstream: Downstream
  readonly #inputTimeouts: InputTimeouts
  readonly #ladder: StopLadder
  readonly #counters = new UnitCounters()
  readonly #units = new Map<string, Unit>()
  readonly #results = new Map<string, UnitReport>()
  readonly #timers: Timer[] = []
  /** The outbox side of routing: what survives a supervisor death, and replaying it (run-outbox.ts). */
  readonly #outbox: RunOutbox
  /** What timer ticks and input_timeout act on (run-clocks.ts). */
  readonly #clocks: RunClockTargets
  #resources: RunResources | undefined
  /** Drops of reliable direct inputs their receivers have not counted yet (link-drops.ts). */
  #linkDrops: LinkDrops | undefined
  #nodes: NodeRouter | undefined
  /** Copies of tapped outputs for `dora-ts topic echo` and `hz` (output-taps.ts). */
  readonly #taps = new OutputTaps()
  /** Units stopped one by one (`dora-ts stop NAME NODE`: unit-stops.ts). */
  readonly #unitStops = new UnitStops()
  /** Headers of what `dora-ts topic pub` puts on outputs (topic-publish.ts). */
  readonly #published = new PublishedHeaders()
  /** The run's direct wiring, once started: which outputs pass the supervisor (topics.ts). */
  #wiring: ReadonlyMap<string, DirectWiring> | undefined
  /** Resolves once {@link #wiring} is set, or the start ended without it (see {@link pathsKnown}). */
  readonly #wired: Promise<void>
  #setWired!: () => void
  /** Custom nodes' messages: committed into the outbox before they are routed and confirmed. */
  #nodeOutputs: NodeOutputs
  #starting: Promise<void> | undefined
  #closing: Promise<void> | undefined
  #reason: RunResult['reason'] = 'completed'
  #finished = false
  /** Whether the run has said it is out of file descriptors (once: every unit after fails too). */
  #saidOutOfFds = false
  /** See {@link startupSettled}. */
  readonly #startup: StartupWatch<UnitReport>
  #resolveDone!: (result: RunResult) => void

  constructor(spec: DataflowSpec, options: RunOptions = {}) {
    this.spec = spec
    this.id = options.dataflowId ?? randomUUID()
    this.#wired = new Promise((resolve) => (this.#setWired = resolve))
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
      operatorWarningMs: options.operatorWarningMs,
    }
    this.#routing = buildRoutingTable(spec)
    this.#links = OperatorLinks.of(spec)
    // What the run's helpers (run-outbox.ts, run-clocks.ts) see of it.
    const run: RunOutboxContext & RunClockTargets = {
      dataflowId: this.id,
      routing: this.#routing,
      units: this.#units,
      store: () => this.#resources?.store,
      shm: () => this.#resources?.shm,
      isOutputOpen: (producer, outputId) => this.#downstream.openOutputKey(producer, outputId) !== undefined,
      route: (producer, outputId, header, data, shm) => this.#route(producer, outputId, header, data, shm),
      backpressureFull: (receiver, inputId) => this.#units.get(receiver)?.inbox.backpressureFull(inputId) === true,
      mayTimeOut: (receiver, inputId) => !this.stopping && this.#downstream.isInputOpen(receiver, inputId),
      deliver: (receiver, event) => this.#deliver(receiver, event),
      notice: (level, text) => this.#notice(level, text),
      nameOf: (key) => this.#nameOf(key),
    }
    this.#clocks = run
    this.#outbox = new RunOutbox(run)
    this.#nodeOutputs = new NodeOutputs(undefined, this.#outbox.nodeOutputsOptions())
    this.#startup = new StartupWatch(
      (connected) => this.#finished || [...this.#units.values()].every((u) => !(u instanceof CustomNode) || connected.has(u.key) || this.#results.has(u.key)),
      () => [...this.#results.values()].filter((r) => r.status === 'failed'),
    )
    this.#flow = new FlowControl(this.#routing, (producer, paused) => this.#units.get(producer)?.setPausedOutputs(paused))
    this.#downstream = new Downstream(this.#routing, (receiver, event) => this.#deliver(receiver, event))
    this.#inputTimeouts = inputTimeoutsOf(run)
    this.#ladder = new StopLadder({
      graceMs: this.#options.graceMs,
      sendStop: () => stopUnits(this.#live(), (unit) => this.#deliver(unit.key, { type: 'stop', cause: 'manual' })),
      terminate: (reason) => this.#live().forEach((unit) => unit.terminate(reason)),
      kill: (reason) => this.#units.forEach((unit) => unit.kill(reason)),
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
    return this.#startup.settled(signal)
  }

  /** The units of this run, keyed `node` or `node/operator`. */
  get units(): ReadonlyMap<string, Unit> {
    return this.#units
  }

  /** Refused registrations and dropped frames on the node socket (tests, diagnostics), once started. */
  get nodeSocketStats(): NodeRouter['stats'] | undefined {
    return this.#nodes?.stats
  }

  /** The run's private directory (its sockets), once started. */
  get runDirPath(): string | undefined {
    return this.#resources?.runDir.path
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
    this.#starting = this.#start().finally(() => this.#setWired())
    return this.#starting
  }

  async #start(): Promise<void> {
    checkFdBudget(this.spec)
    const asInit = initProcessWarning()
    if (asInit !== undefined) this.#notice('warn', asInit)
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
    this.#nodeOutputs = new NodeOutputs(resources.store, this.#outbox.nodeOutputsOptions())
    const linksDir = resources.store?.linksDir
    const direct = directWiring(this.spec, resources.runDir.path, linksDir)
    this.#wiring = direct
    this.#setWired()
    try {
      // Before any node starts: every receiver's cursor exists, links the YAML dropped are gone.
      if (linksDir !== undefined) prepareLinkLogs(direct, linksDir, (text) => this.#notice('warn', text))
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
        // A node started again when it ends cleanly keeps its outputs open across the restart
        // (as dora keeps a node about to restart running, telling its receivers only that it
        // restarted): its own close at its end closes nothing for them, and they close when it
        // ends for good (#onUnitEnded).
        closeOutputs: (node, outputs) => {
          if (!node.restartsWhenDone()) this.#downstream.closeOutputs(node.key, outputs, true)
        },
        log: (entry) => this.#options.log(entry),
        maxMessageBytes: this.spec.maxMessageSize,
        shm: resources.shm,
        direct: (nodeId) => direct.get(nodeId),
        directCounts: (node, more) => {
          // Drops of an input count as that input's, as the supervisor's own queue drops do
          // (`dora-ts list`, the run's report), those of a sender's full pipe too, as the
          // receiving input's (the viewer's report says what it missed, wherever it was lost);
          // the rest (a sender older than linkDrops) as the node's.
          let ofInputs = 0n
          const inbox = this.#units.get(node.key)?.inbox
          for (const d of more.inputDrops ?? []) {
            if (inbox === undefined) break
            inbox.countDropped(d.inputId, Number(d.dropped))
            ofInputs += d.dropped
          }
          for (const d of more.linkDrops ?? []) {
            const receiver = this.#units.get(d.node ?? '')?.inbox
            if (receiver === undefined) continue
            receiver.countDropped(d.inputId, Number(d.dropped))
            ofInputs += d.dropped
          }
          this.#counters.direct(node.key, { ...more, dropped: more.dropped > ofInputs ? more.dropped - ofInputs : 0n })
        },
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
    if (linksDir !== undefined) this.#linkDrops = new LinkDrops(direct)

    createUnits(this.spec, {
      host: this.#unitHost(),
      operatorWarningMs: this.#options.operatorWarningMs,
      resources,
      kvs: this.kvs,
      sendTo: (identity, frames) => this.#nodes?.send(identity, frames),
      queued: (receiver, inputId, queued) => this.#flow.queued(receiver, inputId, queued),
      consumed: (nodeId, events) => this.#outbox.consumedByNode(nodeId, events),
      connected: (nodeId) => this.#startup.connected(nodeId),
      // After its last frames landed (as for its outputs, #onUnitEnded): a report read later
      // would otherwise find no record of the connection and count from zero again.
      connectionEnded: (identity, exitCounts) => {
        if (exitCounts !== undefined) this.#nodes?.exitCounts(identity, exitCounts)
        setTimeout(() => this.#nodes?.connectionEnded(identity), CRASH_DRAIN_MS).unref()
      },
      outboxReceivers: (producer, outputId) => this.#outbox.receivers(producer, outputId),
      receiverCount: (producer, outputId) => destinationsOf(this.#routing, producer, outputId).length,
      links: this.#links,
      // Drops are in the receiver's inbox count already (host.ts #onLinkCounts).
      linkCounts: (key, counts) => this.#counters.direct(key, { sent: BigInt(counts.sent), received: BigInt(counts.received), dropped: 0n }),
      add: (unit) => this.#add(unit),
    })
    // Messages between operators that a previous run committed and their receiver did not:
    // first in line, before anything new (a SIGKILL, a stop or a power cut lost none of them).
    this.#outbox.replay()

    // The input_timeout clocks exist since the constructor: messages routed while a slow
    // receiver is still starting feed them too (armed later, a pause during start-up went unseen).
    if (!(await startUnits(this.#units.values()))) {
      // A unit ended by a Stop while it was starting: the run stopped, it did not fail to start.
      if (!this.stopping) this.#reason = 'start-failed'
      this.stop()
      return
    }
    // A stop() while the units were starting: no timer and no deadline may start after it.
    if (this.stopping) return
    this.#timers.push(...startTimers(this.#clocks))
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
  /** Stop the run (the stop ladder's next step); `graceMs`: a first stop's own grace period, instead of the run's. */
  stop(graceMs?: number): void {
    // Paused senders must be able to flush and see Stop.
    this.#flow.releaseAll()
    if (this.#reason === 'completed') this.#reason = 'stopped'
    for (const timer of this.#timers) timer.stop()
    this.#ladder.request(graceMs)
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
    const linkDrops = this.#linkDrops
    return unitInfoOf(this.#units.values(), this.#counters, linkDrops && ((key) => linkDrops.pendingOf(key)))
  }

  /**
   * Resolves once {@link topics} says the paths the run really uses: a run still opening its
   * store has no direct wiring yet, and its link-log outputs would read as `supervisor` (a tap
   * opened then waited on a path no message takes). At once for a run not started.
   */
  pathsKnown(): Promise<void> {
    return this.#starting === undefined ? Promise.resolve() : this.#wired
  }

  /** Every output of the dataflow, with its receivers and the path it takes (`dora-ts topic list`). */
  topics(): TopicInfo[] {
    return topicsOf(this.spec, this.#routing, this.#wiring, (key) => this.#nameOf(key))
  }

  /**
   * Open a tap on `topics` (each as {@link topics} names it, every one a topic a tap can see:
   * the caller checks); its id for {@link readTap}. `previewBytes`: how much of each payload
   * it keeps.
   */
  openTap(topics: readonly TopicInfo[], previewBytes: number): string {
    return this.#taps.open(
      topics.flatMap((info) => tapSourceOf(info) ?? []),
      previewBytes,
    )
  }

  /** What tap `id` caught since it was last read; undefined once it is closed (the run ended, or it idled out). */
  readTap(id: string): TapRead | undefined {
    return this.#taps.read(id)
  }

  closeTap(id: string): void {
    this.#taps.close(id)
  }

  /**
   * Put `data` on `topic` (as {@link topics} names it) from outside: `dora-ts topic pub`
   * (topic-publish.ts). Every receiver of it that runs and is not stopping gets it through the
   * supervisor; taps on the topic see it. `refused`: why nothing was sent (the run is stopping,
   * or the output has closed).
   */
  publish(topic: string, data: Uint8Array, encoding: string): PublishReply | { refused: string } {
    const producer = producerOf(this.#routing, topic)
    if (producer === undefined) return { refused: `dataflow "${this.spec.name}" has no output ${topic}` }
    if (this.stopping || this.#finished) return { refused: `dataflow "${this.spec.name}" is stopping` }
    if (this.#downstream.openOutputKey(producer.key, producer.outputId) === undefined) {
      return { refused: `${topic} has closed (${this.#nameOf(producer.key)} ended or closed it), and its receivers were told their inputs ended` }
    }
    const header = this.#published.next(this.id, producer.key, producer.outputId, encoding)
    this.#taps.published(topic, header, data)
    const reply: PublishReply = { topic, messageId: header.messageId, delivered: [], notDelivered: [] }
    for (const dest of this.#routing.outputs.get(topic) ?? []) {
      const unit = this.#units.get(dest.receiver)
      const input = `${this.#nameOf(dest.receiver)}/${dest.inputId}`
      const why = unit === undefined ? 'it is not part of this run' : notTaking(unit)
      if (why !== undefined) {
        reply.notDelivered.push({ input, why })
        continue
      }
      this.#deliver(dest.receiver, { type: 'input', id: dest.inputId, header, data })
      reply.delivered.push(input)
    }
    return reply
  }

  /**
   * `dora-ts stop NAME NODE`: Stop to one unit, which ends for good while the rest runs on
   * (unit-stops.ts); `graceMs` before it is terminated, the run's by default. Resolves with its
   * report once it has ended; `refused`: why it cannot be stopped (the run is stopping, or the
   * unit has ended).
   */
  stopUnit(unit: Unit, graceMs = this.#options.graceMs): Promise<UnitReport> | { refused: string } {
    if (this.#finished) return { refused: 'its dataflow has ended' }
    if (this.stopping) return { refused: 'its dataflow is stopping' }
    const report = this.#results.get(unit.key)
    if (report !== undefined) return { refused: `it has ${report.status === 'failed' ? 'failed' : 'ended'}` }
    return this.#unitStops.stop(unit, graceMs, () => {
      // A send of it that waits on a full backpressure queue must go on for it to see its Stop.
      this.#flow.releaseProducer(unit.key)
      stopUnits([unit], (u) => this.#deliver(u.key, { type: 'stop', cause: 'manual' }))
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

  /** Route an output of `producerKey` to every receiver input it feeds. */
  #route(producerKey: string, outputId: string, header: MessageHeader, payload: Uint8Array, shm?: SharedSegment): void {
    const key = this.#downstream.openOutputKey(producerKey, outputId)
    if (key === undefined) return
    this.#counters.sent(producerKey)
    if (this.#taps.watching(key)) this.#taps.record(key, header, () => (shm === undefined ? payload : shm.bytes()))
    const destinations = this.#routing.outputs.get(key)
    if (destinations === undefined) return
    // Every receiver shares the same bytes: nothing writes to a payload, and an operator's
    // host copies it into the worker unless it was marked its alone (runtime/operator/host.ts).
    for (const dest of destinations) {
      // A best-effort receiver got this message from the sender directly (direct-links.ts).
      if (dest.direct === true) continue
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
    if (unit === undefined) return
    if (unit.status === 'finished' || unit.status === 'failed') {
      if (item.type === 'input') this.#keepForNextRun(unit, item)
      return
    }
    if (item.type === 'input') {
      this.#counters.received(receiverKey)
      this.#inputTimeouts.feed(receiverKey, item.id)
    }
    this.#discardDisplaced(unit, unit.inbox.push(item))
    unit.pump()
  }

  /** Dropped by drop_oldest: it must not come back from the outbox in the next run. */
  #discardDisplaced(unit: Unit, displaced: DeliveredEvent | undefined): void {
    if (displaced === undefined) return
    if (unit instanceof OperatorHost) unit.discarded(displaced)
    else this.#outbox.consumedByNode(unit.key, [displaced])
  }

  /**
   * A message for a unit that ended for good (failed, or not restarted) stays in the outbox for
   * the next run, as many of a `drop_oldest` input as its `queue_size`: its queue, never
   * delivered now, keeps them (without their bytes, which are in the outbox) and drops the
   * oldest from the outbox, counted, as it would drop them when the next run replays them. So a
   * dead receiver of a 30 Hz camera holds ten frames in the store, not every frame until the
   * run ends. (A `backpressure` input keeps every message, as it promises never to drop.)
   */
  #keepForNextRun(unit: Unit, item: DeliveredEvent & { type: 'input' }): void {
    if (!unit.inbox.dropsOldest(item.id)) return
    this.#discardDisplaced(unit, unit.inbox.push({ type: 'input', id: item.id, header: item.header, data: NO_BYTES }))
  }

  #onUnitEnded(unit: Unit, result: UnitResult): void {
    // It takes nothing more: whatever it held paused goes on (its queue is never delivered).
    this.#flow.release(unit.key)
    const report: UnitReport = { unit: unit.display, status: result.status, error: result.error, stderrTail: result.stderrTail }
    this.#results.set(unit.key, report)
    this.#unitStops.ended(unit.key, report)
    const waiting = unit.inbox.waitingForNextRun
    if (waiting > 0) this.#notice('info', `${unit.display}: its Stop went ahead of ${waiting} queued message(s); they wait in the outbox for the next run`)
    if (result.status === 'failed') {
      this.#notice('error', `${unit.display} ${result.error ?? 'failed'}`)
      if (!this.#saidOutOfFds && isOutOfFds(result.error)) {
        this.#saidOutOfFds = true
        this.#notice('error', outOfFdsNotice())
      }
      if (!this.stopping)
        this.#downstream.notify(unit.key, (affectedInputs) => ({ type: 'node-failed', nodeId: unit.display, error: result.error ?? 'failed', affectedInputs }))
    }
    this.#startup.check()
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
    // Before the link logs are compacted: a tap may be reading one.
    this.#taps.closeAll()
    this.#inputTimeouts.stop()
    this.#ladder.clear()
    this.#unitStops.clear()
    this.#nodes?.close()
    // Before the drops are read: the links count what was lost on them (operator-links.ts).
    await this.#links?.close()
    // And before the link logs are compacted (resources.close): what a receiver left unread in
    // its sender's log and the log no longer holds is this run's drop.
    this.#linkDrops?.settle((nodeId, inputId, dropped) => this.#units.get(nodeId)?.inbox.countDropped(inputId, dropped))
    // Before the store closes: a retired worker's thread may still be writing staged payloads,
    // which the store's close removes only if they are there by then. Bounded: a thread stuck
    // in a native call is not waited for forever.
    const threads = [...this.#units.values()].flatMap((u) => (u instanceof OperatorHost ? [u.threadsGone()] : []))
    await Promise.race([Promise.all(threads), sleep(THREADS_GONE_WAIT_MS, undefined, { ref: false })])
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
    this.#startup.check()
  }
}

/** Why `unit` takes no published message now (it ended, failed or is stopping), or undefined. */
function notTaking(unit: Unit): string | undefined {
  if (unit.status === 'finished') return 'it has ended'
  if (unit.status === 'failed') return 'it has failed'
  if (unit.status === 'stopping' || unit.inbox.stopRequested) return 'it is stopping'
  return undefined
}
