/**
 * Backpressure: an input with `queue_policy: backpressure` never drops a message; instead, when
 * its queue in the supervisor holds `queue_size` messages, the output that feeds it is paused,
 * and it resumes once the queue has drained to half of that. A paused custom node's `send` on
 * that output waits; a paused operator gets no new event until its outputs resume. So a slow
 * receiver slows its sender down, all the way up a chain of backpressure inputs, and the
 * supervisor's memory stays bounded. Timers cannot be slowed: a tick for a full backpressure
 * queue is skipped, as a tick the supervisor is too busy to fire is.
 *
 * An output is paused while any of its backpressure receivers is full. When a receiver ends,
 * or the dataflow stops, whatever it held paused is resumed.
 */
import type { InputSpec } from '../../src/spec/types.js'
import type { RoutingTable } from './routing.js'

/** Where a paused output lives: the producing unit's key and its output id. */
interface OutputRef {
  producer: string
  outputId: string
}

/** A backpressure input: the output feeding it, its queue size, and its map keys, built once. */
interface HeldInput extends OutputRef {
  queueSize: number
  /** `receiver\0input`: its key in #inputs and among an output's holders. */
  hold: string
  /** `producer\0output`: the output's key in #holds. */
  key: string
}

export { MAX_PAUSE_MS } from '../../src/protocol/node/messages.js'

export class FlowControl {
  /** `receiver\0input` -> the output feeding it and its queue size, for backpressure inputs fed by an output. */
  readonly #inputs = new Map<string, HeldInput>()
  /**
   * The same inputs by receiver, then input id: queued() runs twice per message (queued and
   * taken), and building its two keys from strings each time was ~1% of the routing thread
   * in the 8 B operator stream.
   */
  readonly #byReceiver = new Map<string, Map<string, HeldInput>>()
  /** `producer\0output` -> the receiver inputs holding it paused. */
  readonly #holds = new Map<string, Set<string>>()
  readonly #onChange: (producer: string, paused: ReadonlySet<string>) => void

  /**
   * @param onChange called with a producer's whole set of paused output ids whenever it changes
   *   (empty: everything resumed).
   */
  constructor(routing: RoutingTable, onChange: (producer: string, paused: ReadonlySet<string>) => void) {
    this.#onChange = onChange
    const byOutputKey = new Map<string, OutputRef>()
    for (const producer of routing.producers.values()) {
      for (const [outputId, key] of producer.outputKeys) byOutputKey.set(key, { producer: producer.key, outputId })
    }
    for (const [receiver, inputs] of routing.inputs) {
      for (const input of inputs) {
        const ref = sourceOf(input, byOutputKey)
        if (ref === undefined || input.queuePolicy !== 'backpressure') continue
        const hold = `${receiver}\0${input.id}`
        const held = { ...ref, queueSize: input.queueSize, hold, key: `${ref.producer}\0${ref.outputId}` }
        this.#inputs.set(hold, held)
        let mine = this.#byReceiver.get(receiver)
        if (mine === undefined) this.#byReceiver.set(receiver, (mine = new Map()))
        mine.set(input.id, held)
      }
    }
  }

  /** The queue of `receiver`'s input `inputId` now holds `queued` messages. */
  queued(receiver: string, inputId: string, queued: number): void {
    const input = this.#byReceiver.get(receiver)?.get(inputId)
    if (input === undefined) return
    const { hold, key } = input
    const holders = this.#holds.get(key)
    if (queued >= input.queueSize) {
      if (holders?.has(hold) === true) return
      if (holders === undefined) this.#holds.set(key, new Set([hold]))
      else holders.add(hold)
      if (holders === undefined || holders.size === 1) this.#notify(input.producer)
    } else if (queued <= Math.floor(input.queueSize / 2) && holders?.delete(hold) === true) {
      if (holders.size === 0) {
        this.#holds.delete(key)
        this.#notify(input.producer)
      }
    }
  }

  /** `receiver` ended (or will take nothing more): release every output it held paused. */
  release(receiver: string): void {
    const prefix = `${receiver}\0`
    for (const hold of this.#inputs.keys()) if (hold.startsWith(prefix)) this.queued(receiver, hold.slice(prefix.length), 0)
  }

  /**
   * Resume `producer`'s outputs for good (it alone is stopping: `dora-ts stop NAME NODE`), so a
   * send of it that waits can go on and it reaches its Stop, as {@link releaseAll} does for a
   * whole run. Its receivers' queues no longer hold it back.
   */
  releaseProducer(producer: string): void {
    for (const [hold, input] of this.#inputs) {
      if (input.producer !== producer) continue
      this.#inputs.delete(hold)
      const split = hold.indexOf('\0')
      this.#byReceiver.get(hold.slice(0, split))?.delete(hold.slice(split + 1))
      this.#holds.delete(input.key)
    }
    this.#onChange(producer, new Set())
  }

  /** Resume everything for good (the dataflow is stopping). */
  releaseAll(): void {
    const producers = new Set([...this.#holds.keys()].map((key) => key.slice(0, key.indexOf('\0'))))
    this.#holds.clear()
    this.#inputs.clear()
    this.#byReceiver.clear()
    for (const producer of producers) this.#onChange(producer, new Set())
  }

  /** The output ids of `producer` paused now. */
  #paused(producer: string): Set<string> {
    const result = new Set<string>()
    for (const key of this.#holds.keys()) {
      const split = key.indexOf('\0')
      if (key.slice(0, split) === producer) result.add(key.slice(split + 1))
    }
    return result
  }

  #notify(producer: string): void {
    this.#onChange(producer, this.#paused(producer))
  }
}

function sourceOf(input: InputSpec, byOutputKey: ReadonlyMap<string, OutputRef>): OutputRef | undefined {
  if (input.source.kind !== 'output') return undefined
  const { node, operator, output } = input.source
  return byOutputKey.get(operator === undefined ? `${node}/${output}` : `${node}/${operator}/${output}`)
}
