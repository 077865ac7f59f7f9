/**
 * Plain TypeScript views of the messages that cross ZeroMQ between the supervisor and custom
 * nodes. The Cap'n Proto schemas in this folder are the wire contract; `codec.ts` is the one
 * place that turns these objects into Cap'n Proto bytes and back.
 *
 * Every ZeroMQ message is multipart: frame 0 is one Cap'n Proto message (one of the unions
 * below), and messages that carry data (`output`, `input`) have the payload bytes as frame 1,
 * untouched, so a payload is never copied into the header.
 *
 * The events among them (inputs, stop, input-closed, ...) are the shared event model of
 * `src/events.ts`; only the session messages (registration, flow control) are defined here.
 */
import type { ControlEvent, InputDelivery, MessageHeader, MetadataValue, SharedPayload, StopCause, StopEvent } from '../../events.js'

/** Bumped when the wire contract changes incompatibly; checked at registration. */
export const PROTOCOL_VERSION = 1

/**
 * Push mode: the SDK's window, the most events the supervisor may have sent it and not seen
 * consumed. Well under ZeroMQ's default high-water mark of 1000 messages.
 */
export const PUSH_WINDOW = 256
/**
 * The largest window a supervisor grants whatever a node asks: ZeroMQ's ROUTER silently drops
 * what exceeds a peer's send high-water mark (1000 messages), so events beyond it wait in the inbox.
 */
export const MAX_PUSH_WINDOW = 512

/**
 * Backpressure (`outputs-paused`): the longest a sender waits on a paused output before it sends
 * anyway. A cycle of backpressure inputs would otherwise deadlock; this way it crawls, and the
 * waiting side says so.
 */
export const MAX_PAUSE_MS = 5_000

export type { MessageHeader, MetadataValue, SharedPayload, StopCause }

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/** Messages a custom node sends to the supervisor. */
export type NodeToSupervisor =
  /**
   * `directLinks`: the node keeps reliable direct links (link logs and cursors) itself, as the
   * SDK does; absent or false, the supervisor refuses it if the dataflow wires one to it.
   */
  | { type: 'register'; nodeId: string; protocolVersion: number; pid: number; secret?: string; directLinks?: boolean | undefined }
  /**
   * Payload in frame 1. `sendSeq` numbers the outputs of one connection from 1 (0: no
   * confirmation wanted); the supervisor confirms them with `outputs-taken`.
   */
  | { type: 'output'; header: MessageHeader; sendSeq: bigint; shm?: SharedPayload | undefined; consumedUpTo?: bigint | undefined }
  /** Pull mode: the node is ready for more events; the supervisor answers with what it has queued. */
  | { type: 'next' }
  /**
   * Push mode (see {@link Registration.pushInputs}): the node consumed every event numbered
   * `<= consumedUpTo` (events are numbered per connection from 1), and the supervisor may keep
   * up to `window` events sent and unconsumed. The first one switches the connection to push.
   * `inputBatches`: the node reads `inputs` messages (several inputs in one; absent: false).
   * `exact`: from this credit on, credits say exactly what the program consumed, and a clean
   * exit consumes nothing more (absent: false; set as the node closes, and as it sets events
   * aside at a Stop); `heldAtClose` (in the last, as it closes): the event its program was
   * handed last and never came back from, consumed only if the process then exits with code 0
   * (absent: none).
   */
  | {
      type: 'credit'
      consumedUpTo: bigint
      window: number
      inputBatches?: boolean | undefined
      heldAtClose?: bigint | undefined
      exact?: boolean | undefined
    }
  | { type: 'close-outputs'; outputs: string[] }
  | { type: 'log'; level: LogLevel; message: string }
  /**
   * Best effort: what the node's direct links carried since it registered on this connection
   * (cumulative), sent now and then, not per message. See {@link DirectCounts}.
   */
  | ({ type: 'direct-counts' } & DirectCounts)
  /** A union variant this build does not know (a newer peer); ignored by receivers. */
  | { type: 'unknown'; which: number }

/** Counts of a node's best-effort (direct) messages since it registered on its connection. */
export interface DirectCounts {
  /** Messages sent on outputs whose every receiver is best effort. */
  sent: bigint
  /** Messages that arrived on best-effort inputs. */
  received: bigint
  /** Messages dropped: a full pipe to a receiver, a full queue, or after the input closed. */
  dropped: bigint
  /** Of {@link dropped}, those of each of the node's inputs (a full queue), cumulative; absent: none (or an older node). */
  inputDrops?: InputDrops[] | undefined
  /**
   * Of {@link dropped}, those a full pipe to a best-effort receiver dropped on their way, by the
   * receiver's input ({@link InputDrops.node} set), cumulative; absent: none (or an older node).
   */
  linkDrops?: InputDrops[] | undefined
}

/** Messages of one input of a node dropped since it registered on its connection. */
export interface InputDrops {
  inputId: string
  dropped: bigint
  /** In {@link DirectCounts.linkDrops}: the receiving node whose input it is. */
  node?: string | undefined
}

/**
 * Whether a direct input or route is a reliable direct link, through a link log: its `logDir`
 * is set (absent or '' is a best-effort link, as the wire leaves an unset text empty).
 */
export function hasLinkLog<T extends { logDir?: string | undefined }>(link: T): link is T & { logDir: string } {
  return link.logDir !== undefined && link.logDir !== ''
}

/** A best-effort input of a node: its messages come directly from the sender. */
export interface DirectInput {
  inputId: string
  /** Most messages kept queued; beyond it the oldest is dropped. */
  queueSize: number
  /** The node and output feeding it (its messages do not carry them). */
  senderNode: string
  outputId: string
  /**
   * A reliable direct link (between two custom nodes run by node, by default): the folder of the sender's link log,
   * where the node reads what it missed and keeps its cursor. Absent or '': best effort.
   */
  logDir?: string | undefined
  /** Its cursor in {@link logDir} is `cursor.<cursorName>`. */
  cursorName?: string | undefined
}

/**
 * What a node sends on a best-effort link (node-to-node.capnp): a message for one of the
 * receiver's inputs (payload in frame 1, or in `shm`), or the close of the output feeding it.
 */
export type NodeToNode =
  | {
      type: 'input'
      id: string
      sequence: bigint
      timestampNs: bigint
      messageId: string
      /** '' is read as `raw`. */
      encoding: string
      metadata: Record<string, MetadataValue>
      shm?: SharedPayload | undefined
      /**
       * A reliable direct link: the message's entry in the link log, the offset just past it in
       * its file, and whether it starts a new file (absent: best effort; see LinkPosition).
       */
      link?: { seq: bigint; end: number; newFile: boolean } | undefined
      /** The sender's restart count in the run, modulo 65536 (absent: 0, its first process). */
      senderLife?: number | undefined
    }
  | { type: 'input-closed'; id: string }
  /** In a link log only: the sender closed the output in the run `dataflowId`. */
  | { type: 'link-closed'; dataflowId: string }
  | { type: 'unknown'; which: number }

/** One best-effort receiver of a node's output: the sender sends it each message itself. */
export interface DirectRoute {
  outputId: string
  receiverNode: string
  /** The receiver's {@link Registration.directEndpoint}. */
  endpoint: string
  inputId: string
  /** The receiver's queue_size for this input. */
  queueSize: number
  /** A reliable direct link: the folder of this output's link log (absent or '': best effort). */
  logDir?: string | undefined
  /** The receiver's cursor name in {@link logDir}. */
  cursorName?: string | undefined
}

/** What the supervisor tells a node about itself when it registers. */
export interface Registration {
  dataflowId: string
  dataflowName: string
  nodeId: string
  /** How many times this node has been restarted in this run (0 on first start). */
  restartCount: number
  inputs: string[]
  outputs: string[]
  /** Directory of the machine's shared KVS; '' from a supervisor that predates the KVS. */
  kvsPath: string
  /** Size limit of the KVS in bytes (0 from a supervisor that predates the KVS). */
  kvsMapSize: bigint
  /** The node's default KVS namespace: the dataflow's name, or its `kvs_namespace`. */
  kvsNamespace: string
  /**
   * True when the supervisor confirms outputs with `outputs-taken` and ends every batch of
   * events with `batch-end` (false from a supervisor that predates them: a node must then wait
   * for neither).
   */
  atLeastOnce: boolean
  /** Largest payload the node may send, in bytes (the YAML's `max_message_size`); 0: unknown (an older supervisor). */
  maxMessageSize: number
  /** The run's shared-memory directory; '' when payloads always travel on the socket. */
  shmDir: string
  /** Payloads of at least this many bytes go through {@link shmDir}; 0: never. */
  shmThreshold: number
  /**
   * True: the supervisor pushes events to a node that sends a `credit`, with no `next` and no
   * `batch-end` (absent or false from an older supervisor: pull with `next`).
   */
  pushInputs?: boolean | undefined
  /** Best effort: the endpoint this node binds for its {@link directInputs}; absent or '': none. */
  directEndpoint?: string | undefined
  /** This node's best-effort inputs (absent: none). */
  directInputs?: DirectInput[] | undefined
  /** Best-effort receivers of this node's outputs (absent: none). */
  directRoutes?: DirectRoute[] | undefined
  /** Outputs whose every receiver is best effort: sent to no one but them (absent: none). */
  directOnly?: string[] | undefined
  /**
   * True: the supervisor starts this node again when it ends cleanly (`restart_policy:
   * always`, restarts left): its outputs stay open across the restart, so it closes none on
   * its links (absent or false: its close closes them).
   */
  restartsWhenDone?: boolean | undefined
}

/**
 * An event on the wire: an input's payload is not part of the header message, it travels as
 * frame 1 (see the module comment).
 */
export type WireEvent = WireInput | Exclude<ControlEvent, StopEvent> | WireStop

/**
 * A Stop on the wire. Cause `manual`, to a pushed node: `waitingInputs`, the inputs whose
 * pushed events its program has not taken wait for the next run (the node leaves them
 * unconsumed and hands its program the Stop first); `droppedInputs`, those whose events not
 * taken are consumed unseen (timer ticks). Absent: none.
 */
export type WireStop = StopEvent & { waitingInputs?: string[] | undefined; droppedInputs?: string[] | undefined }

/** An input on the wire: its payload is a frame of its own, or in shared memory. */
export type WireInput = Omit<InputDelivery, 'data'>

/** Messages the supervisor sends to a custom node. */
export type SupervisorToNode =
  | { type: 'registered'; registration: Registration }
  | { type: 'register-rejected'; reason: string }
  | WireEvent
  | { type: 'outputs-paused'; outputs: string[] }
  | { type: 'outputs-closed'; outputs: string[] }
  /**
   * Every output of this connection with `0 < sendSeq <= upTo` has been taken: routed to the
   * queue of every receiver it feeds. Cumulative: one covers a whole burst of outputs.
   */
  | { type: 'outputs-taken'; upTo: bigint }
  /**
   * The batch answering one `next` is complete. Its events count as consumed only when the node
   * sends its following `next`; a node that dies before gets them again, marked redelivered.
   */
  | { type: 'batch-end' }
  /**
   * Push mode, to a node whose credit set `inputBatches`: several inputs in one message, each
   * one event in list order. The payloads follow as frames 1..n, one per input without `shm`.
   */
  | { type: 'inputs'; inputs: WireInput[] }
  | { type: 'unknown'; which: number }
