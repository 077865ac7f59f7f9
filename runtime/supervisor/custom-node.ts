/**
 * A custom node: a child process that talks to the supervisor over the run's ZeroMQ ROUTER.
 * Owns the process from spawn to exit. Events reach it pushed (a node whose SDK sends `credit`):
 * sent as they arrive, as long as fewer than the SDK's window are unconsumed and, per input,
 * fewer than its queue_size, so what a busy node has not taken yet still waits in the inbox,
 * where the queue policy (drop_oldest, backpressure) applies. A node that pulls (an SDK
 * without push) gets them in batches, each answering one `next` request.
 *
 * At-least-once both ways (README "Guarantees"):
 * - Outputs: the node's SDK resolves `send()` only when this side confirms it took the message
 *   (`outputs-taken`, cumulative, see {@link OutputAcks}), so a node killed after `await send()`
 *   has lost nothing.
 * - Inputs: an event counts as consumed only when the node says so (push: its cumulative
 *   `credit`; pull: asking for the next batch). If the process dies first and is restarted,
 *   what it had not consumed is queued again ahead of everything else, inputs marked
 *   `redelivered` with their original header (messageId, sequence), so a sink can drop the
 *   ones it had already handled.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { commandLine, killGroup } from './node-command.js'
import { encodeSupervisorToNode } from '../../src/protocol/node/codec.js'
import { eventFrames } from './event-frames.js'
import type { SupervisorToNode, WireStop } from '../../src/protocol/node/messages.js'
import type { CustomNodeSpec } from '../../src/spec/types.js'
import { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID, ENV_NODE_SECRET, ENV_SUPERVISOR_PID } from '../../src/transport/env.js'
import { loadFailureHint } from '../../src/spec/load-hint.js'
import { isAlive } from '../../src/transport/run-dir.js'
import { CRASH_NOTE_ENV, crashNotePath, takeCrashNote } from '../../src/transport/crash-note.js'
import { printedFailure } from '../../src/transport/printed-failure.js'
import { newNodeSecret } from '../../src/security/node-secret.js'
import type { Frames } from '../../src/transport/send-queue.js'
import type { DeliveredEvent, StopEvent } from '../../src/events.js'
import type { Inbox } from './inbox.js'
import type { Reaper, TrackedSpawnOptions } from './reaper.js'
import { oomScoreAdjOf } from './oom-score.js'
import { groupMemory } from './group-memory.js'
import { oomKillCount, signalCause } from './signal-cause.js'
import { RestartBudget, STOPPING_REASON } from './restart-policy.js'
import { forEachLine, LineTail, type Unit, type UnitHost, type UnitResult, type UnitStatus } from './unit.js'
import { errorMessage } from '../../src/errors.js'
import { OutputAcks } from './output-acks.js'
import { NodeDelivery, type DeliveryTarget } from './node-delivery.js'
import { nodeMallocEnv } from './malloc-tuning.js'

export interface CustomNodeOptions {
  endpoint: string
  /** Sends frames to the node's ZeroMQ identity (through the run's ROUTER send queue). */
  sendTo(identity: Buffer, frames: Frames): void
  inbox: Inbox
  /** Working directory: the dataflow YAML's directory, as dora does. */
  cwd: string
  /** Spawns the node so that it cannot outlive the supervisor (reaper.ts); without it, a plain spawn. */
  reaper?: Reaper | undefined
  /**
   * The node consumed these events (it asked for its next batch): messages among them that
   * wait in the outbox are deleted there (dataflow-run.ts).
   */
  consumed?: ((events: readonly DeliveredEvent[]) => void) | undefined
  /** The current process registered (called once per process that connects). */
  connected?: (() => void) | undefined
  /**
   * The node's process ended (any way): shared-memory segments it wrote and never sent are
   * swept, and what the router keeps per connection is let go. `identity`: its registered
   * connection, if it registered.
   */
  processEnded?: ((identity: Buffer | undefined) => void) | undefined
  /**
   * The run's private directory: each process is told a file there to write the exception
   * that ends it (src/transport/crash-note.ts). Without it, a crash is named by its exit code.
   */
  crashNoteDir?: string | undefined
}

/** After a node's process exited, how long its output may take to drain before its leftover processes are stopped (ms). */
const LEFTOVER_DRAIN_MS = 500
/** Between the SIGTERM and the SIGKILL of those leftovers (ms). */
const LEFTOVER_GRACE_MS = 1000

export class CustomNode implements Unit {
  readonly key: string
  readonly display: string
  readonly nodeId: string
  readonly inbox: Inbox
  readonly spec: CustomNodeSpec
  readonly outputs: readonly string[]
  #status: UnitStatus = 'starting'
  #child: ChildProcess | undefined
  /**
   * Set once the run is stopping it (Stop(manual), SIGTERM, SIGKILL): its exit is then no crash.
   * Stop(all-inputs-closed) does not set it: that Stop goes out in the same batch as the inputs
   * queued ahead of it, and a crash on one of those is a crash like any other.
   */
  #stopping = false
  /**
   * What the current process was told about its inputs ending (Stop(all-inputs-closed) and the
   * inputs closed), so a restarted process is told again instead of waiting for inputs that
   * will never come; and a clean exit after that Stop is an end, which `always` does not restart.
   */
  readonly #closedInputs = new Set<string>()
  #inputsDone = false
  #restartCount = 0
  #restartTimer: NodeJS.Timeout | undefined
  #healthTimer: NodeJS.Timeout | undefined
  /** Warns once the process has taken longer than connect_timeout to register. */
  #connectTimer: NodeJS.Timeout | undefined
  /** Whether the current process registered; one that ends without it never ran as a node. */
  #connectedThisProcess = false
  #connectOverdue = false
  readonly #budget: RestartBudget
  #identity: Buffer | undefined
  /**
   * Which registration is current, bumped by each. The frames of a dead process, and the
   * commits of its outputs, may still be on their way when its successor registers; numbered
   * per connection, its consumption reports and confirmations would be read in the new one's
   * numbering (consuming events the new process never saw, resolving sends it has not made).
   */
  #connection = 0
  /** What of the inbox goes to the process when, and what it has not consumed yet. */
  readonly #delivery = new NodeDelivery()
  readonly #redelivery = this.#delivery.redelivery
  /** What the delivery sends through: this node's inbox and socket. */
  readonly #target: DeliveryTarget
  /** A pump is queued for the end of this synchronous pass (see {@link pump}). */
  #pumpQueued = false
  /** Confirmations of the current connection's outputs. */
  readonly #acks: OutputAcks
  /** Outputs paused by backpressure, as last told to the node. */
  #paused: string[] = []
  #endedReported = false
  #failure: string | undefined
  /** Whether dora-ts signalled the current process (the stop ladder, `dora-ts kill`). */
  #signalled = false
  /** Why the current process is being ended to start again at once (restartNow), if it is. */
  #restartRequested: string | undefined
  /** The kernel's OOM kill count when the current process started (signal-cause.ts). */
  #oomKillsAtStart: number | undefined
  readonly #stderr = new LineTail()
  readonly #host: UnitHost
  readonly #options: CustomNodeOptions

  constructor(spec: CustomNodeSpec, host: UnitHost, options: CustomNodeOptions) {
    this.spec = spec
    this.key = spec.id
    this.display = spec.id
    this.nodeId = spec.id
    this.outputs = spec.outputs
    this.inbox = options.inbox
    this.#target = {
      inbox: options.inbox,
      note: (event) => this.#noteEvent(event),
      send: (events, batch) => this.#sendEvents(events, batch),
      endBatch: () => this.send({ type: 'batch-end' }),
    }
    this.#host = host
    this.#options = options
    this.#budget = new RestartBudget(spec.restart)
    this.#acks = new OutputAcks({
      send: (upTo) => this.send({ type: 'outputs-taken', upTo }),
      gap: (expected, got) =>
        this.#host.log({
          source: 'dora-ts',
          stream: 'supervisor',
          level: 'warn',
          text: `${this.display} numbered an output ${got} where ${expected} was expected (sendSeq); confirming up to ${got} anyway`,
        }),
    })
  }

  get restartCount(): number {
    return this.#restartCount
  }

  /**
   * Whether this node is started again when it ends cleanly (`restart_policy: always`,
   * restarts left, the run not stopping, its inputs not all closed): then its outputs stay open
   * across the restart, and a close of them by the process itself (its `close()` at the end)
   * closes nothing for its receivers (Registration.restartsWhenDone).
   */
  restartsWhenDone(): boolean {
    return !this.#stopping && !this.inbox.stopRequested && !this.#inputsDone && this.#budget.mayRestartCleanEnd()
  }

  get status(): UnitStatus {
    return this.#status
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** The secret of the current spawn (a new one per start), checked at registration by the node router. */
  secret = ''

  get registered(): boolean {
    return this.#identity !== undefined
  }

  /** The current registration's number (see {@link outputTaken}). */
  get connection(): number {
    return this.#connection
  }

  /** True if `identity` is the current process's registered connection. */
  isCurrent(identity: Buffer): boolean {
    return this.#identity?.equals(identity) === true
  }

  /** Whether the current process has connected (it may have since closed its socket). */
  get hasConnected(): boolean {
    return this.#connectedThisProcess
  }

  /** The current process has run longer than connect_timeout without connecting. */
  get connectOverdue(): boolean {
    return this.#connectOverdue
  }

  start(): Promise<void> {
    this.#failure = undefined
    this.#signalled = false
    this.#oomKillsAtStart = oomKillCount()
    this.#identity = undefined
    this.#delivery.reset()
    this.#connectedThisProcess = false
    this.#connectOverdue = false
    const { command, args } = commandLine(this.spec)
    const env: NodeJS.ProcessEnv = {
      ...nodeMallocEnv(process.env, this.spec.env),
      ...process.env,
      ...this.spec.env,
      [ENV_ENDPOINT]: this.#options.endpoint,
      [ENV_NODE_ID]: this.spec.id,
      [ENV_DATAFLOW_ID]: this.#host.dataflowId,
      [ENV_SUPERVISOR_PID]: String(process.pid),
      [ENV_NODE_SECRET]: (this.secret = newNodeSecret()),
    }
    // Its own file: the run's directory is new with each run, and each process of the node has
    // a restart count of its own.
    const note = this.#crashNotePath()
    if (note !== undefined) env[CRASH_NOTE_ENV] = note
    return new Promise((resolve, reject) => {
      let child: ChildProcess
      try {
        // Its own process group: a Ctrl-C in the terminal signals the whole foreground group,
        // and nodes killed by that SIGINT could not handle Stop (the run then reported them
        // failed). The supervisor alone decides: Stop, grace, SIGTERM, SIGKILL, to the group.
        // If the supervisor dies, even by SIGKILL, the run's reaper stops the group (reaper.ts).
        const options: TrackedSpawnOptions = { cwd: this.#options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }
        // The kernel's OOM killer is to pick it before the supervisor (oom-score.ts).
        const tracked = { ...options, oomScoreAdj: oomScoreAdjOf(this.spec) }
        child = this.#options.reaper?.spawn(command, args, tracked) ?? spawn(command, args, { ...options, detached: true })
      } catch (err) {
        this.#fail(`could not start ${this.spec.path}: ${errorMessage(err)}`)
        reject(err)
        return
      }
      this.#child = child
      // First: a spawn that failed emits 'error' on the next tick, and an unheard 'error' kills
      // the supervisor. Out of file descriptors, the child has no stdio either.
      child.once('error', (err) => {
        this.#fail(`could not start ${this.spec.path}: ${err.message}`)
        reject(err)
      })
      if (child.stdout !== null && child.stdout !== undefined) {
        forEachLine(child.stdout, (text) => this.#host.log({ source: this.display, stream: 'stdout', level: 'info', text }))
      }
      if (child.stderr !== null && child.stderr !== undefined) {
        forEachLine(child.stderr, (text) => {
          this.#stderr.push(text)
          this.#host.log({ source: this.display, stream: 'stderr', level: 'warn', text })
        })
      }
      child.once('spawn', () => {
        this.#status = 'running'
        this.#watchMemory(child)
        this.#armHealthCheck()
        this.#armConnectWarning()
        resolve()
      })
      // 'close' (not 'exit') waits for stdout/stderr to drain, so the last lines are logged
      // before the node counts as ended.
      child.once('close', (code, signal) => this.#onClose(code, signal))
      child.once('exit', () => this.#endLeftovers(child))
    })
  }

  /**
   * A node's process exited, and processes it started (a wrapper script's `helper &`) may still
   * hold its stdout and stderr: 'close' then waited for them, so the node counted as running,
   * was not restarted and kept the run from ending for as long as they lived (a driver wrapper
   * with a background helper of 30 s: its crash was seen 30 s late). They are the node's, in
   * its process group: they go with it, as a service's leftover processes go with its main
   * process under systemd. SIGTERM, then SIGKILL; the group is checked first, so a node whose
   * output only drains slowly is not called names.
   */
  #endLeftovers(child: ChildProcess): void {
    const pid = child.pid
    if (pid === undefined) return
    const groupAlive = (): boolean => isAlive(-pid)
    const closed = (): boolean => child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false
    const term = setTimeout(() => {
      if (closed() || !groupAlive()) return
      this.#host.log({
        source: 'dora-ts',
        stream: 'supervisor',
        level: 'warn',
        text: `${this.display} exited, but processes it started (its process group ${pid}) still hold its output: stopping them, as the node has ended`,
      })
      killGroup(child, 'SIGTERM')
      const kill = setTimeout(() => {
        if (!closed() && groupAlive()) killGroup(child, 'SIGKILL')
      }, LEFTOVER_GRACE_MS)
      kill.unref()
    }, LEFTOVER_DRAIN_MS)
    term.unref()
    child.once('close', () => clearTimeout(term))
  }

  /**
   * `max_memory_mb`: the node's processes are read once a second (group-memory.ts); over the
   * limit, the group is killed at once (a SIGTERM's grace would let a runaway allocation take
   * the machine) and the node counts as crashed, so its restart_policy applies.
   */
  #watchMemory(child: ChildProcess): void {
    const limitMb = this.spec.maxMemoryMb
    const pid = child.pid
    if (limitMb === undefined || pid === undefined) return
    const unwatch = groupMemory.watch(pid, limitMb, (resident) => {
      if (child !== this.#child || child.exitCode !== null || child.signalCode !== null) return
      const held = `${Math.round(resident / (1024 * 1024))} MiB`
      this.#failure ??= `ran out of memory: its processes held ${held} resident, over max_memory_mb ${limitMb} MiB, so it was killed`
      this.crash(`holds ${held} resident (its process group ${pid}), over max_memory_mb ${limitMb} MiB: killing it`)
    })
    child.once('exit', unwatch)
  }

  /** A (re)started node must register within health_check_timeout, or it counts as crashed. */
  #armHealthCheck(): void {
    const seconds = this.spec.restart.healthCheckTimeout
    if (seconds === undefined) return
    clearTimeout(this.#healthTimer)
    this.#healthTimer = setTimeout(() => {
      if (this.#identity !== undefined) return
      this.#failure = `did not register within health_check_timeout (${seconds} s)`
      this.#child?.kill('SIGKILL')
    }, seconds * 1000)
    this.#healthTimer.unref()
  }

  /**
   * A program that never calls Node.connect() gets no inputs and can send nothing, and nothing
   * said so until Stop, which it cannot receive either (issue 14): say it once connect_timeout
   * has passed, naming the node and the fix. Only a warning: a slow start is allowed (a model
   * loading); health_check_timeout is the key that ends it.
   */
  #armConnectWarning(): void {
    clearTimeout(this.#connectTimer)
    const seconds = this.spec.connectTimeout
    this.#connectTimer = setTimeout(() => {
      if (this.#connectedThisProcess || this.#child?.exitCode !== null || this.#child.signalCode !== null) return
      this.#connectOverdue = true
      this.#host.log({
        source: 'dora-ts',
        stream: 'supervisor',
        level: 'warn',
        text: `${this.display} has not connected to the supervisor ${seconds} s after it started (pid ${this.#child.pid}): it gets no inputs and cannot send until its program calls \`await Node.connect()\` (from 'dora-ts'). If it only starts slowly, raise \`connect_timeout:\` on node "${this.spec.id}".`,
      })
    }, seconds * 1000)
    this.#connectTimer.unref()
  }

  /** The node registered from this ZeroMQ identity. */
  attach(identity: Buffer): void {
    clearTimeout(this.#healthTimer)
    clearTimeout(this.#connectTimer)
    const first = !this.#connectedThisProcess
    this.#connectedThisProcess = true
    if (first) this.#options.connected?.()
    this.#identity = identity
    this.#connection++
    // A new connection numbers its outputs, and its events, from 1 again; it pulls until it
    // sends a credit.
    this.#acks.reset()
    this.#delivery.newConnection()
    // A restarted node starts with nothing paused: tell it what is.
    if (this.#paused.length > 0) this.send({ type: 'outputs-paused', outputs: this.#paused })
    this.pump()
  }

  /** Backpressure (flow-control.ts): the node's SDK makes `send` on these outputs wait. */
  setPausedOutputs(outputs: ReadonlySet<string>): void {
    this.#paused = [...outputs]
    this.send({ type: 'outputs-paused', outputs: this.#paused })
  }

  /** The node asked for its next events: it is done with the previous batch. */
  requestNext(): void {
    const batch = this.#delivery.requestNext()
    if (batch.length > 0) this.#options.consumed?.(batch)
    this.pump()
  }

  /**
   * Push mode: the node consumed its events up to number `upTo`, and may hold `window`
   * unconsumed (undefined: unchanged, an output's piggybacked `consumedUpTo`); `batches`: it
   * reads several inputs per message; `exact`: the credits say exactly what the node consumed,
   * with the event its program held as it closed (see NodeDelivery.consumedByCleanExit).
   */
  credit(upTo: bigint, window?: number, batches = false, exact?: { heldAtClose?: bigint | undefined }): void {
    const { consumed, push } = this.#delivery.credit(upTo, window, batches, exact)
    if (consumed.length > 0) this.#options.consumed?.(consumed)
    if (push) this.pump()
  }

  /**
   * The node's output numbered `sendSeq` on registration `connection` has been routed to every
   * receiver's queue: confirm it (coalesced with the others of this turn of the event loop; see
   * output-acks.ts). One of an earlier connection is routed but never confirmed: its process
   * is gone, and its number means something else on the current connection.
   */
  outputTaken(sendSeq: bigint, connection: number): void {
    if (connection !== this.#connection) return
    this.#acks.taken(sendSeq)
  }

  /** Send the pending confirmation now: what follows (`outputs-closed`) must come after it. */
  flushTaken(): void {
    this.#acks.flush()
  }

  send(message: SupervisorToNode, payload?: Uint8Array): void {
    if (this.#identity === undefined) return
    const head = encodeSupervisorToNode(message)
    this.#options.sendTo(this.#identity, payload === undefined ? [head] : [head, payload])
  }

  pump(): void {
    // Stop is final: a node waiting for its restart ends now, with its real cause if it crashed.
    if (this.#status === 'restarting' && this.inbox.stopRequested) {
      return this.#endRestart(this.#failure === undefined ? undefined : `${this.#failure}; not restarted: ${STOPPING_REASON}`)
    }
    if (!this.#delivery.batching) return this.#pumpNow()
    // A node that reads batches: what arrives in one synchronous pass (a group commit routes
    // its whole group in one) goes out together at the end of it, so consecutive inputs share
    // a message; a microtask, so a lone message waits for nothing.
    if (this.#pumpQueued) return
    this.#pumpQueued = true
    queueMicrotask(() => {
      this.#pumpQueued = false
      this.#pumpNow()
    })
  }

  #pumpNow(): void {
    if (this.#identity === undefined || this.inbox.length === 0) return
    if (this.#status === 'finished' || this.#status === 'failed') return
    this.#delivery.pump(this.#target)
  }

  /** Note an event of the inbox as sent (for a replay) and what it tells the node; true for a Stop. */
  #noteEvent(item: DeliveredEvent): boolean {
    this.#redelivery.delivered(item, this.#closedInputs)
    if (item.type === 'input-closed') this.#closedInputs.add(item.id)
    if (item.type === 'input-recovered') this.#closedInputs.delete(item.id)
    if (item.type !== 'stop') return false
    this.#status = 'stopping'
    if (item.cause === 'all-inputs-closed') this.#inputsDone = true
    else this.#stopping = true
    return true
  }

  terminate(reason: string): void {
    this.#stopping = true
    if (this.#cancelRestart(reason)) return
    this.#signal('SIGTERM', reason)
  }

  kill(reason: string): void {
    this.#stopping = true
    if (this.#cancelRestart(reason)) return
    this.#signal('SIGKILL', reason)
  }

  crash(reason = 'killed on purpose', signal: NodeJS.Signals = 'SIGKILL'): void {
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    this.#host.log({ source: 'dora-ts', stream: 'supervisor', level: 'warn', text: `${this.display} ${reason}` })
    this.#signalled = true
    killGroup(child, signal)
  }

  restartNow(reason: string): string | undefined {
    if (this.#stopping || this.inbox.stopRequested) return 'its dataflow is stopping'
    if (this.#status === 'finished' || this.#status === 'failed') return 'it has ended for good'
    if (this.#status === 'restarting') {
      // Waiting out its restart delay: now.
      clearTimeout(this.#restartTimer)
      this.#relaunch()
      return undefined
    }
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return 'it has no process to restart yet'
    // SIGKILL, as a crash: the promise is that a node killed at any moment comes back with
    // nothing lost, and a SIGTERM would end an SDK node the same way, only later.
    this.#restartRequested = reason
    this.crash(reason)
    return undefined
  }

  /** A node waiting to be restarted has no process to signal: it just ends. */
  #cancelRestart(reason: string): boolean {
    if (this.#status !== 'restarting') return false
    this.#endRestart(this.#failure ?? reason)
    return true
  }

  /** End a node waiting for its restart, with `failure` (undefined: it ended cleanly). */
  #endRestart(failure: string | undefined): void {
    clearTimeout(this.#restartTimer)
    this.#failure = failure
    this.#report()
  }

  #signal(signal: NodeJS.Signals, reason: string): void {
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    this.#failure ??= reason
    this.#signalled = true
    killGroup(child, signal)
  }

  /** Send noted events, in order; with `batch`, runs of inputs share messages (event-frames.ts). */
  #sendEvents(events: readonly DeliveredEvent[], batch: boolean): void {
    const identity = this.#identity
    if (identity === undefined) return
    const wire = events.map((event) => (event.type === 'stop' && event.cause === 'manual' ? this.#stopOnWire(event) : event))
    for (const frames of eventFrames(wire, batch)) this.#options.sendTo(identity, frames)
  }

  /**
   * A Stop of the dataflow names the inputs whose pushed events the node's program has not
   * taken may wait for the next run (in the outbox) or be dropped (ticks), as the inbox set
   * its own aside (inbox.ts): a pushed node's SDK hands its program the Stop before them.
   */
  #stopOnWire(stop: StopEvent): WireStop {
    return { ...stop, waitingInputs: this.inbox.inputsThat('waits'), droppedInputs: this.inbox.inputsThat('dropped') }
  }

  #fail(error: string): void {
    this.#failure ??= error
    this.#stopping = true
    this.#report()
  }

  #onClose(code: number | null, signal: NodeJS.Signals | null): void {
    // The process is gone, and so is its socket: until a new one registers, pump() must leave
    // inputs in the inbox. (A `next` the dead process sent ahead of its crash used to send the
    // inputs arriving during restart_delay to its identity, where the ROUTER dropped them.)
    const identity = this.#identity
    this.#identity = undefined
    const consumedByCleanExit = this.#delivery.consumedByCleanExit
    const exact = this.#delivery.exact
    this.#delivery.reset()
    clearTimeout(this.#connectTimer)
    // A clean exit without ever connecting is a program that is not a dora-ts node (or forgot
    // Node.connect()): counting it as finished hid the mistake (issue 14). Unless the run was
    // stopping it: a Stop it never saw is then the reason it ended.
    if (code === 0 && signal === null && this.#failure === undefined && !this.#connectedThisProcess && !this.#stopping) {
      this.#failure = `exited with code 0 without connecting to the supervisor: its program must call \`await Node.connect()\` (from 'dora-ts') to get inputs and send outputs`
    }
    this.#options.processEnded?.(identity)
    const note = this.#crashNotePath()
    const crash = note === undefined ? undefined : takeCrashNote(note)
    if (code === 0 && signal === null && this.#failure === undefined) {
      // A clean exit is the node's own choice to end: it was done with what it had been given
      // (else the next run would get again what a sink like examples/pipeline's printer had
      // handled before it ended the run), the event its loop broke out on included. Not so for
      // what was pushed to a node that ends before its Stop and its program never took: that
      // stays, like a crash's (below), for its restart or the next run.
      const batch = this.#redelivery.consumedUpTo(consumedByCleanExit)
      if (batch.length > 0) this.#options.consumed?.(batch)
      // What its SDK set aside at the Stop (and any the program never took): in the outbox.
      if (exact && this.inbox.stopRequested)
        this.inbox.countWaitingForNextRun(this.#redelivery.countUnconsumedInputs((id) => this.inbox.atStop(id) === 'waits'))
    }
    // What the process had not consumed when it ended is kept for a restart (dropped otherwise).
    this.#redelivery.died()
    const requested = this.#restartRequested
    this.#restartRequested = undefined
    if (requested !== undefined && !this.#stopping && !this.inbox.stopRequested) {
      // Asked for (dora-ts restart): at once, whatever the policy, not counted against it.
      this.#failure = undefined
      this.#restartAfter(0, 'was ended to be restarted')
      return
    }
    if (this.#failure === undefined) {
      if (signal !== null) this.#failure = `was killed by ${signal}${signalCause(signal, this.#signalled, this.#oomKillsSince())}`
      else if (code !== 0) this.#failure = `exited with code ${code}${this.#causeOfExit(crash)}`
    }
    if (!this.#stopping && !(this.#inputsDone && this.#failure === undefined)) {
      const failed = this.#failure !== undefined
      // Ended before it took the run's Stop: after a Stop nothing restarts.
      const decision = this.#budget.next(failed, this.inbox.stopRequested)
      if (decision.restart) {
        this.#restartAfter(decision.delayMs, failed ? this.#failure! : 'exited')
        return
      }
      if (failed) this.#failure = `${this.#failure}; not restarted: ${decision.reason}`
    }
    this.#report()
  }

  /**
   * What ended a process that exited with an error: its crash note; else, for one that never
   * connected, what in its project kept its module from loading (load-hint.ts); else the error
   * its stderr ends with (a syntax error, a Python traceback: printed-failure.ts).
   */
  #causeOfExit(crash: string | undefined): string {
    if (crash !== undefined) return `: ${crash}`
    if (!this.#connectedThisProcess && (this.spec.runtime === 'ts' || this.spec.runtime === 'js')) {
      const hint = loadFailureHint(this.spec.path, this.#stderr.lines)
      if (hint !== undefined) return `: ${this.spec.path} is ${hint}`
    }
    const printed = printedFailure(this.#stderr.lines, this.#options.cwd)
    return printed === undefined ? '' : `: ${printed}`
  }

  /** How many processes the kernel's OOM killer ended since the current process started, if known. */
  #oomKillsSince(): number | undefined {
    const now = oomKillCount()
    return now === undefined || this.#oomKillsAtStart === undefined ? undefined : now - this.#oomKillsAtStart
  }

  /** Where the current process writes the exception that ends it, if the run has a place for it. */
  #crashNotePath(): string | undefined {
    const dir = this.#options.crashNoteDir
    return dir === undefined ? undefined : crashNotePath(dir, this.spec.id, this.#restartCount)
  }

  #restartAfter(delayMs: number, why: string): void {
    this.#status = 'restarting'
    this.#host.log({
      source: 'dora-ts',
      stream: 'supervisor',
      level: 'warn',
      text: `${this.display} ${why}; restarting in ${Math.round(delayMs)} ms (restart ${this.#restartCount + 1})`,
    })
    this.#restartTimer = setTimeout(() => this.#relaunch(), delayMs)
  }

  /** Start the next process of a node that ended, with what the last one left unconsumed first. */
  #relaunch(): void {
    this.#restartCount++
    this.#host.restarted(this)
    // Ahead of what was queued while it was down: the notices of the inputs closed before the
    // batch it died with, then that batch again (inputs marked redelivered, with their own
    // closed/recovered notices in place); nothing more arrives on a closed input. Stop last,
    // as the run sent it: after Stop(all-inputs-closed) only notices get queued.
    const { closedBefore, replay } = this.#redelivery.takeReplay(this.#closedInputs)
    for (let i = replay.length - 1; i >= 0; i--) this.inbox.unshift(replay[i]!)
    for (const inputId of closedBefore) this.inbox.unshift({ type: 'input-closed', id: inputId })
    if (this.#inputsDone) this.inbox.push({ type: 'stop', cause: 'all-inputs-closed' })
    this.#closedInputs.clear()
    this.#inputsDone = false
    this.start().catch(() => {
      // A node that cannot even be spawned again has failed for good.
      this.#report()
    })
  }

  #report(): void {
    clearTimeout(this.#healthTimer)
    clearTimeout(this.#connectTimer)
    if (this.#endedReported) return
    this.#endedReported = true
    this.#status = this.#failure === undefined ? 'finished' : 'failed'
    const result: UnitResult = { status: this.#status, error: this.#failure, stderrTail: this.#stderr.lines }
    this.#host.ended(this, result)
  }
}
