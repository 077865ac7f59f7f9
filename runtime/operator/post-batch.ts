/**
 * How events reach an operator's worker: how far ahead of the one it is handling they are
 * posted ({@link PIPELINE_DEPTH}, {@link DEEP_PIPELINE_DEPTH}), and gathering every event
 * posted in one stretch of synchronous work into ONE postMessage ({@link PostBatch}), packed
 * by event-wire.ts.
 *
 * Apart from host.ts because these are the throughput knobs of the routing thread, each with
 * the measurement that chose it; the host decides what to post and when, this file how.
 *
 * @module
 */
import type { Worker } from 'node:worker_threads'
import type { DeliveredEvent } from '../../src/events.js'
import { packEvents } from './event-wire.js'
import { MIN_TRANSFER_BYTES, type HostToWorker } from './messages.js'
import { mayKeepRecycled } from './state-buffers.js'

/**
 * Events posted to the worker ahead of the one it is handling: it never waits for a round trip
 * to the host between two events, and the `done`s of up to this many events arrive in one
 * turn and commit in one transaction (group commit): at 4, a stream paid one LMDB commit per
 * 2-4 events. The depth for large inputs, which bounds the worker's memory. A `drop_oldest`
 * input is held to its `queue_size` besides (fresh-inputs.ts).
 */
export const PIPELINE_DEPTH = 16

/**
 * How far small inputs (under MIN_TRANSFER_BYTES) are posted ahead: the depth only sets how
 * many events share a post. Each post wakes the worker thread, and on a busy machine that
 * wake-up, not the copy, was most of a post's cost on the routing thread (~70 us a post in
 * the 8 B stream's profile at load 3-4): at 64 (refilled at 32) the routing thread spent ~25%
 * less CPU per message than at 16 (refilled at 8), 16.9-18.2 us against 22.6-23.1 us, load 27.
 * Large inputs keep PIPELINE_DEPTH: the worker's memory stays bounded (the extra events hold
 * at most 48 x 16 KiB). Until 2026-12-03 an operator with a `drop_oldest` input kept 16 for
 * every input, for freshness; each such input is now held to its own `queue_size` instead.
 */
export const DEEP_PIPELINE_DEPTH = 64

/** How many events may be posted ahead when `next` is the next one (see the constants). */
export function depthFor(next: DeliveredEvent | undefined): number {
  return next?.type === 'input' && next.data.byteLength < MIN_TRANSFER_BYTES ? DEEP_PIPELINE_DEPTH : PIPELINE_DEPTH
}

/** The events posted to one operator's worker and not yet sent (see the module comment). */
export class PostBatch {
  #events: DeliveredEvent[] = []
  /** Whether each event's bytes are transferred rather than copied. */
  #moved: boolean[] = []
  #transfer: ArrayBuffer[] = []
  /** Buffers of committed state values to hand back with the next post (state-buffers.ts). */
  #recycled: ArrayBuffer[] = []
  #recycledBytes = 0
  readonly #workerOf: (generation: number) => Worker | undefined

  /** @param workerOf the worker of launch `generation`, or undefined when it is no longer the current one */
  constructor(workerOf: (generation: number) => Worker | undefined) {
    this.#workerOf = workerOf
  }

  /** Add an event for the worker of launch `generation`, moving `transfer` (its bytes) if given. */
  add(event: DeliveredEvent, transfer: ArrayBuffer | undefined, generation: number): void {
    this.#events.push(event)
    this.#moved.push(transfer !== undefined)
    if (transfer !== undefined) this.#transfer.push(transfer)
    if (this.#events.length === 1) {
      // Every event posted in this stretch of synchronous work (a pump, a ready, the routing of
      // a whole commit group) goes in one post: a post costs ~10 us of its own.
      queueMicrotask(() => this.#flush(generation))
    }
  }

  /**
   * Hand `buffers` back to the worker with the next post (none is made for them alone: a post
   * wakes the worker). Beyond MAX_RECYCLED_BUFFERS / _BYTES waiting, they are left to the GC.
   */
  recycle(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (!mayKeepRecycled(this.#recycled.length, this.#recycledBytes, buffer.byteLength)) return
      this.#recycled.push(buffer)
      this.#recycledBytes += buffer.byteLength
    }
  }

  /** Forget what is gathered (its worker was retired). */
  clear(): void {
    this.#events = []
    this.#moved = []
    this.#transfer = []
    this.#recycled = []
    this.#recycledBytes = 0
  }

  /** Post the events gathered, unless the worker they were meant for is gone. */
  #flush(generation: number): void {
    const events = this.#events
    const moved = this.#moved
    const transfer = this.#transfer
    const recycled = this.#recycled
    this.clear()
    const worker = this.#workerOf(generation)
    if (worker === undefined || events.length === 0) return
    const { batch, packed } = packEvents(events, moved)
    if (packed !== undefined) transfer.push(packed)
    if (recycled.length > 0) {
      batch.recycled = recycled
      transfer.push(...recycled)
    }
    const message: HostToWorker = batch
    worker.postMessage(message, transfer)
  }
}
