/**
 * What `import { defineOperator } from 'dora-ts'` resolves to inside an operator's worker
 * thread: the package's `dora-ts-operator` export condition, which the operator host turns on
 * for its workers (runtime/operator/worker-launch.ts). The same API as the main entry, but it
 * loads no native addon: zeromq and lmdb stay in the supervisor's threads (an operator sends
 * with `ctx.send` and reaches the KVS through `ctx.kvs`), so starting a worker is cheaper and
 * a worker that is terminated never holds a native resource. `Node` and `openKvs` exist, so a
 * module that imports them still loads, but using them fails with a clear error.
 *
 * @module
 */
import { NodeConnectError } from './errors.js'
import { KvsOpenError } from '../src/store/kvs/errors.js'
import type { Node as CustomNode } from './node.js'
import type { Kvs } from './kvs.js'

export * from './portable.js'
export type { NodeConnectOptions, NodeEventsOptions } from './node.js'
export type { OpenKvsOptions } from './kvs-direct.js'

const hint =
  'Inside an operator, send with ctx.send() and use the shared KVS as ctx.kvs; Node and openKvs are for custom nodes and scripts (their own processes).'

/** Stands for {@link CustomNode} inside an operator: connecting fails with DORA_NODE_CONNECT. */
export const Node = {
  connect(): Promise<CustomNode> {
    return Promise.reject(new NodeConnectError("Node.connect() was called inside an operator's worker thread", { hint }))
  },
}

/** Stands for the main entry's openKvs inside an operator: fails with DORA_KVS_OPEN. */
export function openKvs(): Kvs {
  throw new KvsOpenError("openKvs() was called inside an operator's worker thread", { hint })
}
