/**
 * The units of a run, where their kind matters: what each node of a dataflow becomes and what
 * it is wired to (a custom node is a {@link CustomNode}, a child process on the run's ROUTER;
 * each operator of a runtime node an {@link OperatorHost}, a worker thread with its state handle
 * and the shared KVS; each gets an inbox with its inputs' queue limits, which reports queue
 * lengths to flow control), starting them, who gets Stop, and how each is listed.
 *
 * Apart from dataflow-run.ts because this is where the YAML's node kinds meet the run's
 * resources (socket, store, reaper, shared memory, KVS); the run itself routes between units
 * and supervises their lifecycles through {@link Unit}, whatever kind they are.
 *
 * @module
 */
import type { DeliveredEvent } from '../../src/events.js'
import type { DataflowSpec, InputSpec } from '../../src/spec/types.js'
import type { Frames } from '../../src/transport/send-queue.js'
import type { DirectCounts } from '../../src/protocol/node/messages.js'
import { takeExitCounts } from '../../src/transport/exit-counts.js'
import type { KvsConfig } from '../../node-sdk/kvs.js'
import { OperatorHost } from '../operator/host.js'
import type { OperatorLinks } from '../operator/operator-links.js'
import type { LinkCounts } from '../operator/messages.js'
import type { OutboxRoute } from '../operator/outbox.js'
import { CustomNode } from './custom-node.js'
import type { UnitCounters, UnitInfo } from './counters.js'
import { Inbox, type InputLimits } from './inbox.js'
import { operatorKey } from './routing.js'
import type { RunResources } from './run-resources.js'
import type { Unit, UnitHost } from './unit.js'

/** What the units of a run are wired to (see {@link createUnits}). */
export interface UnitWiring {
  host: UnitHost
  /** See RunOptions.operatorWarningMs. */
  operatorWarningMs?: number | undefined
  resources: RunResources
  kvs: KvsConfig
  /** Send frames to a custom node on the run's ROUTER. */
  sendTo(identity: Buffer, frames: Frames): void
  /** An inbox queue's new length, for flow control (which ignores all but backpressure inputs). */
  queued(receiver: string, inputId: string, queued: number): void
  /** A custom node consumed these events, or its queue dropped them. */
  consumed(nodeId: string, events: readonly DeliveredEvent[]): void
  /** A custom node's process connected. */
  connected(nodeId: string): void
  /**
   * The process registered as `identity` on the ROUTER ended: its connection is done with.
   * `exitCounts`: the counts it left as it exited (src/transport/exit-counts.ts), if any.
   */
  connectionEnded(identity: Buffer, exitCounts: DirectCounts | undefined): void
  /** The receivers whose copies of an output go into the outbox. */
  outboxReceivers(producer: string, outputId: string): readonly OutboxRoute[]
  /** How many receiver inputs an output feeds, of every kind. */
  receiverCount(producer: string, outputId: string): number
  /** The direct links between operators, when the run has any (operator-links.ts). */
  links?: OperatorLinks | undefined
  /** What an operator's direct links did, for `dora-ts list`. */
  linkCounts(key: string, counts: LinkCounts): void
  /** Take a unit into the run; called for each unit in YAML order, as soon as it is made. */
  add(unit: Unit): void
}

/** Make the units of `spec`, in YAML order, handing each to `wiring.add`. */
export function createUnits(spec: DataflowSpec, wiring: UnitWiring): void {
  const { resources } = wiring
  for (const node of spec.nodes) {
    if (node.kind === 'custom') {
      const unit = new CustomNode(node, wiring.host, {
        endpoint: resources.runDir.nodeEndpoint,
        sendTo: (identity, frames) => wiring.sendTo(identity, frames),
        inbox: inboxOf(wiring, node.id, node.inputs),
        cwd: spec.baseDir,
        reaper: resources.reaper,
        crashNoteDir: resources.runDir.path,
        consumed: (events) => wiring.consumed(node.id, events),
        connected: () => wiring.connected(node.id),
        processEnded: (identity) => {
          // Before the sweep: the counts file is under the node's segment prefix.
          const counts = identity === undefined ? undefined : takeExitCounts(resources.shm?.dir ?? '', node.id, unit.restartCount)
          resources.shm?.sweep(node.id)
          if (identity !== undefined) wiring.connectionEnded(identity, counts)
        },
      })
      wiring.add(unit)
    } else {
      for (const op of node.operators) {
        const key = operatorKey(node, op)
        const state = resources.store?.operator(key, { durability: op.durability })
        const kvs = { dir: wiring.kvs.dir, namespace: wiring.kvs.namespace, connect: () => resources.connectKvs() }
        const outboxRoutes = (outputId: string): readonly OutboxRoute[] => wiring.outboxReceivers(key, outputId)
        const receiverCount = (outputId: string): number => wiring.receiverCount(key, outputId)
        const inbox = inboxOf(wiring, key, op.inputs)
        const linkCounts = (counts: LinkCounts): void => wiring.linkCounts(key, counts)
        wiring.add(
          new OperatorHost(node, op, wiring.host, {
            inbox,
            state,
            maxMemoryMb: op.maxMemoryMb,
            warningMs: wiring.operatorWarningMs,
            kvs,
            outboxRoutes,
            receiverCount,
            links: wiring.links,
            linkCounts,
          }),
        )
      }
    }
  }
}

/**
 * Start every unit, in order. Resolves once each has started or failed to: true when all
 * started.
 */
export async function startUnits(units: Iterable<Unit>): Promise<boolean> {
  const starts: Promise<{ unit: Unit; err: unknown } | undefined>[] = []
  for (const unit of units) {
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
  return failures.length === 0
}

/** The first step of the stop ladder for the live units: Stop for each, by `sendStop`. */
export function stopUnits(live: readonly Unit[], sendStop: (unit: Unit) => void): void {
  for (const unit of live) {
    // A process past its connect_timeout without connecting cannot receive Stop: waiting
    // the grace period for it only delayed the end (issue 14). Its program still gets
    // SIGTERM to clean up. One still within connect_timeout gets Stop once it connects.
    if (unit instanceof CustomNode && unit.status === 'running' && !unit.hasConnected && unit.connectOverdue) {
      unit.terminate(
        'had not connected to the supervisor when the dataflow stopped, past its connect_timeout (its program never called Node.connect()), so it was terminated at once',
      )
    } else if (unit instanceof OperatorHost && unit.loadOverdue) {
      // Likewise an operator still loading past SLOW_WARNING_S: its handlers are not even defined.
      unit.terminate(
        `had not finished loading when the dataflow stopped, ${unit.warningS} s or more after its worker started (its module's top level, restoreState() or init() had not returned), so it was terminated at once`,
      )
    } else sendStop(unit)
  }
}

/**
 * Per unit: status, restarts, pid, uptime and message counts. `uncountedDrops`: drops of a
 * node's reliable direct inputs its SDK has not counted yet (link-drops.ts).
 */
export function unitInfoOf(units: Iterable<Unit>, counters: UnitCounters, uncountedDrops?: (key: string) => number): UnitInfo[] {
  return [...units].map((unit) => {
    const counter = counters.get(unit.key)
    const operator = unit instanceof OperatorHost
    return {
      name: unit.display,
      kind: operator ? 'operator' : 'custom',
      status: unit.status,
      restarts: unit.restartCount,
      pid: operator ? process.pid : (unit as CustomNode).pid,
      threadId: operator ? unit.threadId : undefined,
      // A custom node's is read from /proc when `list` asks (daemon/server.ts).
      cpuSeconds: operator ? unit.busySeconds : undefined,
      startedAt: counter.startedAt,
      uptimeMs: Math.round(performance.now() - counter.startedMono),
      messagesIn: counter.in,
      messagesOut: counter.out,
      // Reliable inputs' drop_oldest drops (in the supervisor's inbox), direct links' drops
      // (reported by the nodes) and what a hung or dead receiver's link log no longer holds
      // for it: one figure for `dora-ts list`.
      messagesDropped: counter.dropped + sumOf(unit.inbox.dropped.values()) + (operator ? 0 : (uncountedDrops?.(unit.key) ?? 0)),
      // An operator's is its worker's heap and buffers, as it tells them; a custom node's is
      // read from /proc when `list` asks (daemon/server.ts).
      residentBytes: operator ? unit.heldBytes : undefined,
      maxMemoryMb: operator ? unit.maxMemoryMb : (unit as CustomNode).spec.maxMemoryMb,
    }
  })
}

function sumOf(values: Iterable<number>): number {
  let sum = 0
  for (const v of values) sum += v
  return sum
}

/** The inbox of receiver `key`; its queues report their length to flow control. */
function inboxOf(wiring: UnitWiring, key: string, inputs: InputSpec[]): Inbox {
  return new Inbox(limitsOf(inputs, wiring.resources.store !== undefined), (inputId, queued) => wiring.queued(key, inputId, queued))
}

/** `outbox`: the run keeps messages in an outbox (it has a state store). */
function limitsOf(inputs: InputSpec[], outbox: boolean): Map<string, InputLimits> {
  return new Map(inputs.map((i) => [i.id, { queueSize: i.queueSize, queuePolicy: i.queuePolicy, atStop: atStop(i, outbox) }]))
}

/**
 * What is queued on `input` does at a Stop of the dataflow (inbox.ts): messages that reach the
 * inbox only once committed into the outbox (every input from an output in a run with a
 * store, but a best-effort one: a direct link's never reach the inbox at all) wait there for
 * the next run; a timer's ticks are dropped; the rest keep their place.
 */
export function atStop(input: InputSpec, outbox: boolean): InputLimits['atStop'] {
  if (input.source.kind === 'timer') return 'dropped'
  return outbox && input.reliability !== 'best_effort' ? 'waits' : undefined
}
