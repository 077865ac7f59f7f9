/**
 * The one table of YAML keys dora-ts knows, per level (root, node, operator, input). The
 * validator reads its allowed keys from here and the JSON Schema (`dataflow.schema.json`) is
 * generated from here, so the two cannot drift.
 *
 * @module
 */

/** A JSON value, for schema fragments. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/** A JSON Schema fragment. */
export type JsonSchema = { readonly [key: string]: JsonValue }

/** What dora-ts knows about one YAML key. */
export interface KeyInfo {
  /** Shown by editors on hover and in completions. */
  readonly description: string
  /** Schema of the value; `$ref`s point into the `$defs` of {@link buildDataflowSchema}. */
  readonly schema?: JsonSchema
  /** Set for dora keys dora-ts accepts but does not support yet: the hint to show. */
  readonly unsupported?: string
}

/** The keys of a table that dora-ts supports (those without `unsupported`). */
export type SupportedKey<T> = { [K in keyof T]: T[K] extends { readonly unsupported: string } ? never : K }[keyof T] & string

/** Node and operator ids: dora's rule. */
export const ID_PATTERN = '^(?!\\.)(?!dora$)[A-Za-z0-9_.-]+$'
/** Input and output ids: anything without `/` or whitespace. */
export const DATA_ID_PATTERN = '^[^/\\s]+$'

const restartKeys = {
  restart_policy: {
    description:
      'When to restart after the node exits: `never`, `on-failure` (non-zero exit or crash) or `always`. Default: `never` for custom nodes, `on-failure` for operators.',
    schema: { enum: ['never', 'on-failure', 'always'] },
  },
  max_restarts: {
    description: 'Most restarts allowed (within `restart_window` if set); 0 = unlimited (the default).',
    schema: { type: 'integer', minimum: 0 },
  },
  restart_delay: {
    description:
      'Wait before the first restart (seconds, or a duration such as `500ms`); doubles on each restart of a crash loop up to `max_restart_delay`, and starts again once the node ran for 10 s (or `max_restart_delay`, if longer). Default 0.1 s.',
    schema: { $ref: '#/$defs/duration' },
  },
  max_restart_delay: {
    description: 'Upper bound of the doubling restart delay (seconds or a duration). Default 10 s.',
    schema: { $ref: '#/$defs/duration' },
  },
  restart_window: {
    description: 'Window (seconds or a duration) in which `max_restarts` counts; unset = the whole run.',
    schema: { $ref: '#/$defs/duration' },
  },
  health_check_timeout: {
    description: 'Time (seconds or a duration) a (re)started node may take to become ready.',
    schema: { $ref: '#/$defs/duration' },
  },
} as const satisfies Record<string, KeyInfo>

/** Keys of the YAML's top-level mapping. */
export const ROOT_KEYS = {
  name: {
    description: 'dora-ts: the dataflow name. Default: the file name without its extension.',
    schema: { type: 'string', minLength: 1 },
  },
  nodes: {
    description: 'The nodes of the dataflow (required, at least one).',
    schema: { type: 'array', minItems: 1, items: { $ref: '#/$defs/node' } },
  },
  env: {
    description: "Environment variables for every node; a node's own `env` wins.",
    schema: { $ref: '#/$defs/env' },
  },
  exit_when_nodes_finish: {
    description:
      "Node ids: when all of these have finished, the dataflow stops. dora's `true` means every custom node (every node when there is none); `false` is the default (stop when all nodes have finished).",
    schema: { oneOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', pattern: ID_PATTERN } }] },
  },
  health_check_interval: {
    description: 'Seconds (or a duration) between health checks of the nodes. Default 5.',
    schema: { $ref: '#/$defs/duration' },
  },
  state_dir: {
    description: 'dora-ts: folder for operator state, relative to this file.',
    schema: { type: 'string', minLength: 1 },
  },
  state_map_size: {
    description:
      'dora-ts: size limit of the operator state store: bytes, or a size with a unit such as `2GiB`. Default 1GiB. Raise it when a run stops with DORA_STATE_MAP_FULL; it may be changed between runs.',
    schema: { $ref: '#/$defs/byteSize' },
  },
  kvs_map_size: {
    description:
      'dora-ts: size limit of the shared key-value store as this dataflow uses it: bytes, or a size with a unit such as `2GiB`. Default 1GiB. Raise it when a write fails with DORA_KVS_MAP_FULL (`--kvs-map-size` on the command line wins).',
    schema: { $ref: '#/$defs/byteSize' },
  },
  max_message_size: {
    description:
      'dora-ts: largest payload a node or operator of this dataflow may send: bytes, or a size with a unit such as `256MiB`. Default 64MiB. A bigger send is refused with DORA_MESSAGE_TOO_LARGE before it leaves the sender.',
    schema: { $ref: '#/$defs/byteSize' },
  },
  kvs_namespace: {
    description:
      "dora-ts: the namespace (pool) of the shared key-value store that this dataflow's nodes and operators use as `kvs`. Default: the dataflow name. Two dataflows that set the same value share their keys.",
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000]+$' },
  },
  durability: {
    description:
      "dora-ts: default durability of operator state: `process` (every committed event survives any process crash, the supervisor's included, but not power loss) or `power` (fsync on every commit: also survives power loss, slower). Default `process`.",
    schema: { $ref: '#/$defs/durability' },
  },
  _unstable_direct_links: {
    description:
      "dora-ts: how messages between nodes travel. Unset (the default): reliable messages between two custom nodes run by node (`.ts`, `.js`) go directly from the sender's process to the receiver's, kept in a log in shared memory (durability `process`) instead of the supervisor's outbox: the same at-least-once guarantee, much faster. Inputs with `queue_policy: backpressure` or `input_timeout`, dataflows with `durability: power`, and nodes run otherwise (`.py`, executables) keep the supervisor's path. `false`: every message goes through the supervisor. `true`, experimental: the default, and `reliability: best_effort` inputs between two operators go from the sending worker thread straight to the receiving one (at most once; an output may be seen before its event commits).",
    schema: { type: 'boolean' },
  },
  deploy: { description: 'dora: where to deploy the dataflow.', unsupported: 'dora-ts runs every node on this machine; remove `deploy:`.' },
  _unstable_deploy: { description: 'dora: where to deploy the dataflow.', unsupported: 'dora-ts runs every node on this machine; remove `_unstable_deploy:`.' },
  debug: { description: 'dora: debug options.', unsupported: 'remove `debug:`; dora-ts has no debug options yet.' },
  _unstable_debug: { description: 'dora: debug options.', unsupported: 'remove `_unstable_debug:`; dora-ts has no debug options yet.' },
  strict_types: { description: 'dora: type checking of messages.', unsupported: 'dora-ts does not check message types; remove `strict_types:`.' },
} as const satisfies Record<string, KeyInfo>

/** Keys of one entry of `nodes:`. */
export const NODE_KEYS = {
  id: {
    description: 'Unique node id: letters, digits, `_`, `.`, `-`; no leading `.`; not `dora`.',
    schema: { type: 'string', pattern: ID_PATTERN },
  },
  name: { description: 'Human-readable name.', schema: { type: 'string' } },
  description: { description: 'What the node does.', schema: { type: 'string' } },
  path: {
    description:
      'Custom node: the executable or script, relative to this file, or a command on PATH. `.ts` runs as TypeScript, `.js`/`.mjs`/`.cjs` with node, anything else is executed directly.',
    schema: { type: 'string', minLength: 1 },
  },
  args: {
    description: 'Arguments for `path`, one string split like a shell does (quotes group words).',
    schema: { type: 'string' },
  },
  connect_timeout: {
    description:
      'dora-ts, custom nodes: time (seconds or a duration) the program may take from its start to `Node.connect()`; past it the supervisor logs a warning naming the node (it is not stopped: `health_check_timeout` does that), and `dora-ts start` stops waiting for it. Default 10 s.',
    schema: { $ref: '#/$defs/duration' },
  },
  oom_score_adj: {
    description:
      "dora-ts, custom nodes (Linux): the kernel's OOM-killer adjustment of the node's process, -1000 to 1000, as docker-compose's `oom_score_adj`. Default: the supervisor's own plus 300, so that under memory pressure the kernel ends a node (restarted by its `restart_policy`) before the supervisor, whose death stops every node. Below the supervisor's own needs root or CAP_SYS_RESOURCE.",
    schema: { type: 'integer', minimum: -1000, maximum: 1000 },
  },
  max_memory_mb: {
    description:
      "dora-ts, custom nodes (Linux): memory limit of the node in MiB, the resident memory (RSS) of its processes together (its process group, a wrapper script's children included), read every second; a node over it is killed and counts as crashed, so its `restart_policy` applies. Default: none. An operator's limit goes under `operator:`.",
    schema: { type: 'integer', minimum: 1 },
  },
  env: {
    description: 'Environment variables for this node; wins over the top-level `env`.',
    schema: { $ref: '#/$defs/env' },
  },
  inputs: {
    description: 'Custom node inputs: input id -> source (`node/output`, `node/operator/output` or `dora/timer/...`).',
    schema: { $ref: '#/$defs/inputs' },
  },
  outputs: {
    description: 'Custom node output ids.',
    schema: { $ref: '#/$defs/outputs' },
  },
  operator: {
    description: 'A single operator run in-process; its outputs are addressed `node/output`.',
    schema: { $ref: '#/$defs/operator' },
  },
  operators: {
    description: 'Several operators in one node; their outputs are addressed `node/operator/output`.',
    schema: { type: 'array', minItems: 1, items: { $ref: '#/$defs/listedOperator' } },
  },
  ...restartKeys,
  build: {
    description:
      "dora: a shell command that builds the node (`pip install -e .`, `npm ci`, `cargo build --release`), run by `dora-ts build` in the dataflow file's folder with the node's `env`; `run` and `start` do not build. Its `path` need not exist until it has run.",
    schema: { type: 'string', minLength: 1 },
  },
  git: {
    description: 'dora: git repository to fetch the node from.',
    unsupported: 'clone the repository yourself and point `path:` at the file; remove `git:`.',
  },
  branch: { description: 'dora: git branch.', unsupported: 'clone the repository yourself and point `path:` at the file; remove `branch:`.' },
  tag: { description: 'dora: git tag.', unsupported: 'clone the repository yourself and point `path:` at the file; remove `tag:`.' },
  rev: { description: 'dora: git revision.', unsupported: 'clone the repository yourself and point `path:` at the file; remove `rev:`.' },
  send_stdout_as: {
    description: 'dora: publish stdout as an output.',
    unsupported: 'send the text as a regular output from the node; remove `send_stdout_as:`.',
  },
  send_logs_as: { description: 'dora: publish logs as an output.', unsupported: 'send the logs as a regular output from the node; remove `send_logs_as:`.' },
  min_log_level: { description: 'dora: minimum log level.', unsupported: 'remove `min_log_level:`; dora-ts keeps all node logs.' },
  max_log_size: { description: 'dora: log size limit.', unsupported: 'remove `max_log_size:`; dora-ts does not rotate node logs yet.' },
  deploy: { description: 'dora: machine to run the node on.', unsupported: 'dora-ts runs every node on this machine; remove `deploy:`.' },
  _unstable_deploy: { description: 'dora: machine to run the node on.', unsupported: 'dora-ts runs every node on this machine; remove `_unstable_deploy:`.' },
  output_types: {
    description: 'dora: message types of the outputs.',
    unsupported: 'dora-ts payloads are bytes (Uint8Array); remove `output_types:` and decode in the receiving node.',
  },
  input_types: {
    description: 'dora: message types of the inputs.',
    unsupported: 'dora-ts payloads are bytes (Uint8Array); remove `input_types:` and decode in the node.',
  },
  strict_types: { description: 'dora: type checking of messages.', unsupported: 'dora-ts does not check message types; remove `strict_types:`.' },
  ros2: {
    description: 'dora: ROS 2 bridge.',
    unsupported: 'dora-ts has no ROS 2 bridge yet; bridge in a custom node (e.g. with rclnodejs) and remove `ros2:`.',
  },
  module: {
    description: 'dora: a node defined by a module (another dataflow file).',
    unsupported: 'copy the nodes of the module into this file; remove `module:`.',
  },
  params: {
    description: 'dora: parameters of a module node.',
    unsupported: 'pass values to a node with `env:` (or `args:`); remove `params:`.',
  },
  custom: {
    description: 'dora (old format): custom node definition.',
    unsupported: 'use the dora 1.0 form: put `path:`, `args:`, `inputs:` and `outputs:` directly on the node.',
  },
} as const satisfies Record<string, KeyInfo>

/** Keys of `operator:` and of each entry of `operators:`. */
export const OPERATOR_KEYS = {
  id: {
    description: 'Operator id (required in `operators:`, unique within the node; ignored for a single `operator:`, which takes the node id).',
    schema: { type: 'string', pattern: ID_PATTERN },
  },
  name: { description: 'Human-readable name.', schema: { type: 'string' } },
  description: { description: 'What the operator does.', schema: { type: 'string' } },
  typescript: {
    description: 'The operator module (`.ts`, `.mts`, `.cts`), relative to this file.',
    schema: { type: 'string', pattern: '\\.[cm]?ts$' },
  },
  javascript: {
    description: 'The operator module (`.js`, `.mjs`, `.cjs`), relative to this file.',
    schema: { type: 'string', pattern: '\\.[cm]?js$' },
  },
  inputs: {
    description: 'Operator inputs: input id -> source (`node/output`, `node/operator/output` or `dora/timer/...`).',
    schema: { $ref: '#/$defs/inputs' },
  },
  outputs: { description: 'Operator output ids.', schema: { $ref: '#/$defs/outputs' } },
  timeout: {
    description: 'dora-ts: handler watchdog (seconds or a duration); a handler running longer is aborted and the operator restarted.',
    schema: { $ref: '#/$defs/duration' },
  },
  max_memory_mb: {
    description:
      "dora-ts: memory limit of the operator's worker thread in MiB, its heap and its buffers (Buffer, ArrayBuffer) together; an operator that exceeds it counts as crashed and is restarted. Default: Node's own heap limit, buffers unbounded.",
    schema: { type: 'integer', minimum: 1 },
  },
  max_redeliveries: {
    description:
      "dora-ts: an input that has crashed the operator this many times is dropped as poison (logged with its sequence number and reported on the operator's `_errors` output). Default 3.",
    schema: { type: 'integer', minimum: 1 },
  },
  durability: {
    description: "dora-ts: durability of this operator's state: `process` or `power`. Default: the top-level `durability`.",
    schema: { $ref: '#/$defs/durability' },
  },
  ...restartKeys,
  python: {
    description: 'dora: Python operator.',
    unsupported:
      'dora-ts runs TypeScript/JavaScript operators only and has no Python SDK yet (a Python custom node could not connect either): port the operator to TypeScript with defineOperator, or keep this dataflow on dora-rs.',
  },
  'shared-library': {
    description: 'dora: shared-library operator.',
    unsupported: 'dora-ts runs TypeScript/JavaScript operators; run native code as a custom node with `path:`.',
  },
  build: { description: 'dora: build command.', unsupported: 'build the operator yourself before `dora-ts run`; remove `build:`.' },
  send_stdout_as: { description: 'dora: publish stdout as an output.', unsupported: 'send the text as a regular output; remove `send_stdout_as:`.' },
} as const satisfies Record<string, KeyInfo>

/** Keys of the long form of an input. */
export const INPUT_KEYS = {
  source: {
    description: '`node/output`, `node/operator/output`, `dora/timer/{secs,millis,micros,nanos}/N` or `dora/timer/hz/N`.',
    schema: { $ref: '#/$defs/source' },
  },
  queue_size: {
    description: 'Most messages queued for this input. Default 10. 0 is read as 1, as dora does.',
    schema: { type: 'integer', minimum: 0 },
  },
  queue_policy: {
    description: 'What happens when the queue is full: `drop_oldest` (default) drops the oldest message; `backpressure` makes the sender wait.',
    schema: { enum: ['drop_oldest', 'backpressure'] },
  },
  input_timeout: {
    description: 'Seconds (or a duration) without a message before the input counts as timed out.',
    schema: { $ref: '#/$defs/duration' },
  },
  reliability: {
    description:
      "dora-ts: `reliable` (default: every message is kept in the supervisor's outbox and replayed after any kill) or `best_effort` (ROS 2's sensor-data QoS: messages are never stored or replayed, and the oldest is dropped when the queue is full; between custom nodes they travel directly from the sending node to this one, between operators the supervisor hands them on outside its outbox, moving their bytes). `best_effort` joins two custom nodes or two operators.",
    schema: { enum: ['reliable', 'best_effort'] },
  },
} as const satisfies Record<string, KeyInfo>

/** Every table by level, for the validator's messages and for tests. */
export const KEY_TABLES = {
  root: ROOT_KEYS,
  node: NODE_KEYS,
  operator: OPERATOR_KEYS,
  input: INPUT_KEYS,
} as const

export type KeyLevel = keyof typeof KEY_TABLES

/** The keys of `table` dora-ts supports (no `unsupported`). */
export function supportedKeys(table: Readonly<Record<string, KeyInfo>>): string[] {
  return Object.entries(table)
    .filter(([, info]) => info.unsupported === undefined)
    .map(([key]) => key)
}

/**
 * The hint for a key that is unknown at `level` but known at another level: `timeout:` beside
 * `operator:` is the commonest (it belongs inside it), then input keys on a node.
 */
export function misplacedKeyHint(level: string, name: string): string | undefined {
  const known = (table: Readonly<Record<string, KeyInfo>>): boolean => Object.hasOwn(table, name) && table[name]?.unsupported === undefined
  if (level === 'node' && known(OPERATOR_KEYS)) {
    return `\`${name}\` is an operator key: indent it under \`operator:\` (or put it in each entry of \`operators:\`)`
  }
  if ((level === 'node' || level === 'operator') && known(INPUT_KEYS)) {
    return `\`${name}\` is an input key: write the input in its long form, e.g. \`scan: { source: lidar/scan, ${name}: ... }\``
  }
  if (level === 'operator' && known(NODE_KEYS)) return `\`${name}\` is a node key: move it out of the operator, onto the node`
  if (level === 'node' && known(ROOT_KEYS)) return `\`${name}\` is a top-level key: move it out of \`nodes:\`, to the start of the line`
  if (level === 'dataflow' && known(NODE_KEYS)) return `\`${name}\` is a node key: put it on an entry of \`nodes:\``
  return undefined
}
