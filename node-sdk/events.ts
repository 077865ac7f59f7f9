/**
 * Events delivered to operators and custom nodes, modelled on dora's `Event`. The union is
 * open: code that switches on `type` must ignore kinds it does not know, so the protocol can
 * grow without breaking existing nodes.
 */
import type { MetadataValue, StopCause } from '../src/protocol/node/messages.js'

export type { MetadataValue, StopCause }

/** What arrives with every input besides its bytes. */
export interface InputMetadata {
  /** Node that sent it (`dora` for timers). */
  senderNode: string
  /** Operator that sent it, or `''` for a custom node or timer. */
  senderOperator: string
  /** The sender's output id (the timer's name for timers). */
  outputId: string
  /** Monotonic per sender output, from 1. */
  sequence: bigint
  /** Wall-clock nanoseconds since the epoch when it was sent. */
  timestampNs: bigint
  /** How the bytes are encoded (`raw`, `json`, `utf8`, `f32`...), as the sender declared. */
  encoding: string
  /** The sender's metadata parameters. */
  parameters: Record<string, MetadataValue>
  /** Identity that depends only on the event that produced the message (for dedup). */
  messageId: string
  /** True when delivered again after a crash. */
  redelivered: boolean
}

export interface InputEvent {
  type: 'input'
  /** The input id from the YAML (the key under `inputs:`). */
  id: string
  data: Uint8Array
  metadata: InputMetadata
}

export interface InputClosedEvent {
  type: 'input-closed'
  id: string
}

/**
 * An input that its `input_timeout` closed receives messages again: this comes just before the
 * first of them (dora's InputRecovered). Only timed-out inputs recover; one closed because its
 * sender ended stays closed.
 */
export interface InputRecoveredEvent {
  type: 'input-recovered'
  id: string
}

export interface StopEvent {
  type: 'stop'
  /** `manual`: the dataflow is stopping; `all-inputs-closed`: every input of this node closed. */
  cause: StopCause
}

export interface ErrorEvent {
  type: 'error'
  message: string
}

export interface NodeRestartedEvent {
  type: 'node-restarted'
  nodeId: string
}

export interface NodeFailedEvent {
  type: 'node-failed'
  nodeId: string
  error: string
  affectedInputs: string[]
}

export type DoraEvent = InputEvent | InputClosedEvent | InputRecoveredEvent | StopEvent | ErrorEvent | NodeRestartedEvent | NodeFailedEvent

/** Options for sending an output. */
export interface SendOptions {
  /** Metadata parameters to attach. */
  parameters?: Record<string, MetadataValue>
  /** Declared payload encoding; defaults to `raw` (the JSON helpers set `json`). */
  encoding?: string
}
