/**
 * The queue of events waiting for one receiver (a custom node or an operator). Inputs are
 * bounded per input id by `queue_size`: under `drop_oldest` the oldest queued message of that
 * input is dropped (and counted) to make room, so a slow receiver always sees the freshest
 * data, as dora does. Control events (input-closed, stop, ...) are never dropped and keep their
 * place in arrival order.
 *
 * A Stop of the dataflow (cause `manual`) comes next, ahead of the inputs queued before it that
 * can wait: those with a copy in the outbox (left there for the next run, which replays them
 * first) and timer ticks (nothing to keep: time goes on in the next run). So Ctrl-C reaches a
 * slow receiver after the event it is handling, not after its whole queue. Best-effort inputs,
 * which have no other copy, keep their place before it.
 */
import type { DeliveredEvent } from '../../src/events.js'
import type { QueuePolicy } from '../../src/spec/types.js'
import { isPublished } from './topic-publish.js'

export interface InputLimits {
  queueSize: number
  queuePolicy: QueuePolicy
  /**
   * What its queued messages do at a Stop of the dataflow (see the module comment): `waits`,
   * they make way and wait in the outbox for the next run; `dropped`, they make way and are
   * dropped (timer ticks); undefined, they keep their place.
   */
  atStop?: 'waits' | 'dropped' | undefined
}

export class Inbox {
  readonly #items: DeliveredEvent[] = []
  readonly #queued = new Map<string, number>()
  readonly #limits: ReadonlyMap<string, InputLimits>
  readonly #dropped = new Map<string, number>()
  readonly #onQueued: ((inputId: string, queued: number) => void) | undefined
  #stopRequested = false
  #waitingForNextRun = 0

  /** @param onQueued told the new length of an input's queue whenever it changes (for backpressure). */
  constructor(limits: ReadonlyMap<string, InputLimits>, onQueued?: (inputId: string, queued: number) => void) {
    this.#limits = limits
    this.#onQueued = onQueued
  }

  #count(inputId: string, delta: number): void {
    const queued = Math.max(0, (this.#queued.get(inputId) ?? 0) + delta)
    this.#queued.set(inputId, queued)
    this.#onQueued?.(inputId, queued)
  }

  get length(): number {
    return this.#items.length
  }

  /**
   * True once a Stop of the dataflow (cause `manual`) was queued: from then on the receiver is
   * never restarted (stop is final), whether or not it has taken the Stop yet.
   */
  get stopRequested(): boolean {
    return this.#stopRequested
  }

  /** Messages a Stop of the dataflow went ahead of, left in the outbox for the next run. */
  get waitingForNextRun(): number {
    return this.#waitingForNextRun
  }

  /** `count` more messages a Stop went ahead of (those its operator's worker handed back). */
  countWaitingForNextRun(count: number): void {
    this.#waitingForNextRun += count
  }

  /** Messages dropped so far, per input id. */
  get dropped(): ReadonlyMap<string, number> {
    return this.#dropped
  }

  /**
   * Count `count` messages of `inputId` dropped: displaced from the queue, lost after it left it
   * (a best-effort input a crash took), or dropped by the operator's worker (a direct link).
   */
  countDropped(inputId: string, count = 1): void {
    this.#dropped.set(inputId, (this.#dropped.get(inputId) ?? 0) + count)
  }

  /** Queue an item; returns the input message it displaced, if any. */
  push(item: DeliveredEvent): DeliveredEvent | undefined {
    let displaced: DeliveredEvent | undefined
    if (item.type === 'input') {
      const limits = this.#limits.get(item.id)
      const count = this.#queued.get(item.id) ?? 0
      // Backpressure never drops; its bound is kept upstream: the sender waits (flow-control.ts).
      if (limits !== undefined && limits.queuePolicy === 'drop_oldest' && count >= limits.queueSize) {
        displaced = this.#removeOldest(item.id)
      }
      this.#items.push(item)
      this.#count(item.id, 1)
      return displaced
    }
    if (item.type === 'stop' && item.cause === 'manual') {
      this.#stopRequested = true
      this.#setAside()
    }
    this.#items.push(item)
    return displaced
  }

  /** What `inputId`'s queued messages do at a Stop of the dataflow (InputLimits.atStop). */
  atStop(inputId: string): InputLimits['atStop'] {
    return this.#limits.get(inputId)?.atStop
  }

  /** The inputs whose queued messages do `kind` at a Stop of the dataflow (InputLimits.atStop). */
  inputsThat(kind: 'waits' | 'dropped'): string[] {
    const ids: string[] = []
    for (const [inputId, limits] of this.#limits) if (limits.atStop === kind) ids.push(inputId)
    return ids
  }

  /** Take the queued inputs that can wait out of the queue, ahead of a Stop of the dataflow. */
  #setAside(): void {
    const kept: DeliveredEvent[] = []
    for (const item of this.#items) {
      const atStop = item.type === 'input' ? this.atStop(item.id) : undefined
      if (atStop === undefined) kept.push(item)
      // A message `topic pub` put there has no outbox entry to wait in: it goes (at most once).
      else if (atStop === 'waits' && item.type === 'input' && !isPublished(item.header)) this.#waitingForNextRun++
    }
    if (kept.length === this.#items.length) return
    // Not splice(...kept): a queue of 100 000 would overflow the call's arguments.
    this.#items.length = 0
    for (const item of kept) this.#items.push(item)
    // Every queued message of an input that makes way went, none of another. Each length is
    // told: backpressure lets a sender waiting on an emptied queue go on (to its own Stop).
    for (const inputId of this.#queued.keys()) this.#count(inputId, this.atStop(inputId) === undefined ? 0 : -this.queued(inputId))
  }

  /** The next item, left in place. */
  peek(): DeliveredEvent | undefined {
    return this.#items[0]
  }

  shift(): DeliveredEvent | undefined {
    const item = this.#items.shift()
    if (item?.type === 'input') this.#count(item.id, -1)
    return item
  }

  /** Put an item back at the head (a restarted node is told again which inputs are closed). */
  unshift(item: DeliveredEvent): void {
    this.#items.unshift(item)
    if (item.type === 'input') this.#count(item.id, 1)
  }

  /** The `queue_size` of `inputId`, undefined for an input without limits. */
  queueSize(inputId: string): number | undefined {
    return this.#limits.get(inputId)?.queueSize
  }

  /** True when `inputId` is a `drop_oldest` input: its queue holds `queue_size` messages at most. */
  dropsOldest(inputId: string): boolean {
    return this.#limits.get(inputId)?.queuePolicy === 'drop_oldest'
  }

  /** True when `inputId` is a `backpressure` input whose queue holds `queue_size` messages or more. */
  backpressureFull(inputId: string): boolean {
    const limits = this.#limits.get(inputId)
    return limits?.queuePolicy === 'backpressure' && this.queued(inputId) >= limits.queueSize
  }

  /** Messages of this input currently queued. */
  queued(inputId: string): number {
    return this.#queued.get(inputId) ?? 0
  }

  #removeOldest(inputId: string): DeliveredEvent | undefined {
    const index = this.#items.findIndex((it) => it.type === 'input' && it.id === inputId)
    if (index < 0) return undefined
    const [removed] = this.#items.splice(index, 1)
    this.#count(inputId, -1)
    this.countDropped(inputId)
    return removed
  }
}
