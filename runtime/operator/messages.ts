/**
 * Messages between an operator host (supervisor main thread) and its worker thread, over the
 * worker's MessagePort. Payloads are Uint8Arrays. Host to worker they are copied (structured
 * clone), so the host keeps each event's original until it commits, for redelivery; worker to
 * host, outputs and state writes are transferred when the worker owns their whole buffer.
 * This file holds only types so the worker imports nothing from the host side.
 */
import type { SerializedError } from '../../src/errors.js'
import type { DeliveredEvent } from '../../src/events.js'
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
  /** The operator's saved state, handed to restoreState before the first event. */
  state: Map<string, Uint8Array>
  /**
   * The shared KVS: its directory, the dataflow's namespace, and a port to the supervisor's
   * KVS thread (an operator never opens LMDB in its own thread, see src/store/kvs/service.ts).
   * Undefined: ctx.kvs fails on use.
   */
  kvs?: { dir: string; namespace: string; port: MessagePort } | undefined
}

/** One buffered state change, shipped with `done` and committed by the host. */
export type StateWrite = { key: string; value: Uint8Array } | { key: string; delete: true }

/** The worker turns the event into the user's form itself (toDoraEvent), as the node SDK does. */
export type HostToWorker = { type: 'event'; event: DeliveredEvent }

export type WorkerToHost =
  /** Loaded, restored and initialised; `writes` are state changes made in restoreState/init. */
  | { type: 'ready'; writes: StateWrite[] }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'output'; outputId: string; data: Uint8Array; encoding: string; parameters: Record<string, MetadataValue> }
  /** The last event was handled completely; `writes` are its state changes, to commit. */
  | { type: 'done'; writes: StateWrite[] }
  /** A handler threw or its promise rejected: the operator crashed. */
  | { type: 'failed'; error: SerializedError }
  | { type: 'log'; level: LogLevel; text: string }
