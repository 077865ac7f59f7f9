/**
 * A dataflow run's side of the outbox (src/store/state/outbox.ts): which receivers get their
 * copy of a message committed into the outbox with the event that produced it, what a previous
 * run committed and no receiver consumed (queued again first, in commit order), and deleting
 * the entries a custom node consumed.
 *
 * Apart from dataflow-run.ts because it is the exactly-once half of routing: the run only
 * routes and delivers, while what must survive a supervisor death (and when it may be
 * forgotten) is decided here, against the run's state store.
 *
 * @module
 */
import { errorMessage } from '../../src/errors.js'
import type { DeliveredEvent, MessageHeader } from '../../src/events.js'
import type { StateStore } from '../../src/store/state/store.js'
import { OperatorHost } from '../operator/host.js'
import { discardConsumed, markExclusive, rememberOrder, type OutboxRoute } from '../operator/outbox.js'
import type { NodeOutputsOptions } from './node-outputs.js'
import { destinationsOf, type RoutingTable } from './routing.js'
import type { ShmPayloads, SharedSegment } from './shm-payloads.js'
import type { LogEntry, Unit } from './unit.js'

/** What {@link RunOutbox} needs of its run. */
export interface RunOutboxContext {
  dataflowId: string
  routing: RoutingTable
  units: ReadonlyMap<string, Unit>
  /** The run's state store and shared-memory payloads, once opened. */
  store(): StateStore | undefined
  shm(): ShmPayloads | undefined
  /** True while `producer`'s output is open (not closed by its sender or a failure). */
  isOutputOpen(producer: string, outputId: string): boolean
  /** Route an output to every receiver input it feeds. */
  route(producer: string, outputId: string, header: MessageHeader, data: Uint8Array, shm?: SharedSegment): void
  /** Queue an event for a receiver. */
  deliver(receiver: string, event: DeliveredEvent): void
  notice(level: LogEntry['level'], text: string): void
  /** The name users see for a unit key. */
  nameOf(key: string): string
}

/** The outbox plumbing of one run (see the module comment). */
export class RunOutbox {
  readonly #run: RunOutboxContext
  readonly #routes = new Map<string, readonly OutboxRoute[]>()

  constructor(run: RunOutboxContext) {
    this.#run = run
  }

  /**
   * The receivers of `producer`'s output `outputId` whose copies go into the outbox with the
   * producing event: operators, and custom nodes, which consume theirs by asking for their
   * next batch. A message for any of them survives the supervisor's death and a stop.
   */
  receivers(producer: string, outputId: string): readonly OutboxRoute[] {
    const cacheKey = `${producer}\0${outputId}`
    let routes = this.#routes.get(cacheKey)
    if (routes === undefined) {
      const { routing, units } = this.#run
      const destinations = destinationsOf(routing, producer, outputId)
      // Best-effort receivers never get theirs from the outbox: a custom node's come from the
      // sender itself, an operator's are routed without being kept.
      routes = destinations
        .filter((d) => d.direct !== true && d.bestEffort !== true && units.has(d.receiver))
        .map((d) => ({ receiver: d.receiver, inputId: d.inputId }))
      this.#routes.set(cacheKey, routes)
    }
    return routes
  }

  /**
   * Whether `producer`'s output `outputId` feeds exactly one receiver input, an operator's that
   * takes it from the outbox: that operator's host may then move the bytes read from a node's
   * shared-memory segment into its worker instead of copying them (input-transfer.ts), and read
   * them back from the outbox for a redelivery. No one else reads those bytes: a custom node
   * gets the segment, not the bytes, and the store adopted the file before the routing.
   */
  #onlyOperator(producer: string, outputId: string): boolean {
    const destinations = destinationsOf(this.#run.routing, producer, outputId)
    const only = destinations[0]
    return (
      destinations.length === 1 &&
      only !== undefined &&
      this.receivers(producer, outputId).length === 1 &&
      this.#run.units.get(only.receiver) instanceof OperatorHost
    )
  }

  /** How custom nodes' outputs reach the outbox and then their receivers (node-outputs.ts). */
  nodeOutputsOptions(): NodeOutputsOptions {
    const run = this.#run
    return {
      routes: (sender, outputId) => (run.isOutputOpen(sender, outputId) ? this.receivers(sender, outputId) : []),
      route: (sender, header, data, order, shm) => {
        if (order !== undefined) {
          rememberOrder(header, order)
          if (shm !== undefined && this.#onlyOperator(sender, header.outputId)) markExclusive(shm.bytes())
        }
        run.route(sender, header.outputId, header, data, shm)
      },
      warn: (sender, text) => run.notice('warn', `${run.nameOf(sender)}: ${text}`),
    }
  }

  /**
   * A custom node consumed these events (it asked for its next batch) or its queue dropped
   * them: their outbox entries go, or the next run would deliver them again.
   */
  consumedByNode(nodeKey: string, events: readonly DeliveredEvent[]): void {
    // Their shared-memory segments too: the last receiver done deletes the file.
    const shm = this.#run.shm()
    const store = this.#run.store()
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
      (text) => this.#run.notice('warn', `${nodeKey}: ${text}`),
    )
    // After the commit that deletes their entries, when the store has let go of its own link
    // to a segment (src/store/state/segments.ts): only then can the file go back to its writer
    // for reuse (shm-payloads.ts never hands back a file the store still holds).
    if (shm !== undefined) store.receiverOutbox(nodeKey).afterGroup(() => shm.release(events))
  }

  /** Queue every message left in the outbox for its receiver, in the order it was committed. */
  replay(): void {
    const run = this.#run
    const store = run.store()
    if (store === undefined) return
    for (const unit of run.units.values()) {
      const inputs = new Set((run.routing.inputs.get(unit.key) ?? []).map((i) => i.id))
      let entries
      try {
        entries = unit instanceof OperatorHost ? store.operator(unit.key).pending(run.dataflowId) : store.receiverOutbox(unit.key).pending(run.dataflowId)
      } catch (err) {
        run.notice('error', `${unit.display}: could not read the messages waiting for it: ${errorMessage(err)}`)
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
        run.deliver(unit.key, { type: 'input', id: entry.inputId, header: entry.header, data: entry.data })
      }
      if (entries.length > unknown) run.notice('info', `${unit.display}: replaying ${entries.length - unknown} message(s) committed by the previous run`)
      if (unknown > 0) run.notice('warn', `${unit.display}: ${unknown} waiting message(s) are for inputs it no longer has; they are kept`)
    }
  }
}
