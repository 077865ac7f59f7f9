/**
 * The one event model of dora-ts, modelled on dora's `Event`. An event has two forms:
 *
 * - {@link DeliveredEvent}: how the supervisor holds it. An input carries the sender's wire
 *   {@link MessageHeader} and the payload bytes. This is what an inbox queues, what goes to a
 *   custom node (the header in frame 0, the bytes as frame 1) and what an operator's worker
 *   receives over its MessagePort.
 * - {@link DoraEvent}: what user code sees. An input carries {@link InputMetadata} instead of the
 *   wire header. {@link toDoraEvent} is the only conversion between the two; the node SDK and the
 *   operator worker both use it.
 *
 * Every other kind (input-closed, stop, node-failed, ...) is the same object in both forms, so a
 * new kind is added once here, once in the codec (`src/protocol/node/supervisor-to-node.ts`) and,
 * if user code handles it specially, in the operator worker. The unions are open: code that
 * switches on `type` must ignore kinds it does not know, so the protocol can grow without
 * breaking older nodes.
 *
 * @module
 */

/** A metadata value: dora's typed parameters. Numbers travel as float64, bigints as int64. */
export type MetadataValue = string | number | bigint | boolean | Uint8Array

/** Why a node is told to stop. */
export type StopCause = 'manual' | 'all-inputs-closed'

/** Header of every data message: what a node sent, with where and when. */
export interface MessageHeader {
  dataflowId: string
  senderNode: string
  /** Empty for custom nodes. */
  senderOperator: string
  outputId: string
  /** Monotonic per sender output, starting at 1. */
  sequence: bigint
  /** Wall-clock nanoseconds since the Unix epoch when the message was sent. */
  timestampNs: bigint
  /** User metadata, in insertion order. */
  metadata: Record<string, MetadataValue>
  /** How the payload bytes are encoded: `raw`, `json`, `utf8`, `f32`, ... (free text). */
  encoding: string
  /**
   * Identity of this message that depends only on the event that produced it, so a receiver
   * can drop a redelivered duplicate. Empty when the sender does not set one.
   */
  messageId: string
  /** True when this message is delivered again after a crash of its receiver or sender. */
  redelivered: boolean
}

/** An input closed: its sender ended, or its `input_timeout` passed without a message. */
export interface InputClosedEvent {
  type: 'input-closed'
  /** The input id from the YAML (the key under `inputs:`). */
  id: string
  /**
   * Only between the supervisor and a custom node's SDK, never on an event a program sees: a
   * best-effort input whose sender closed its output itself, and said so on the link after its
   * last message there. The SDK ends the input when that arrives (SupervisorToNode.InputClosed).
   */
  linkClosed?: true | undefined
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

/** A node this one receives from crashed and was restarted. */
export interface NodeRestartedEvent {
  type: 'node-restarted'
  nodeId: string
}

/** A node this one receives from failed for good; `affectedInputs` will get nothing more. */
export interface NodeFailedEvent {
  type: 'node-failed'
  nodeId: string
  error: string
  affectedInputs: string[]
}

/** Every kind except `input`: the same object wherever it travels. */
export type ControlEvent = InputClosedEvent | InputRecoveredEvent | StopEvent | ErrorEvent | NodeRestartedEvent | NodeFailedEvent

/** An input as the supervisor queues and forwards it. */
export interface InputDelivery {
  type: 'input'
  /** The receiver's input id from the YAML. */
  id: string
  /** The sender's header (with `redelivered` set when it is delivered again). */
  header: MessageHeader
  data: Uint8Array
  /**
   * Set when the payload is in a shared-memory segment (issue 15): a custom node is sent this
   * reference instead of the bytes. `data` still gives the bytes to whoever in the supervisor
   * asks.
   */
  shm?: SharedPayload | undefined
}

/**
 * A payload in a shared-memory segment instead of a socket frame (common.capnp
 * `SharedPayload`): `length` bytes at `offset` of the file `segment` in the run's shm directory.
 */
export interface SharedPayload {
  readonly segment: string
  readonly offset: number
  readonly length: number
}

/** An event as the supervisor holds it: see the module comment. */
export type DeliveredEvent = InputDelivery | ControlEvent

/** What arrives with every input besides its bytes. */
export interface InputMetadata {
  /** Node that sent it (`dora` for timers). */
  senderNode: string
  /** Operator that sent it, or `''` for a custom node or timer. */
  senderOperator: string
  /** The sender's output id (the timer's name for timers). */
  outputId: string
  /** Monotonic per sender output, from 1; 0 for a message `dora-ts topic pub` put on the output. */
  sequence: bigint
  /** Wall-clock nanoseconds since the epoch when it was sent. */
  timestampNs: bigint
  /** How the bytes are encoded (`raw`, `json`, `utf8`, `f32`...), as the sender declared. */
  encoding: string
  /** The sender's metadata parameters. */
  parameters: Record<string, MetadataValue>
  /**
   * Identity that depends only on the event that produced the message (for dedup); `pub-<8
   * hex>.<n>` for a message `dora-ts topic pub` put on the output.
   */
  messageId: string
  /** True when delivered again after a crash. */
  redelivered: boolean
}

/** An input as user code sees it. */
export interface InputEvent {
  type: 'input'
  /** The input id from the YAML (the key under `inputs:`). */
  id: string
  data: Uint8Array
  metadata: InputMetadata
}

/** An event as operators and custom nodes receive it. */
export type DoraEvent = InputEvent | ControlEvent

/** The metadata user code sees for a wire header. */
export function metadataFromHeader(header: MessageHeader): InputMetadata {
  return {
    senderNode: header.senderNode,
    senderOperator: header.senderOperator,
    outputId: header.outputId,
    sequence: header.sequence,
    timestampNs: header.timestampNs,
    encoding: header.encoding,
    parameters: header.metadata,
    messageId: header.messageId,
    redelivered: header.redelivered,
  }
}

/** The one conversion from the supervisor's form of an event to the user's. */
export function toDoraEvent(event: DeliveredEvent): DoraEvent {
  if (event.type !== 'input') return event
  return { type: 'input', id: event.id, data: event.data, metadata: metadataFromHeader(event.header) }
}
