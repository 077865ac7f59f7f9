/**
 * First pass over a parsed dataflow YAML: checks every key and value where it stands (known
 * keys, types, ranges, id rules, duplicates) and builds a {@link DraftDataflow}. References
 * between nodes, files and defaults are the resolver's job ({@link resolveDraft}).
 *
 * @module
 */

import { nameProblem, showName } from '../security/names.js'
import { isScalar, type Document, type Node, type YAMLMap } from 'yaml'
import type { At, DraftCustomBody, DraftDataflow, DraftNode, DraftOperator, DraftOperatorsBody, DraftRestart } from './draft.js'
import { runtimeOf } from './files.js'
import { nodeIdProblem } from './ids.js'
import { memoryFloorNote } from './memory-floor.js'
import { NODE_KEYS, OPERATOR_KEYS, ROOT_KEYS } from './keys.js'
import type { Problems, Scope } from './problems.js'
import { Reader, type Field, type Fields } from './reader.js'
import { splitShellWords } from './shell-words.js'
import { validateInputs, validateOutputs, type ValidateContext } from './validate-data.js'
import type { Durability, RestartPolicy, SourcePosition } from './types.js'

const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'always']
const DURABILITIES: readonly Durability[] = ['process', 'power']

/** Node-level keys only a custom node (`path:`) has, refused beside `operator:`: what each is, and what to do instead. */
const CUSTOM_NODE_KEYS = [
  [
    'connect_timeout',
    '`connect_timeout` is for custom nodes (`path:`): operators are loaded by the supervisor and never connect',
    "remove `connect_timeout:`; `health_check_timeout:` bounds an operator's start-up",
  ],
  [
    'oom_score_adj',
    "`oom_score_adj` is for custom nodes (`path:`): operators run in the supervisor's process",
    'remove `oom_score_adj:`; `max_memory_mb:` bounds an operator',
  ],
  [
    'max_memory_mb',
    "`max_memory_mb` beside `operator:` is for custom nodes (`path:`); an operator's limit is its own",
    'indent `max_memory_mb:` under `operator:` (or put it in each entry of `operators:`)',
  ],
] as const

export { DEFAULT_QUEUE_SIZE } from './validate-data.js'

type RestartFields = Partial<
  Record<'restart_policy' | 'max_restarts' | 'restart_delay' | 'max_restart_delay' | 'restart_window' | 'health_check_timeout', Field>
>

/**
 * Check the document's structure and values, recording problems in `problems`. Returns
 * undefined when the document is unusable as a whole (not a mapping, no `nodes`).
 */
export function validateDocument(doc: Document, problems: Problems): DraftDataflow | undefined {
  return new Validator(doc, problems).root()
}

class Validator implements ValidateContext {
  readonly read: Reader
  readonly pos: (where: Node | null) => SourcePosition

  constructor(
    private readonly doc: Document,
    readonly problems: Problems,
  ) {
    this.read = new Reader(doc, problems)
    this.pos = (where) => problems.positions.of(where)
  }

  /** `name`: it names the dataflow's state and log folders, so it must be an identifier (issue 13). */
  private dataflowName(field: Field | undefined): string | undefined {
    const name = this.read.string(field, {})
    if (name === undefined || field === undefined) return undefined
    const why = nameProblem(name)
    if (why === undefined) return name
    this.problems.add(
      'DORA_SPEC_INVALID_VALUE',
      field.value,
      {},
      `the dataflow \`name\` ${showName(name)} ${why}`,
      'use letters, digits, "_", "." and "-", e.g. name: robot-arm',
    )
    return undefined
  }

  /** `kvs_namespace`: a name LMDB can use for a database (at most 255 UTF-8 bytes, no NUL). */
  private kvsNamespace(field: Field | undefined): string | undefined {
    const name = this.read.string(field, {})
    if (name === undefined || field === undefined) return undefined
    const bytes = Buffer.byteLength(name)
    if (name.includes('\0') || /[\uD800-\uDFFF]/u.test(name) || bytes > 255) {
      this.problems.add(
        'DORA_SPEC_INVALID_VALUE',
        field.value,
        {},
        `\`kvs_namespace\` must be at most 255 UTF-8 bytes of well-formed text without NUL characters, got ${bytes} bytes`,
        'choose a short name, e.g. the dataflow name',
      )
      return undefined
    }
    return name
  }

  root(): DraftDataflow | undefined {
    const contents = this.read.deref(this.doc.contents)
    if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === undefined))) {
      this.problems.add(
        'DORA_SPEC_MISSING_KEY',
        contents,
        {},
        'the dataflow is empty',
        'a dataflow needs a `nodes:` list, e.g.\nnodes:\n  - id: my-node\n    path: ./my-node.ts',
      )
      return undefined
    }
    const map = this.read.asMap(contents, null, {}, 'the dataflow')
    if (map === undefined) return undefined
    const f = this.read.fields(map, ROOT_KEYS, 'dataflow', {}).fields
    const draft: DraftDataflow = {
      name: this.dataflowName(f.name),
      env: this.read.env(f.env, {}),
      ...this.exitWhenNodesFinish(f.exit_when_nodes_finish),
      healthCheckInterval: this.read.duration(f.health_check_interval, {}, true),
      stateDir: this.read.string(f.state_dir, {}),
      durability: this.read.oneOf(f.durability, {}, DURABILITIES),
      kvsNamespace: this.kvsNamespace(f.kvs_namespace),
      stateMapSize: this.read.byteSize(f.state_map_size, {}),
      kvsMapSize: this.read.byteSize(f.kvs_map_size, {}),
      maxMessageSize: this.read.byteSize(f.max_message_size, {}),
      directLinks: this.read.boolean(f._unstable_direct_links, {}),
      nodes: [],
    }
    if (f.nodes === undefined) {
      this.problems.add(
        'DORA_SPEC_MISSING_KEY',
        map,
        {},
        'the dataflow has no `nodes:` list',
        'add `nodes:` with at least one node (an `id` and a `path`, `operator` or `operators`)',
      )
      return undefined
    }
    const seq = this.read.list(f.nodes, {}, 'a list of nodes')
    if (seq === undefined) return undefined
    if (seq.items.length === 0) {
      this.problems.add('DORA_SPEC_INVALID_VALUE', f.nodes.value ?? f.nodes.key, {}, '`nodes` is empty', 'list at least one node')
      return undefined
    }
    const firstById = new Map<string, SourcePosition>()
    for (const item of seq.items) {
      const node = this.node(this.read.deref(item), item as Node)
      if (node === undefined) continue
      draft.nodes.push(node)
      if (node.id === undefined) continue
      const first = firstById.get(node.id)
      if (first !== undefined) {
        // Point at the second id; the node keeps its draft so its own problems still show.
        this.problems.add(
          'DORA_SPEC_DUPLICATE_ID',
          node.idAt,
          { nodeId: node.id },
          `node id "${node.id}" is already used by the node on line ${first.line}`,
          'give every node a unique id',
        )
      } else {
        firstById.set(node.id, node.idAt ?? node.position)
      }
    }
    return draft
  }

  /** dora's bool form (`true`: every custom node) or our list of node ids. */
  private exitWhenNodesFinish(field: Field | undefined): Pick<DraftDataflow, 'exitWhenNodesFinish' | 'exitWhenAllNodesFinish'> {
    const v = field?.value
    if (isScalar(v) && typeof v.value === 'boolean') return { exitWhenNodesFinish: [], exitWhenAllNodesFinish: v.value }
    return { exitWhenNodesFinish: this.nodeIdList(field) }
  }

  private nodeIdList(field: Field | undefined): At<string>[] {
    const seq = this.read.list(field, {}, 'a list of node ids')
    if (seq === undefined) return []
    const ids: At<string>[] = []
    for (const item of seq.items) {
      const node = this.read.deref(item)
      const s = this.read.scalarString(node)
      if (s === undefined || s.value === '') {
        this.problems.add(
          'DORA_SPEC_INVALID_VALUE',
          this.read.valueOrKey(node, field?.key ?? null),
          {},
          `\`exit_when_nodes_finish\` entries must be node ids, got ${this.read.describe(node)}`,
        )
        continue
      }
      ids.push({ value: s.value, at: this.pos(s) })
    }
    return ids
  }

  private node(value: Node | null, item: Node): DraftNode | undefined {
    const map = this.read.asMap(value, item, {}, 'each entry of `nodes`')
    if (map === undefined) return undefined
    const position = this.pos(map)
    // Every problem of the node names it, also those found before its `id` key is checked.
    const scope: Scope = { nodeId: this.peekId(map) }
    const { fields: f, rejected } = this.read.fields(map, NODE_KEYS, 'node', scope)
    const idField = f.id
    const id = this.id(idField, map, scope, 'node')
    const draft: DraftNode = {
      id: id?.value,
      idAt: id?.at,
      name: this.read.string(f.name, scope, true),
      description: this.read.string(f.description, scope, true),
      build: this.read.string(f.build, scope),
      env: this.read.env(f.env, scope),
      restart: this.restart(f, scope),
      body: undefined,
      position,
    }
    const kinds = (['path', 'operator', 'operators'] as const).filter((k) => f[k] !== undefined)
    if (kinds.length === 0) {
      // A rejected key (`pth:`, dora's old `custom:`) already explains what is missing.
      if (rejected.length > 0) return draft
      this.problems.add(
        'DORA_SPEC_MISSING_KEY',
        idField?.key ?? map,
        scope,
        'the node has none of `path`, `operator` or `operators`',
        'add `path:` for a custom node (an executable or script), `operator:` for one TypeScript/JavaScript operator, or `operators:` for several',
      )
      return draft
    }
    if (kinds.length > 1) {
      const second = f[kinds[1] as (typeof kinds)[number]] as Field
      const code = kinds[0] === 'path' ? 'DORA_SPEC_PATH_AND_OPERATOR' : 'DORA_SPEC_CONFLICTING_KEYS'
      this.problems.add(
        code,
        second.key,
        scope,
        `the node has both \`${kinds[0]}\` and \`${kinds[1]}\``,
        kinds[0] === 'path'
          ? 'a node is either a custom node (`path:`) or an operator node (`operator:`/`operators:`); split it into two nodes'
          : 'use `operator:` for one operator or `operators:` for a list, not both',
      )
      return draft
    }
    draft.body = kinds[0] === 'path' ? this.customBody(f, scope, rejected) : this.operatorsBody(f, scope, id?.value)
    return draft
  }

  /** The node's id if it is a string, without checking anything. */
  private peekId(map: YAMLMap): string | undefined {
    for (const pair of map.items) {
      const key = this.read.deref(pair.key)
      if (isScalar(key) && key.value === 'id') return this.read.scalarString(this.read.deref(pair.value))?.value
    }
    return undefined
  }

  private id(field: Field | undefined, map: YAMLMap, scope: Scope, what: 'node' | 'operator'): At<string> | undefined {
    if (field === undefined) {
      this.problems.add(
        'DORA_SPEC_MISSING_KEY',
        map,
        scope,
        `the ${what} has no \`id\``,
        `add \`id:\` with a unique ${what} id (letters, digits, "_", "." and "-")`,
      )
      return undefined
    }
    const s = this.read.scalarString(field.value)
    if (s === undefined) {
      this.read.wrongType(field, scope, 'a string')
      return undefined
    }
    const problem = nodeIdProblem(s.value)
    const at = this.pos(s)
    if (problem !== undefined) {
      this.problems.add(
        'DORA_SPEC_INVALID_ID',
        s,
        scope,
        `${what} id "${s.value}" ${problem}`,
        'ids may contain letters, digits, "_", "." and "-", must not start with "." and must not be "dora"',
      )
    }
    return { value: s.value, at }
  }

  private restart(f: RestartFields, scope: Scope): DraftRestart {
    const delay = this.read.duration(f.max_restart_delay, scope, false)
    return {
      policy: this.read.oneOf(f.restart_policy, scope, RESTART_POLICIES),
      maxRestarts: this.read.integer(f.max_restarts, scope, 0),
      restartDelay: this.read.duration(f.restart_delay, scope, false),
      maxRestartDelay: delay === undefined || f.max_restart_delay === undefined ? undefined : { value: delay, at: this.pos(f.max_restart_delay.value) },
      restartWindow: this.read.duration(f.restart_window, scope, true),
      healthCheckTimeout: this.read.duration(f.health_check_timeout, scope, true),
    }
  }

  private customBody(f: Fields<typeof NODE_KEYS>, scope: Scope, rejected: string[]): DraftCustomBody {
    const path = this.read.string(f.path, scope)
    let args: string[] = []
    const argText = this.read.string(f.args, scope, true)
    if (argText !== undefined && f.args !== undefined) {
      const split = splitShellWords(argText)
      if (split.ok) args = split.words
      else
        this.problems.add(
          'DORA_SPEC_INVALID_VALUE',
          f.args.value,
          scope,
          `\`args\` cannot be split into words: ${split.message}`,
          'close the quote, or escape it with a backslash',
        )
    }
    const maxMemoryMb = this.read.integer(f.max_memory_mb, scope, 1)
    const tooLittle = maxMemoryMb === undefined || path === undefined ? undefined : memoryFloorNote(runtimeOf(path), maxMemoryMb)
    if (tooLittle !== undefined && f.max_memory_mb !== undefined) this.problems.note(f.max_memory_mb.value, scope, tooLittle)
    return {
      kind: 'custom',
      path: path === undefined || f.path === undefined ? undefined : { value: path, at: this.pos(f.path.value) },
      args,
      connectTimeout: this.read.duration(f.connect_timeout, scope, true),
      oomScoreAdj: this.read.integer(f.oom_score_adj, scope, -1000, 1000),
      maxMemoryMb,
      inputs: validateInputs(this, f.inputs, scope),
      outputs: validateOutputs(this, f.outputs, scope, rejected),
    }
  }

  private operatorsBody(f: Fields<typeof NODE_KEYS>, scope: Scope, nodeId: string | undefined): DraftOperatorsBody {
    for (const [key, says, hint] of CUSTOM_NODE_KEYS) {
      const field = f[key]
      if (field !== undefined) this.problems.add('DORA_SPEC_CONFLICTING_KEYS', field.key, scope, says, hint)
    }
    for (const key of ['args', 'inputs', 'outputs'] as const) {
      const field = f[key]
      if (field !== undefined) {
        this.problems.add('DORA_SPEC_CONFLICTING_KEYS', field.key, scope, `\`${key}\` is for custom nodes (\`path:\`)`, `move \`${key}:\` inside the operator`)
      }
    }
    if (f.operator !== undefined) {
      const op = this.operator(f.operator.value, f.operator.key, scope, nodeId ?? '', true)
      return { kind: 'operators', single: true, operators: op === undefined ? [] : [op] }
    }
    const operators: DraftOperator[] = []
    const seq = this.read.list(f.operators, scope, 'a list of operators')
    if (seq === undefined) return { kind: 'operators', single: false, operators }
    if (seq.items.length === 0) {
      this.problems.add('DORA_SPEC_INVALID_VALUE', seq, scope, '`operators` is empty', 'list at least one operator, or use `operator:` for a single one')
    }
    const firstById = new Map<string, SourcePosition>()
    for (const item of seq.items) {
      const op = this.operator(this.read.deref(item), item as Node, scope, '', false)
      if (op === undefined || op.id === '') continue
      operators.push(op)
      const first = firstById.get(op.id)
      if (first !== undefined) {
        this.problems.add(
          'DORA_SPEC_DUPLICATE_ID',
          op.idAt,
          { ...scope, operatorId: op.id },
          `operator id "${op.id}" is already used in this node on line ${first.line}`,
          'give every operator of a node a unique id',
        )
      } else {
        firstById.set(op.id, op.idAt ?? op.position)
      }
    }
    return { kind: 'operators', single: false, operators }
  }

  private operator(value: Node | null, where: Node, nodeScope: Scope, singleId: string, single: boolean): DraftOperator | undefined {
    const map = this.read.asMap(value, where, nodeScope, single ? '`operator`' : 'each entry of `operators`')
    if (map === undefined) return undefined
    const peeked = single ? undefined : this.peekId(map)
    const { fields: f, rejected } = this.read.fields(map, OPERATOR_KEYS, 'operator', { ...nodeScope, operatorId: peeked })
    let id: At<string> | undefined
    if (single) {
      // dora allows an id here; the operator still takes the node's id. Check it is sane.
      const s = f.id === undefined ? undefined : this.read.scalarString(f.id.value)
      if (f.id !== undefined && s === undefined) this.read.wrongType(f.id, nodeScope, 'a string')
    } else {
      id = this.id(f.id, map, { ...nodeScope, operatorId: peeked }, 'operator')
    }
    const opId = single ? singleId : (id?.value ?? '')
    const scope: Scope = single ? nodeScope : { ...nodeScope, operatorId: id?.value }
    this.read.string(f.name, scope, true)
    this.read.string(f.description, scope, true)
    let module: At<string> | undefined
    let language: 'typescript' | 'javascript' | undefined
    if (f.typescript !== undefined && f.javascript !== undefined) {
      this.problems.add(
        'DORA_SPEC_CONFLICTING_KEYS',
        f.javascript.key,
        scope,
        'the operator has both `typescript` and `javascript`',
        'an operator is one module: keep one of them',
      )
    } else if (f.typescript === undefined && f.javascript === undefined) {
      // A rejected key (python:, shared-library:, a typo) already explains what is missing.
      if (rejected.length === 0) {
        this.problems.add(
          'DORA_SPEC_MISSING_KEY',
          map,
          scope,
          'the operator has no `typescript` or `javascript` module',
          'add `typescript: ./my-operator.ts` (or `javascript: ./my-operator.js`)',
        )
      }
    } else {
      const field = (f.typescript ?? f.javascript) as Field
      language = f.typescript !== undefined ? 'typescript' : 'javascript'
      const path = this.read.string(field, scope)
      if (path !== undefined) {
        const re = language === 'typescript' ? /\.[cm]?ts$/i : /\.[cm]?js$/i
        if (!re.test(path)) {
          this.problems.add(
            'DORA_SPEC_INVALID_VALUE',
            field.value,
            scope,
            `\`${language}\` module "${path}" must end in ${language === 'typescript' ? '.ts, .mts or .cts' : '.js, .mjs or .cjs'}`,
            language === 'typescript' ? 'use `javascript:` for a JavaScript module' : 'use `typescript:` for a TypeScript module',
          )
        } else {
          module = { value: path, at: this.pos(field.value) }
        }
      }
    }
    return {
      id: opId,
      idAt: id?.at,
      module,
      language,
      inputs: validateInputs(this, f.inputs, scope),
      outputs: validateOutputs(this, f.outputs, scope, rejected),
      timeout: this.read.duration(f.timeout, scope, true),
      maxRedeliveries: this.read.integer(f.max_redeliveries, scope, 1),
      maxMemoryMb: this.read.integer(f.max_memory_mb, scope, 1),
      durability: this.read.oneOf(f.durability, scope, DURABILITIES),
      restart: this.restart(f, scope),
      position: this.pos(map),
    }
  }
}
