/**
 * Second pass: turns a {@link DraftDataflow} into the runtime's {@link DataflowSpec}. Checks
 * what needs the whole dataflow (input sources against other nodes' outputs,
 * `exit_when_nodes_finish`, files on disk) and fills in every default.
 *
 * @module
 */

import { nameFrom } from '../security/names.js'
import { basename, extname, resolve } from 'node:path'
import { didYouMean } from './did-you-mean.js'
import type { At, DraftDataflow, DraftInput, DraftNode, DraftOperator, DraftRestart } from './draft.js'
import { isBareCommand, isExecutable, resolveExecutable, resolveModule, runtimeOf, shebangOf } from './files.js'
import type { Problems, Scope } from './problems.js'
import { parseTimer, TIMER_PREFIX } from './timer.js'
import { DEFAULT_CONNECT_TIMEOUT_S } from './types.js'
import type {
  DataflowSpec,
  Durability,
  InputSpec,
  NodeSpec,
  OperatorSpec,
  OutputSource,
  RestartPolicy,
  RestartSpec,
  SourcePosition,
  TimerSource,
} from './types.js'

/** Defaults of the restart keys (dora's where dora has one). */
export const RESTART_DEFAULTS = {
  /** Custom nodes are not restarted unless asked, as in dora. */
  customPolicy: 'never',
  /** Operators are restarted after a crash: their state survives it. */
  operatorPolicy: 'on-failure',
  maxRestarts: 0,
  restartDelay: 0.1,
  maxRestartDelay: 10,
} as const satisfies Record<string, number | RestartPolicy>

/**
 * Every operator has this output besides its declared ones: inputs it dropped as poison are
 * reported there (as JSON), so a dataflow can log or alert on them.
 */
export const POISON_OUTPUT = '_errors'

/** Whether `topic` (an output as inputs name it: `node/output`, `node/operator/output`) is an operator's {@link POISON_OUTPUT}. */
export function isPoisonTopic(topic: string): boolean {
  return topic.endsWith(`/${POISON_OUTPUT}`)
}

export const DEFAULT_HEALTH_CHECK_INTERVAL = 5
export const DEFAULT_MAX_REDELIVERIES = 3
export const DEFAULT_DURABILITY: Durability = 'process'

export interface ResolveOptions {
  /** Absolute path of the YAML file. */
  file: string
  /** Check that node executables and operator modules exist (default true). */
  checkFiles: boolean
}

/** Build the spec; problems go to `problems` (the caller throws if there are any). */
export function resolveDraft(draft: DraftDataflow, problems: Problems, options: ResolveOptions): DataflowSpec {
  return new Resolver(draft, problems, options).dataflow()
}

class Resolver {
  private readonly baseDir: string
  private readonly byId = new Map<string, DraftNode>()
  private readonly reportedDelays = new Set<string>()

  constructor(
    private readonly draft: DraftDataflow,
    private readonly problems: Problems,
    private readonly options: ResolveOptions,
  ) {
    this.baseDir = resolve(options.file, '..')
    for (const node of draft.nodes) {
      if (node.id !== undefined && !this.byId.has(node.id)) this.byId.set(node.id, node)
    }
  }

  dataflow(): DataflowSpec {
    const { draft } = this
    for (const exit of draft.exitWhenNodesFinish) {
      if (!this.byId.has(exit.value)) {
        this.problems.add(
          'DORA_SPEC_UNKNOWN_NODE',
          exit.at,
          {},
          `\`exit_when_nodes_finish\` names node "${exit.value}", which does not exist${didYouMean(exit.value, this.byId.keys())}`,
          `node ids are: ${[...this.byId.keys()].join(', ')}`,
        )
      }
    }
    const durability = draft.durability ?? DEFAULT_DURABILITY
    const nodes: NodeSpec[] = []
    for (const node of draft.nodes) {
      const spec = this.node(node, durability)
      if (spec !== undefined) nodes.push(spec)
    }
    const ext = extname(this.options.file)
    return {
      file: this.options.file,
      baseDir: this.baseDir,
      // Named after the file when the YAML does not say: made an identifier, since it names folders.
      name: draft.name ?? nameFrom(basename(this.options.file, ext)),
      nodes,
      env: draft.env,
      exitWhenNodesFinish: draft.exitWhenAllNodesFinish === true ? allCustomNodes(nodes) : draft.exitWhenNodesFinish.map((e) => e.value),
      healthCheckInterval: draft.healthCheckInterval ?? DEFAULT_HEALTH_CHECK_INTERVAL,
      stateDir: draft.stateDir === undefined ? undefined : resolve(this.baseDir, draft.stateDir),
      durability,
      ...(draft.kvsNamespace === undefined ? {} : { kvsNamespace: draft.kvsNamespace }),
      ...(draft.stateMapSize === undefined ? {} : { stateMapSize: draft.stateMapSize }),
      ...(draft.kvsMapSize === undefined ? {} : { kvsMapSize: draft.kvsMapSize }),
      ...(draft.maxMessageSize === undefined ? {} : { maxMessageSize: draft.maxMessageSize }),
      ...(draft.directLinks === undefined ? {} : { directLinks: draft.directLinks }),
    }
  }

  private node(node: DraftNode, durability: Durability): NodeSpec | undefined {
    // Without an id or a kind there is nothing to build; the problem is already recorded.
    if (node.id === undefined || node.body === undefined) return undefined
    const scope: Scope = { nodeId: node.id }
    const base = {
      id: node.id,
      name: node.name,
      description: node.description,
      build: node.build,
      env: { ...this.draft.env, ...node.env },
      position: node.position,
    }
    const body = node.body
    if (body.kind === 'custom') {
      return {
        ...base,
        kind: 'custom',
        restart: this.restart(RESTART_DEFAULTS.customPolicy, [node.restart], scope),
        path: this.executable(body.path, scope, node.build !== undefined),
        runtime: runtimeOf(body.path?.value ?? ''),
        args: body.args,
        connectTimeout: body.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S,
        oomScoreAdj: body.oomScoreAdj,
        maxMemoryMb: body.maxMemoryMb,
        inputs: body.inputs.map((input) => this.input(input, scope, true)),
        outputs: body.outputs ?? [],
      }
    }
    const operators = body.operators.map((op) => this.operator(op, node, body.single, durability))
    const nodeRestart = body.single && operators[0] !== undefined ? operators[0].restart : this.restart(RESTART_DEFAULTS.operatorPolicy, [node.restart], scope)
    return { ...base, kind: 'operators', single: body.single, operators, restart: nodeRestart }
  }

  private operator(op: DraftOperator, node: DraftNode, single: boolean, durability: Durability): OperatorSpec {
    const scope: Scope = { nodeId: node.id, operatorId: single ? undefined : op.id }
    let module = ''
    if (op.module !== undefined) {
      const found = resolveModule(op.module.value, this.baseDir)
      module = found.path
      if (!found.found && this.options.checkFiles) {
        this.problems.add(
          'DORA_SPEC_MISSING_FILE',
          op.module.at,
          scope,
          `operator module ${found.reason}`,
          `create the file or fix the path; paths are relative to the dataflow's folder ${this.baseDir}`,
        )
      }
    }
    const runtime = runtimeOf(module)
    return {
      id: op.id,
      module,
      language: op.language ?? (runtime === 'js' ? 'javascript' : 'typescript'),
      inputs: op.inputs.map((input) => this.input(input, scope, false)),
      outputs: op.outputs ?? [],
      timeout: op.timeout,
      restart: this.restart(RESTART_DEFAULTS.operatorPolicy, [node.restart, op.restart], scope),
      durability: op.durability ?? durability,
      maxRedeliveries: op.maxRedeliveries ?? DEFAULT_MAX_REDELIVERIES,
      maxMemoryMb: op.maxMemoryMb,
      position: op.position,
    }
  }

  /** `built`: the node has a `build:` command, which may be what makes its file. */
  private executable(path: At<string> | undefined, scope: Scope, built = false): string {
    if (path === undefined) return ''
    const value = path.value
    if (/^https?:\/\//i.test(value)) {
      this.problems.add(
        'DORA_SPEC_NOT_SUPPORTED',
        path.at,
        scope,
        `\`path\` "${value}" is a URL; downloading nodes is not supported yet`,
        'download the file and point `path:` at it',
      )
      return value
    }
    if (value === 'dynamic') {
      this.problems.add(
        'DORA_SPEC_NOT_SUPPORTED',
        path.at,
        scope,
        '`path: dynamic` (a node started by hand) is not supported yet',
        'dora-ts starts every node itself: point `path:` at the executable or script',
      )
      return value
    }
    // Without file checks, only a bare command needs the disk (to find it on PATH).
    if (!this.options.checkFiles && !isBareCommand(value)) return resolve(this.baseDir, value)
    const found = resolveExecutable(value, this.baseDir)
    if (!found.found && this.options.checkFiles) {
      this.problems.add(
        'DORA_SPEC_MISSING_FILE',
        path.at,
        scope,
        `\`path\` ${found.reason}`,
        built
          ? `the node has a build: command: run \`dora-ts build ${basename(this.options.file)}\` first (it may be what makes the file); else fix the path, relative to the dataflow's folder ${this.baseDir}`
          : `create the file or fix the path; paths are relative to the dataflow's folder ${this.baseDir}`,
      )
    }
    // A file run directly needs the executable bit, or a `#!` line we can run it through;
    // otherwise `run` would fail much later with "spawn ... EACCES".
    if (found.found && this.options.checkFiles && runtimeOf(found.path) === 'exe' && !isExecutable(found.path) && shebangOf(found.path) === undefined) {
      this.problems.add(
        'DORA_SPEC_MISSING_FILE',
        path.at,
        scope,
        `\`path\` ${found.path} is not executable`,
        `make it executable (chmod +x ${found.path}), or start it with a #! line naming its interpreter`,
      )
    }
    return found.path
  }

  /** Merge restart layers (later wins) over the defaults. */
  private restart(policy: RestartPolicy, layers: DraftRestart[], scope: Scope): RestartSpec {
    const pick = <K extends keyof DraftRestart>(key: K): DraftRestart[K] => {
      let value: DraftRestart[K] = undefined
      for (const layer of layers) if (layer[key] !== undefined) value = layer[key]
      return value
    }
    const restartDelay = pick('restartDelay') ?? RESTART_DEFAULTS.restartDelay
    const explicitMax = pick('maxRestartDelay')
    let maxRestartDelay = Math.max(RESTART_DEFAULTS.maxRestartDelay, restartDelay)
    if (explicitMax !== undefined) {
      maxRestartDelay = explicitMax.value
      const key = `${explicitMax.at.line}:${explicitMax.at.column}`
      if (explicitMax.value < restartDelay && !this.reportedDelays.has(key)) {
        this.reportedDelays.add(key)
        this.problems.add(
          'DORA_SPEC_INVALID_VALUE',
          explicitMax.at,
          scope,
          `\`max_restart_delay\` (${explicitMax.value} s) is shorter than \`restart_delay\` (${restartDelay} s)`,
          'make max_restart_delay at least restart_delay',
        )
      }
    }
    return {
      policy: pick('policy') ?? policy,
      maxRestarts: pick('maxRestarts') ?? RESTART_DEFAULTS.maxRestarts,
      restartWindow: pick('restartWindow'),
      restartDelay,
      maxRestartDelay,
      healthCheckTimeout: pick('healthCheckTimeout'),
    }
  }

  /** `custom`: the receiver is a custom node (best_effort needs the same kind at both ends). */
  private input(input: DraftInput, scope: Scope, custom: boolean): InputSpec {
    const source = this.source(input, scope)
    if (input.bestEffortAt !== undefined) this.checkBestEffort(input, input.bestEffortAt, source, scope, custom)
    return {
      id: input.id,
      source,
      queueSize: input.queueSize,
      queuePolicy: input.queuePolicy,
      inputTimeout: input.inputTimeout,
      reliability: input.reliability,
      position: input.position,
    }
  }

  /**
   * A best-effort link joins two custom nodes (a socket between their processes, which the SDK
   * on each end opens) or two operators (the supervisor hands the message on without keeping it
   * in the outbox, moving its bytes where it can). Not a timer, and not across the two kinds: a
   * custom node's direct socket has no operator at its other end.
   */
  private checkBestEffort(input: DraftInput, at: SourcePosition, source: TimerSource | OutputSource, scope: Scope, custom: boolean): void {
    const what = `input "${input.id}" is \`reliability: best_effort\``
    const receiver = custom ? 'a custom node' : 'an operator'
    if (source.kind === 'timer') {
      this.problems.add(
        'DORA_SPEC_NOT_SUPPORTED',
        at,
        scope,
        `${what}, but it reads a timer; best-effort links join two custom nodes or two operators`,
        'remove `reliability: best_effort`: timers come from the supervisor',
      )
      return
    }
    // An unknown source is reported already; only a known sender of the other kind is this problem.
    const sender = source.node === '' ? undefined : this.byId.get(source.node)?.body
    if (sender === undefined || (sender.kind === 'custom') === custom) return
    const senderKind = sender.kind === 'custom' ? 'a custom node' : 'an operator'
    this.problems.add(
      'DORA_SPEC_NOT_SUPPORTED',
      at,
      scope,
      `${what} and belongs to ${receiver}, but it reads from "${input.source.value}", ${senderKind}; best-effort links join two custom nodes or two operators`,
      `remove \`reliability: best_effort\` (the input is then reliable, through the supervisor's outbox), or make the sender and the receiver the same kind: both custom nodes (\`path:\`) or both operators`,
    )
  }

  private source(input: DraftInput, scope: Scope): TimerSource | OutputSource {
    const { value, at } = input.source
    const reads = `input "${input.id}" reads from "${value}"`
    if (value === 'dora/timer' || value.startsWith(TIMER_PREFIX)) {
      const timer = parseTimer(value)
      if (timer.ok) return { kind: 'timer', intervalNs: timer.intervalNs, name: value }
      this.problems.add('DORA_SPEC_BAD_TIMER', at, scope, `input "${input.id}": ${timer.message}`, timer.hint)
      return { kind: 'timer', intervalNs: 1n, name: value }
    }
    const placeholder: OutputSource = { kind: 'output', node: '', output: '' }
    if (value === 'dora' || value.startsWith('dora/')) {
      this.problems.add(
        'DORA_SPEC_BAD_INPUT',
        at,
        scope,
        `${reads}, which is not a dora source`,
        'the only built-in source is a timer: dora/timer/<secs|millis|micros|nanos>/<n> or dora/timer/hz/<rate>',
      )
      return placeholder
    }
    const parts = value.split('/')
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
      this.problems.add(
        'DORA_SPEC_BAD_INPUT',
        at,
        scope,
        `${reads}, which is not a source`,
        'write node/output, node/operator/output (for a node with an `operators:` list) or dora/timer/millis/<n>',
      )
      return placeholder
    }
    const [nodeId = '', second = '', third] = parts
    const node = this.byId.get(nodeId)
    if (node === undefined) {
      this.problems.add(
        'DORA_SPEC_UNKNOWN_SOURCE_NODE',
        at,
        scope,
        `${reads}, but there is no node "${nodeId}"${didYouMean(nodeId, this.byId.keys())}`,
        `node ids are: ${[...this.byId.keys()].join(', ')}`,
      )
      return placeholder
    }
    const body = node.body
    // A node whose own definition is broken: its problem is reported already.
    if (body === undefined) return placeholder
    const operatorsList = body.kind === 'operators' && !body.single
    if (!operatorsList) {
      const outputs = body.kind === 'custom' ? body.outputs : body.operators[0]?.outputs
      if (third !== undefined) {
        const what = body.kind === 'custom' ? 'a custom node' : 'a single-operator node'
        this.problems.add(
          'DORA_SPEC_UNKNOWN_SOURCE_OPERATOR',
          at,
          scope,
          `${reads}, but node "${nodeId}" is ${what} and has no operators`,
          `read its outputs as ${nodeId}/<output>${outputs !== undefined && outputs.includes(third) ? `, e.g. ${nodeId}/${third}` : ''}`,
        )
        return placeholder
      }
      if (outputs !== undefined && !outputs.includes(second) && !(body.kind === 'operators' && second === POISON_OUTPUT)) {
        this.problems.add(
          'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
          at,
          scope,
          `${reads}, but node "${nodeId}" has no output "${second}"${didYouMean(second, outputs)}`,
          outputHint(second, `node "${nodeId}"`, outputs),
        )
      }
      return { kind: 'output', node: nodeId, operator: undefined, output: second }
    }
    const operators = body.operators
    if (third === undefined) {
      const owner = operators.find((op) => op.outputs?.includes(second))
      this.problems.add(
        'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
        at,
        scope,
        `${reads}, but node "${nodeId}" is an \`operators:\` list, whose outputs are addressed ${nodeId}/<operator>/<output>`,
        owner !== undefined
          ? `write ${nodeId}/${owner.id}/${second}`
          : `write ${nodeId}/<operator>/<output>; its operators are: ${operators.map((op) => op.id).join(', ')}`,
      )
      return placeholder
    }
    const op = operators.find((o) => o.id === second)
    if (op === undefined) {
      const ids = operators.map((o) => o.id)
      this.problems.add(
        'DORA_SPEC_UNKNOWN_SOURCE_OPERATOR',
        at,
        scope,
        `${reads}, but node "${nodeId}" has no operator "${second}"${didYouMean(second, ids)}`,
        `its operators are: ${ids.join(', ')}`,
      )
      return placeholder
    }
    if (op.outputs !== undefined && !op.outputs.includes(third) && third !== POISON_OUTPUT) {
      this.problems.add(
        'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
        at,
        scope,
        `${reads}, but operator "${second}" of node "${nodeId}" has no output "${third}"${didYouMean(third, op.outputs)}`,
        outputHint(third, `operator "${second}" of node "${nodeId}"`, op.outputs),
      )
    }
    return { kind: 'output', node: nodeId, operator: second, output: third }
  }
}

/** dora's `exit_when_nodes_finish: true`: the custom nodes, or every node when there is none. */
function allCustomNodes(nodes: readonly NodeSpec[]): string[] {
  const custom = nodes.filter((n) => n.kind === 'custom').map((n) => n.id)
  return custom.length > 0 ? custom : nodes.map((n) => n.id)
}

function outputHint(output: string, owner: string, outputs: readonly string[]): string {
  const list = outputs.length === 0 ? 'it has no outputs yet' : `its outputs are: ${outputs.join(', ')}`
  return `add "${output}" to the \`outputs\` of ${owner}, or read an existing one (${list})`
}
