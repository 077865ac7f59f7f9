/**
 * What one launch of an operator's worker is handed: its workerData (module, ids, outputs,
 * restart count, message size limit, the saved state for restoreState, and a fresh port to
 * the run's KVS thread) and its environment.
 *
 * Apart from host.ts because it is a pure mapping from the YAML and the run to the worker's
 * inputs (worker.ts reads the other side), with nothing of the operator's lifecycle in it.
 *
 * @module
 */
import type { MessagePort } from 'node:worker_threads'
import type { OperatorNodeSpec, OperatorSpec } from '../../src/spec/types.js'
import type { UnitHost } from '../supervisor/unit.js'
import type { OperatorWorkerData } from './messages.js'
import { withoutNodeOptions } from '../../src/host-env.js'

/** How an operator reaches the shared KVS: a new port to the run's KVS thread per launch. */
export interface KvsAccess {
  dir: string
  namespace: string
  connect(): MessagePort
}

/** The workerData of one launch, and the KVS port in it (to transfer with it). */
export function workerDataOf(
  host: UnitHost,
  node: OperatorNodeSpec,
  spec: OperatorSpec,
  restartCount: number,
  state: Map<string, Uint8Array>,
  kvs: KvsAccess | undefined,
  staging?: OperatorWorkerData['staging'],
  stop?: OperatorWorkerData['stop'],
  held?: SharedArrayBuffer,
): { workerData: OperatorWorkerData; kvsPort: MessagePort | undefined } {
  const workerData: OperatorWorkerData = {
    modulePath: spec.module,
    language: spec.language,
    dataflowId: host.dataflowId,
    dataflowName: host.dataflowName,
    nodeId: node.id,
    operatorId: spec.id,
    outputs: [...spec.outputs],
    restartCount,
    maxMessageBytes: host.maxMessageBytes,
    state,
  }
  if (staging !== undefined) workerData.staging = staging
  if (stop !== undefined) workerData.stop = stop
  if (held !== undefined) workerData.held = held
  const kvsPort = kvs?.connect()
  if (kvs !== undefined && kvsPort !== undefined) workerData.kvs = { dir: kvs.dir, namespace: kvs.namespace, port: kvsPort }
  return { workerData, kvsPort }
}

/** The environment of the operator's thread: the supervisor's, with the node's `env` over it. */
export function workerEnv(node: OperatorNodeSpec): NodeJS.ProcessEnv {
  return { ...withoutNodeOptions(), ...node.env }
}
