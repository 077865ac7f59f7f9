/**
 * The intermediate form between {@link validateDocument} (which checks each value where it
 * stands) and {@link resolveDraft} (which checks references between nodes and files and fills
 * in defaults). Only values that passed their local checks appear here; a value that failed is
 * `undefined`, and its problem is already recorded.
 *
 * @module
 */

import type { Durability, QueuePolicy, Reliability, RestartPolicy, SourcePosition } from './types.js'

/** A value with the place it was written. */
export interface At<T> {
  value: T
  at: SourcePosition
}

export interface DraftInput {
  id: string
  /** The source as written; parsed and checked by the resolver. */
  source: At<string>
  queueSize: number
  queuePolicy: QueuePolicy
  inputTimeout?: number | undefined
  /** Where `reliability: best_effort` was written, when it was (the resolver checks both ends are of one kind). */
  bestEffortAt?: SourcePosition | undefined
  reliability: Reliability
  /** Position of the input's key. */
  position: SourcePosition
}

/** Restart keys that were set explicitly (defaults are applied by the resolver). */
export interface DraftRestart {
  policy?: RestartPolicy | undefined
  maxRestarts?: number | undefined
  restartDelay?: number | undefined
  maxRestartDelay?: At<number> | undefined
  restartWindow?: number | undefined
  healthCheckTimeout?: number | undefined
}

export interface DraftOperator {
  id: string
  /** Where the `id` value is (undefined for a single `operator:`, which takes the node id). */
  idAt?: SourcePosition | undefined
  module?: At<string> | undefined
  language?: 'typescript' | 'javascript' | undefined
  inputs: DraftInput[]
  /** Undefined when `outputs` was invalid: sources reading from it are then not checked. */
  outputs: string[] | undefined
  timeout?: number | undefined
  maxRedeliveries?: number | undefined
  maxMemoryMb?: number | undefined
  durability?: Durability | undefined
  restart: DraftRestart
  position: SourcePosition
}

export interface DraftCustomBody {
  kind: 'custom'
  path?: At<string> | undefined
  args: string[]
  connectTimeout?: number | undefined
  oomScoreAdj?: number | undefined
  maxMemoryMb?: number | undefined
  inputs: DraftInput[]
  outputs: string[] | undefined
}

export interface DraftOperatorsBody {
  kind: 'operators'
  single: boolean
  operators: DraftOperator[]
}

export interface DraftNode {
  /** Undefined when the node has no usable id. */
  id: string | undefined
  idAt?: SourcePosition | undefined
  name?: string | undefined
  description?: string | undefined
  /** `build:`, the node's build command (dora-ts build). */
  build?: string | undefined
  env: Record<string, string>
  restart: DraftRestart
  /** Undefined when the node's kind could not be told (no or conflicting path/operator keys). */
  body: DraftCustomBody | DraftOperatorsBody | undefined
  position: SourcePosition
}

export interface DraftDataflow {
  name?: string | undefined
  env: Record<string, string>
  exitWhenNodesFinish: At<string>[]
  /** dora's `exit_when_nodes_finish: true` (every custom node) or `false`. */
  exitWhenAllNodesFinish?: boolean | undefined
  healthCheckInterval?: number | undefined
  stateDir?: string | undefined
  durability?: Durability | undefined
  kvsNamespace?: string | undefined
  stateMapSize?: number | undefined
  kvsMapSize?: number | undefined
  maxMessageSize?: number | undefined
  directLinks?: boolean | undefined
  nodes: DraftNode[]
}
