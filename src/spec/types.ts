/**
 * The resolved, validated form of a dataflow YAML. The runtime only ever sees these types:
 * everything here has been checked (sources exist, timers are valid, paths resolved to absolute
 * paths), so the runtime never re-validates.
 */

/** Where a YAML value came from, for error messages and `dora-ts check`. */
export interface SourcePosition {
  /** Absolute path of the YAML file. */
  file: string
  /** 1-based line. */
  line: number
  /** 1-based column. */
  column: number
}

export type QueuePolicy = 'drop_oldest' | 'backpressure'

/**
 * `reliable`: through the supervisor's outbox, at least once, replayed after any kill.
 * `best_effort`: never stored, dropped when the receiver's queue is full (ROS 2's `best_effort`
 * reliability QoS): between custom nodes directly from the sending node to the receiving one,
 * between operators handed on by the supervisor outside the outbox, its bytes moved, not copied.
 */
export type Reliability = 'reliable' | 'best_effort'

export type RestartPolicy = 'never' | 'on-failure' | 'always'

/** A timer input: `dora/timer/millis/100`, `dora/timer/hz/30`, ... */
export interface TimerSource {
  kind: 'timer'
  /** Interval in nanoseconds (always > 0). */
  intervalNs: bigint
  /** The original string, e.g. `dora/timer/millis/100`; also the timer's identity. */
  name: string
}

/** An input fed by another node's (or operator's) output. */
export interface OutputSource {
  kind: 'output'
  node: string
  /** Set when the source is an operator of an `operators:` list: `node/operator/output`. */
  operator?: string | undefined
  output: string
}

export interface InputSpec {
  /** The input id as the receiver sees it. */
  id: string
  source: TimerSource | OutputSource
  /** Max queued messages for this input (default 10). */
  queueSize: number
  queuePolicy: QueuePolicy
  /** Seconds without input before the input counts as timed out, if set. */
  inputTimeout?: number | undefined
  /** `best_effort` only between two custom nodes or two operators (the resolver checks). */
  reliability: Reliability
  position: SourcePosition
}

export interface RestartSpec {
  policy: RestartPolicy
  /** 0 = unlimited. */
  maxRestarts: number
  /** Seconds; window in which `maxRestarts` applies, undefined = whole run. */
  restartWindow?: number | undefined
  /** Seconds before the first restart; doubles each time up to `maxRestartDelay`. */
  restartDelay: number
  maxRestartDelay: number
  /** Seconds a (re)started node may take to become ready. */
  healthCheckTimeout?: number | undefined
}

export type Durability = 'process' | 'power'

export interface OperatorSpec {
  /** Operator id; for a single `operator:` it equals the node id. */
  id: string
  /** Absolute path of the TS/JS module. */
  module: string
  language: 'typescript' | 'javascript'
  inputs: InputSpec[]
  outputs: string[]
  /** Handler watchdog in seconds (undefined = none). */
  timeout?: number | undefined
  restart: RestartSpec
  durability: Durability
  /** Max redeliveries of one input before it is dropped as poison. */
  maxRedeliveries: number
  /** Heap limit of the operator's worker thread in MiB; past it the worker is a crash. */
  maxMemoryMb?: number | undefined
  position: SourcePosition
}

interface NodeSpecBase {
  id: string
  name?: string | undefined
  description?: string | undefined
  /** `build:`: a shell command that builds the node, run by `dora-ts build` (never by run or start). */
  build?: string | undefined
  /** Merged environment: global `env` overridden by the node's own. Values are strings. */
  env: Record<string, string>
  restart: RestartSpec
  position: SourcePosition
}

/** Default `connect_timeout:` of a custom node, in seconds. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10

/**
 * How much likelier than the supervisor a custom node is to be picked by the kernel's OOM killer
 * by default: a node is restarted, the supervisor's death stops every node.
 */
export const DEFAULT_OOM_SCORE_ADJ_ABOVE_SUPERVISOR = 300

/** A custom node: a separate executable launched as a child process. */
export interface CustomNodeSpec extends NodeSpecBase {
  kind: 'custom'
  /** Absolute path of the executable or script. */
  path: string
  /** `ts`, `js` (run with node), `py` (run with python3) or `exe` (executed directly, or through its `#!` line when not executable). */
  runtime: 'ts' | 'js' | 'py' | 'exe'
  /** `args` split shell-style into words. */
  args: string[]
  /**
   * Seconds the program may take from its start to `Node.connect()` before the supervisor warns
   * (`connect_timeout:`, default {@link DEFAULT_CONNECT_TIMEOUT_S}).
   */
  connectTimeout: number
  /**
   * The kernel's OOM-killer adjustment for the node's process (`oom_score_adj:`); undefined: the
   * supervisor's own plus {@link DEFAULT_OOM_SCORE_ADJ_ABOVE_SUPERVISOR}.
   */
  oomScoreAdj?: number | undefined
  /**
   * The most resident memory, in MiB, the node's processes may hold together (`max_memory_mb:`;
   * runtime/supervisor/group-memory.ts); undefined: no limit.
   */
  maxMemoryMb?: number | undefined
  inputs: InputSpec[]
  outputs: string[]
}

/**
 * A node made of operators loaded in-process. A single `operator:` becomes a list of one whose
 * id is the node id and whose outputs are addressed `node/output`; an `operators:` list's
 * outputs are addressed `node/operator/output`.
 */
export interface OperatorNodeSpec extends NodeSpecBase {
  kind: 'operators'
  /** True for the single `operator:` form (addressing `node/output`). */
  single: boolean
  operators: OperatorSpec[]
}

export type NodeSpec = CustomNodeSpec | OperatorNodeSpec

export interface DataflowSpec {
  /** Absolute path of the YAML file. */
  file: string
  /** Directory relative paths are resolved against (the YAML's directory). */
  baseDir: string
  /** Dataflow name: the YAML `name:` key if given, else the file's base name without extension. */
  name: string
  nodes: NodeSpec[]
  /** Global env from the YAML (already merged into each node's env). */
  env: Record<string, string>
  /** Node ids whose ending ends the dataflow (dora's `exit_when_nodes_finish`). */
  exitWhenNodesFinish: string[]
  /** Seconds; dora's `health_check_interval` (default 5). */
  healthCheckInterval: number
  /** Where operator state lives, if the YAML sets `state_dir` (resolved to absolute). */
  stateDir?: string | undefined
  durability: Durability
  /** The KVS namespace of the dataflow's nodes, if the YAML sets `kvs_namespace` (default: {@link name}). */
  kvsNamespace?: string | undefined
  /** Bytes; the YAML's `state_map_size`, if set (default: the state store's 1 GiB). */
  stateMapSize?: number | undefined
  /** Bytes; the YAML's `kvs_map_size`, if set (default: the KVS's 1 GiB; `--kvs-map-size` wins). */
  kvsMapSize?: number | undefined
  /** Bytes; the YAML's `max_message_size`, if set (default DEFAULT_MAX_MESSAGE_BYTES, 64 MiB): the largest payload a sender may send. */
  maxMessageSize?: number | undefined
  /**
   * `_unstable_direct_links` as the YAML sets it. Unset (the default): reliable inputs between
   * two custom nodes run by node go through link logs in shared memory, not the supervisor
   * (docs/design/reliable-direct-links.md). `true`: that, and best-effort inputs between
   * operators go worker to worker. `false`: every message goes through the supervisor.
   */
  directLinks?: boolean | undefined
  /** What the YAML was read as where that differs from what it says (`file:line:col: text`); the CLI prints them. */
  notes?: string[] | undefined
}
