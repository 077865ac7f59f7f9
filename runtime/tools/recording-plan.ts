/**
 * How `dora-ts record` and `dora-ts replay` change a dataflow before running it, on its
 * resolved spec (the YAML on disk is never touched):
 * - record adds one custom node, the recorder (recorder-node.ts), with a reliable input from
 *   each recorded topic;
 * - replay puts a replay node (replay-node.ts) in place of each recorded node: same id, same
 *   outputs, no inputs, so its receivers are wired as they were.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isPoisonTopic, POISON_OUTPUT } from '../../src/spec/resolve.js'
import { DEFAULT_CONNECT_TIMEOUT_S, type CustomNodeSpec, type DataflowSpec, type InputSpec, type NodeSpec } from '../../src/spec/types.js'
import { RecordingPlanError } from '../../src/recording/errors.js'
import { outputKey } from '../supervisor/routing.js'
import type { RecordingHeader } from '../../src/recording/format.js'

/** The id of the node `record` adds. */
export const RECORDER_ID = 'dora-ts-recorder'
/**
 * How many messages the recorder's inputs hold before dropping the oldest: a burst must not
 * cost the recording, and a reliable link's log (in shared memory) keeps up to this many for
 * a recorder that fell behind, so not more (1 000 camera frames of 900 KiB are 0.9 GB).
 */
export const RECORDER_QUEUE = 1000

/**
 * The program of a node this module adds: the compiled `.js` beside it, or, when it runs from
 * the TypeScript sources (the tests on Node 22 and 24), the `.ts` one, run with tsx.
 */
function toolNode(name: string): Pick<CustomNodeSpec, 'path' | 'runtime'> {
  const js = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
  if (existsSync(js)) return { path: js, runtime: 'js' }
  return { path: fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), runtime: 'ts' }
}

/** Every output of `spec` as inputs name it (`node/output`, `node/operator/output`), without operators' `_errors`. */
export function recordableTopics(spec: DataflowSpec): string[] {
  const topics: string[] = []
  for (const node of spec.nodes) {
    if (node.kind === 'custom') topics.push(...node.outputs.map((o) => outputKey(node.id, undefined, o)))
    else for (const op of node.operators) topics.push(...op.outputs.map((o) => outputKey(node.id, node.single ? undefined : op.id, o)))
  }
  return topics
}

/**
 * `spec` with the recorder added, reading `wanted` (every output when empty) into `file`.
 * Throws {@link RecordingPlanError} for a topic the dataflow does not have, or a node already
 * named {@link RECORDER_ID}.
 */
export function withRecorder(spec: DataflowSpec, file: string, wanted: readonly string[]): { spec: DataflowSpec; topics: string[] } {
  const all = recordableTopics(spec)
  for (const topic of wanted) {
    if (!all.includes(topic) && !isPoisonTopic(topic)) {
      throw new RecordingPlanError(`dataflow "${spec.name}" has no output "${topic}" to record`, {
        hint: `Its outputs are: ${all.join(', ') || 'none'}. Name them as inputs do: node/output, or node/operator/output.`,
      })
    }
  }
  const topics = wanted.length > 0 ? [...new Set(wanted)] : all
  if (topics.length === 0) {
    throw new RecordingPlanError(`dataflow "${spec.name}" has no outputs to record`, { hint: 'Record a dataflow whose nodes declare outputs.' })
  }
  if (spec.nodes.some((n) => n.id === RECORDER_ID)) {
    throw new RecordingPlanError(`dataflow "${spec.name}" already has a node named "${RECORDER_ID}", the name of the node dora-ts record adds`, {
      hint: 'Rename that node.',
    })
  }
  const position = { file: spec.file, line: 1, column: 1 }
  const inputs: InputSpec[] = topics.map((topic, i) => {
    const parts = topic.split('/')
    const source =
      parts.length === 3
        ? { kind: 'output' as const, node: parts[0]!, operator: parts[1]!, output: parts[2]! }
        : { kind: 'output' as const, node: parts[0]!, output: parts[1]! }
    return { id: `t${i}`, source, queueSize: RECORDER_QUEUE, queuePolicy: 'drop_oldest', reliability: reliabilityFor(spec, topic), position }
  })
  const header: RecordingHeader = { version: 1, dataflow: spec.name, yamlFile: spec.file, topics, startedAt: Date.now() }
  const recorder: CustomNodeSpec = {
    kind: 'custom',
    id: RECORDER_ID,
    ...toolNode('recorder-node'),
    args: [],
    connectTimeout: DEFAULT_CONNECT_TIMEOUT_S,
    env: {
      ...spec.env,
      DORA_TS_RECORD_FILE: file,
      DORA_TS_RECORD_TOPICS: JSON.stringify(Object.fromEntries(inputs.map((input, i) => [input.id, topics[i]]))),
      DORA_TS_RECORD_HEADER: JSON.stringify(header),
    },
    // Killed, it comes back and goes on in the same file (recorder-node.ts).
    restart: { policy: 'on-failure', maxRestarts: 0, restartDelay: 0.1, maxRestartDelay: 2 },
    position,
    inputs,
    outputs: [],
  }
  return { spec: { ...spec, nodes: [...spec.nodes, recorder] }, topics }
}

/**
 * How the recorder takes `topic`: best effort when its sender is a custom node and every
 * receiver the dataflow gives it takes it best effort (sensor data where the newest matters:
 * recording it must not make its sender keep what its own receivers drop); reliable otherwise.
 */
function reliabilityFor(spec: DataflowSpec, topic: string): InputSpec['reliability'] {
  const parts = topic.split('/')
  const sender = spec.nodes.find((n) => n.id === parts[0])
  if (sender?.kind !== 'custom' || parts.length !== 2) return 'reliable'
  const inputs = spec.nodes.flatMap((n) => (n.kind === 'custom' ? n.inputs : n.operators.flatMap((op) => op.inputs)))
  const feeding = inputs.filter(
    (i) => i.source.kind === 'output' && i.source.node === parts[0] && i.source.operator === undefined && i.source.output === parts[1],
  )
  return feeding.length > 0 && feeding.every((i) => i.reliability === 'best_effort') ? 'best_effort' : 'reliable'
}

export interface ReplayOptions {
  file: string
  /** Playback speed: 1 as recorded, 2 twice as fast, 0 as fast as receivers take it. */
  speed: number
  loop: boolean
  /** The nodes to stand in for; empty: every recorded node that can be. */
  replace: readonly string[]
}

/**
 * `spec` with replay nodes in place of the recorded nodes (those `options.replace` names, or
 * all that recorded something), given the topics the recording holds messages of. With speed 0
 * the inputs they feed get `queue_policy: backpressure`, so a receiver slower than the file is
 * waited for instead of dropping. Throws {@link RecordingPlanError} for a node the recording or
 * the dataflow does not have, or one of several operators (replay stands in for whole nodes).
 */
export function withReplay(
  spec: DataflowSpec,
  recordedTopics: ReadonlySet<string>,
  options: ReplayOptions,
): { spec: DataflowSpec; replaced: string[]; notes: string[] } {
  const recordedNodes = [...new Set([...recordedTopics].map((t) => t.split('/')[0]!))]
  const notes: string[] = []
  for (const id of options.replace) {
    if (!recordedNodes.includes(id)) {
      throw new RecordingPlanError(`the recording holds no message of node "${id}"`, {
        hint: `It holds messages of: ${recordedNodes.join(', ') || 'no node'}.`,
      })
    }
  }
  const wanted = options.replace.length > 0 ? options.replace : recordedNodes
  const replaced: string[] = []
  const nodes: NodeSpec[] = spec.nodes.map((node) => {
    if (!wanted.includes(node.id)) return node
    if (node.kind === 'operators' && !node.single) {
      if (options.replace.length > 0) {
        throw new RecordingPlanError(`node "${node.id}" has several operators, and replay stands in for whole nodes of one sender`, {
          hint: 'Replay the nodes that feed it, or those it feeds, and keep it running live.',
        })
      }
      notes.push(`node "${node.id}" runs live: it has several operators, and replay stands in for whole nodes of one sender`)
      return node
    }
    replaced.push(node.id)
    const outputs = node.kind === 'custom' ? node.outputs : [...node.operators[0]!.outputs, POISON_OUTPUT]
    const replay: CustomNodeSpec = {
      kind: 'custom',
      id: node.id,
      ...toolNode('replay-node'),
      args: [],
      connectTimeout: DEFAULT_CONNECT_TIMEOUT_S,
      env: {
        ...node.env,
        DORA_TS_REPLAY_FILE: options.file,
        DORA_TS_REPLAY_NODE: node.id,
        DORA_TS_REPLAY_SPEED: String(options.speed),
        DORA_TS_REPLAY_LOOP: options.loop ? '1' : '0',
      },
      // A replay started again would send from the start again.
      restart: { ...node.restart, policy: 'never' },
      position: node.position,
      inputs: [],
      outputs,
    }
    return replay
  })
  for (const id of wanted) {
    if (!spec.nodes.some((n) => n.id === id)) {
      throw new RecordingPlanError(`the recording holds messages of node "${id}", which dataflow "${spec.name}" (${spec.file}) does not have`, {
        hint: 'Replay into the dataflow it was recorded from, or name the nodes to replay with --replace.',
      })
    }
  }
  const fed = (input: InputSpec): boolean => input.source.kind === 'output' && replaced.includes(input.source.node)
  const paced = (inputs: InputSpec[]): InputSpec[] =>
    inputs.map((input) => (options.speed === 0 && fed(input) ? { ...input, queuePolicy: 'backpressure' } : input))
  const withPace = nodes.map((node): NodeSpec => {
    if (node.kind === 'custom') return replaced.includes(node.id) ? node : { ...node, inputs: paced(node.inputs) }
    return { ...node, operators: node.operators.map((op) => ({ ...op, inputs: paced(op.inputs) })) }
  })
  return { spec: { ...spec, nodes: withPace }, replaced, notes }
}
