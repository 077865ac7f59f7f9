/**
 * What a unit's receivers are told about it: which outputs have closed (its receivers get
 * InputClosed, and Stop(all-inputs-closed) once every input fed by an output has closed and
 * none is a timer), and, once per receiver, that it restarted or failed for good. It keeps the
 * open/closed bookkeeping of the routing table; the run delivers the events it produces.
 */
import type { DeliveredEvent } from '../../src/events.js'
import type { RoutingTable } from './routing.js'

/** Queues `event` for the unit keyed `receiver`. */
export type Deliver = (receiver: string, event: DeliveredEvent) => void

export class Downstream {
  readonly #routing: RoutingTable
  readonly #deliver: Deliver
  /** Output keys (`node/output`, `node/op/output`) closed for good. */
  readonly #closedOutputs = new Set<string>()
  /** receiver -> its inputs fed by an output that are still open (timers never close). */
  readonly #openInputs = new Map<string, Set<string>>()

  constructor(routing: RoutingTable, deliver: Deliver) {
    this.#routing = routing
    this.#deliver = deliver
    for (const [receiver, inputs] of routing.inputs) {
      this.#openInputs.set(receiver, new Set(inputs.filter((i) => i.source.kind === 'output').map((i) => i.id)))
    }
  }

  /** The key of `producer`'s output `outputId` while it is open; undefined when it is unknown or closed. */
  openOutputKey(producer: string, outputId: string): string | undefined {
    const key = this.#routing.producers.get(producer)?.outputKeys.get(outputId)
    return key === undefined || this.#closedOutputs.has(key) ? undefined : key
  }

  /** True while `receiver`'s input `inputId` is fed by an output that has not closed. */
  isInputOpen(receiver: string, inputId: string): boolean {
    return this.#openInputs.get(receiver)?.has(inputId) === true
  }

  /**
   * Close outputs of `producer`: their receivers get InputClosed, and Stop when none is left.
   * `bySender`: the producer closed them itself (a custom node's closeOutputs), so it already
   * said so on its best-effort links, after its last message there: such receivers are told to
   * wait for that (`linkClosed`) rather than drop what is still on the link.
   */
  closeOutputs(producer: string, outputs: readonly string[], bySender = false): void {
    const keys = this.#routing.producers.get(producer)?.outputKeys
    if (keys === undefined) return
    for (const output of outputs) {
      const key = keys.get(output)
      if (key === undefined || this.#closedOutputs.has(key)) continue
      this.#closedOutputs.add(key)
      for (const dest of this.#routing.outputs.get(key) ?? []) {
        const open = this.#openInputs.get(dest.receiver)
        if (open === undefined || !open.delete(dest.inputId)) continue
        this.#deliver(dest.receiver, { type: 'input-closed', id: dest.inputId, ...(bySender && dest.direct === true ? { linkClosed: true as const } : {}) })
        if (open.size === 0 && this.#timerFree(dest.receiver)) this.#deliver(dest.receiver, { type: 'stop', cause: 'all-inputs-closed' })
      }
    }
  }

  /**
   * Send an event to every receiver fed by one of `producer`'s outputs, once per receiver;
   * `make` gets the receiver's inputs it feeds.
   */
  notify(producer: string, make: (affectedInputs: string[]) => DeliveredEvent): void {
    const keys = this.#routing.producers.get(producer)?.outputKeys
    if (keys === undefined) return
    const affected = new Map<string, string[]>()
    for (const key of keys.values()) {
      for (const dest of this.#routing.outputs.get(key) ?? []) affected.set(dest.receiver, [...(affected.get(dest.receiver) ?? []), dest.inputId])
    }
    for (const [receiver, inputs] of affected) this.#deliver(receiver, make(inputs))
  }

  /** A receiver whose inputs include a timer keeps running: timers never close. */
  #timerFree(receiver: string): boolean {
    return !(this.#routing.inputs.get(receiver) ?? []).some((i) => i.source.kind === 'timer')
  }
}
