/**
 * Messages between an operator host (supervisor main thread) and its worker thread, over the
 * worker's MessagePort. Payloads are Uint8Arrays. Host to worker they are copied (structured
 * clone), so the host keeps each event's original until it commits, for redelivery; worker to
 * host, an event's outputs and state writes travel together with `done`, transferred (the
 * worker owns a copy of each).
 * This file holds only types (and one constant) so the worker imports nothing from the host side.
 */
import type { StateWrite } from '../../src/store/state/commit.js'
import type { SerializedError } from '../../src/errors.js'
import type { WireBatch } from './event-wire.js'
import type { MessagePort } from 'node:worker_threads'
import type { LogLevel } from '../../src/protocol/node/messages.js'
import type { MetadataValue } from '../../src/events.js'

export interface OperatorWorkerData {
  modulePath: string
  language: 'typescript' | 'javascript'
  dataflowId: string
  dataflowName: string
  nodeId: string
  operatorId: string
  outputs: string[]
  restartCount: number
  /** The dataflow's `max_message_size`: ctx.send refuses a larger payload (DORA_MESSAGE_TOO_LARGE). */
  maxMessageBytes: number
  /** The operator's saved state, handed to restoreState before the first event. */
  state: Map<string, Uint8Array>
  /**
   * The shared KVS: its directory, the dataflow's namespace, and a port to the supervisor's
   * KVS thread (an operator never opens LMDB in its own thread, see src/store/kvs/service.ts).
   * Undefined: ctx.kvs fails on use.
   */
  kvs?: { dir: string; namespace: string; port: MessagePort } | undefined
  /**
   * Where to write the payloads of `threshold` bytes or more sent on `outputs` (those that go
   * through the outbox), each as `<dir>/<prefix><n>`, for the store to take as segment files
   * (OperatorState.staging): a commit then references the file as it is, the routing thread
   * writes nothing.
   * Undefined: the host stores every payload itself.
   */
  staging?: { dir: string; prefix: string; threshold: number; outputs: string[]; spares?: SharedArrayBuffer | undefined } | undefined
  /**
   * A Stop of the dataflow reaching the events already posted: the host sets `word`'s one
   * Int32 to {@link STOPPING} when the dataflow stops, and from then on the worker hands back,
   * unhandled, each posted event of `inputs` it has not started (`set-aside`): their messages
   * are in the outbox for the next run (or are timer ticks), so the Stop is next after the
   * event being handled (runtime/supervisor/inbox.ts does the same for those still queued).
   */
  stop?: { word: SharedArrayBuffer; inputs: string[] } | undefined
  /**
   * One BigInt64 the worker keeps set to what it holds (its heap in use and its buffers, as
   * max_memory_mb counts them: memory-watch.ts), from its load on and then every second, for
   * `dora-ts list` and `top` (a worker's memory cannot be read from outside on Node 20).
   */
  held?: SharedArrayBuffer | undefined
}

/** The value of OperatorWorkerData.stop's word once the dataflow stops. */
export const STOPPING = 1

/** One buffered state change, shipped with `done` and committed by the host (the store's type: a type-only import, nothing loaded). */
export type { StateWrite }

/**
 * One message the operator sent while handling an event (or in init/restoreState), shipped
 * with `done` (or `ready`): the host routes it only once the event has committed, so no
 * receiver ever sees an output of an event that did not commit.
 */
export interface BufferedOutput {
  outputId: string
  data: Uint8Array
  encoding: string
  parameters: Record<string, MetadataValue>
  /** The file the worker wrote `data` to, complete (OperatorWorkerData.staging). */
  file?: string | undefined
}

/**
 * `events`: the next events, in order, as many as the host took in one go (one post for all of
 * them: a post has a fixed cost of its own), small inputs packed into one buffer, the others
 * flattened (event-wire.ts); the worker turns them into the user's form itself. `boot` is the first message to a spare worker
 * (worker-launch.ts): what it would otherwise have found in its workerData.
 */
export type HostToWorker = WireBatch | { type: 'boot'; workerData: OperatorWorkerData } | LinkMessage

/**
 * One end of a direct link between two operators (operator-links.ts), for the worker to use
 * from now on in place of any earlier end of the same link: `out`, it posts the outputs of
 * `outputId` there itself; `in`, what arrives there is input `inputId`. Sent after each launch
 * of either end (a MessagePort dies with the worker it was transferred to).
 */
export interface LinkMessage {
  type: 'link'
  linkId: number
  role: 'out' | 'in'
  port: MessagePort
  /** The sender's node, operator and output (what the receiver's inputs show as metadata). */
  senderNode: string
  senderOperator: string
  outputId: string
  /** The receiver's input, and its queue_size (the receiving worker drops the oldest past it). */
  inputId: string
  queueSize: number
  /** `outputId` feeds direct links only: the host never needs to see its messages. */
  directOnly: boolean
  /**
   * `in`: two Int32 words the worker keeps up to date (LINK_ACTIVE: 1 while it handles an event
   * that came over a link; LINK_STARTED: how many it started), so the host can tell a crash or a
   * hang in such an event from one in the event it posted.
   */
  activity?: SharedArrayBuffer | undefined
  /**
   * The tally of this channel (one per pair of ends, shared by both): two Int32 words,
   * LINK_POSTED (messages the sender's worker posted on it) and LINK_SETTLED (messages the
   * receiver's worker handled to the end or dropped by its queue rule). Once the receiver's
   * worker is gone, the difference is what the channel lost (operator-links.ts).
   */
  tally?: SharedArrayBuffer | undefined
}

/** Index of the word of LinkMessage.tally counting messages posted on the channel. */
export const LINK_POSTED = 0
/** Index of the word of LinkMessage.tally counting messages handled or dropped by the receiver. */
export const LINK_SETTLED = 1

/** Index of the word of LinkMessage.activity that is 1 while a linked event is handled. */
export const LINK_ACTIVE = 0
/** Index of the word of LinkMessage.activity counting linked events started. */
export const LINK_STARTED = 1

/** What a worker's direct links did since its last report: sent on direct-only outputs, received, dropped per input. */
export interface LinkCounts {
  sent: number
  received: number
  dropped: Record<string, number>
}

/**
 * Payloads smaller than this cross between host and worker as copies, not transfers (either
 * way): a transfer has a fixed cost (detaching the buffer, a new one on the other side) that a
 * copy of a few KiB undercuts, and a copy kept by the host needs no read back for a redelivery.
 */
export const MIN_TRANSFER_BYTES = 16 * 1024

/** The key of a spare worker's workerData (see {@link SpareWorkerData}). */
export const SPARE_KEY = 'doraTsSpareOperator'

/**
 * The workerData of a spare worker: started for one operator before its next launch, it
 * imports the operator's module ahead, then waits for `boot`.
 */
export interface SpareWorkerData {
  [SPARE_KEY]: Pick<OperatorWorkerData, 'modulePath' | 'language'>
}

export type WorkerToHost =
  /** Loaded, restored and initialised; `writes` and `outputs` are what restoreState/init did. */
  | { type: 'ready'; writes: StateWrite[]; outputs: BufferedOutput[]; counts?: LinkCounts | undefined }
  /** The operator called `process.exit()`, which ends its thread: where (crash-note.ts's exitCallNote). */
  | { type: 'exiting'; why: string }
  /** `why`: the error in one line, with its place (load-failure.ts). */
  | { type: 'load-failed'; error: SerializedError; why: string }
  /**
   * The last event was handled completely; its state changes and outputs, to commit together
   * (both left out when there are none: most events of a filter or a sink, and a smaller post).
   */
  | {
      type: 'done'
      writes?: StateWrite[]
      outputs?: BufferedOutput[]
      /** The event came over a direct link (operator-links.ts), not from the host. */
      direct?: true | undefined
      counts?: LinkCounts | undefined
    }
  /**
   * The next `count` posted events were handed back unhandled, at a Stop of the dataflow
   * (OperatorWorkerData.stop): nothing of them is committed; the next run gets them again.
   */
  | { type: 'set-aside'; count: number }
  /** A handler threw or its promise rejected: the operator crashed. */
  | { type: 'failed'; error: SerializedError }
  | { type: 'log'; level: LogLevel; text: string }
  /** Its heap and buffers were over max_memory_mb after a full collection (memory-watch.ts). */
  | { type: 'memory-exceeded'; heapBytes: number; bufferBytes: number }
  /** What its direct links did since the last report, when no `done` carried it for a while. */
  | { type: 'counts'; counts: LinkCounts }
