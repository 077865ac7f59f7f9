/**
 * The data sections of a node or operator in a dataflow YAML: its `outputs` list and its
 * `inputs` mapping (short and long forms, queue settings). Apart from validate.ts because they
 * are the same for custom nodes and operators, and checked with the same context.
 *
 * @module
 */

import { isMap, isScalar, type Node } from 'yaml'
import type { DraftInput } from './draft.js'
import { dataIdProblem } from './ids.js'
import { INPUT_KEYS } from './keys.js'
import type { Problems, Scope } from './problems.js'
import type { Field, Reader } from './reader.js'
import type { QueuePolicy, Reliability, SourcePosition } from './types.js'

const QUEUE_POLICIES: readonly QueuePolicy[] = ['drop_oldest', 'backpressure']
const RELIABILITIES: readonly Reliability[] = ['reliable', 'best_effort']

/** Default queue size of an input. */
export const DEFAULT_QUEUE_SIZE = 10

/** What the checks of one document share: its reader, its problem list and its positions. */
export interface ValidateContext {
  read: Reader
  problems: Problems
  pos: (where: Node | null) => SourcePosition
}

/** The `outputs` list of a node or operator; undefined when it is unknown or unreliable. */
export function validateOutputs(c: ValidateContext, field: Field | undefined, scope: Scope, rejected: string[]): string[] | undefined {
  // No `outputs` but a rejected key (maybe `ouputs:`): the outputs are unknown, so sources
  // reading from this node are not checked against them.
  if (field === undefined) return rejected.length > 0 ? undefined : []
  // `outputs:` with nothing after it is an empty list, as `inputs:` is an empty mapping.
  if (isScalar(field.value) && (field.value.value === null || field.value.value === undefined)) return []
  const seq = c.read.list(field, scope, 'a list of output ids')
  if (seq === undefined) return undefined
  const outputs: string[] = []
  const first = new Map<string, Node>()
  let valid = true
  for (const item of seq.items) {
    const node = c.read.deref(item)
    const s = c.read.scalarString(node)
    if (s === undefined) {
      c.problems.add('DORA_SPEC_INVALID_VALUE', c.read.valueOrKey(node, field.key), scope, `\`outputs\` entries must be strings, got ${c.read.describe(node)}`)
      valid = false
      continue
    }
    const problem = dataIdProblem(s.value)
    if (problem !== undefined) {
      c.problems.add('DORA_SPEC_INVALID_ID', s, scope, `output id "${s.value}" ${problem}`)
      valid = false
      continue
    }
    const previous = first.get(s.value)
    if (previous !== undefined) {
      c.problems.add(
        'DORA_SPEC_DUPLICATE_ID',
        s,
        scope,
        `output "${s.value}" is listed twice (first on line ${c.pos(previous).line})`,
        'remove the repeated output',
      )
      continue
    }
    first.set(s.value, s)
    outputs.push(s.value)
  }
  // Invalid entries make the list unreliable for checking the sources that read from it.
  return valid ? outputs : undefined
}

/** The `inputs` mapping of a node or operator: the entries that are usable. */
export function validateInputs(c: ValidateContext, field: Field | undefined, scope: Scope): DraftInput[] {
  if (field === undefined) return []
  const v = field.value
  // `inputs:` with nothing after it is an empty mapping in practice.
  if (isScalar(v) && (v.value === null || v.value === undefined)) return []
  if (!isMap(v)) {
    c.read.wrongType(field, scope, 'a mapping of input ids to sources')
    return []
  }
  const inputs: DraftInput[] = []
  const first = new Map<string, Node>()
  for (const pair of v.items) {
    const key = c.read.deref(pair.key)
    if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) {
      c.problems.add('DORA_SPEC_INVALID_VALUE', key ?? pair, scope, `input ids must be strings, got ${c.read.describe(key)}`)
      continue
    }
    const id = String(key.value)
    const problem = dataIdProblem(id)
    if (problem !== undefined) {
      c.problems.add('DORA_SPEC_INVALID_ID', key, scope, `input id "${id}" ${problem}`)
      continue
    }
    const previous = first.get(id)
    if (previous !== undefined) {
      c.problems.add(
        'DORA_SPEC_DUPLICATE_ID',
        key,
        scope,
        `input "${id}" is defined twice (first on line ${c.pos(previous).line})`,
        'give every input a unique id',
      )
      continue
    }
    first.set(id, key)
    const input = validateInput(c, id, key, c.read.deref(pair.value), scope)
    if (input !== undefined) inputs.push(input)
  }
  return inputs
}

function validateInput(c: ValidateContext, id: string, key: Node, value: Node | null, scope: Scope): DraftInput | undefined {
  const position = c.pos(key)
  const short = c.read.scalarString(value)
  if (short !== undefined) {
    return {
      id,
      source: { value: short.value, at: c.pos(short) },
      queueSize: DEFAULT_QUEUE_SIZE,
      queuePolicy: 'drop_oldest',
      reliability: 'reliable',
      position,
    }
  }
  if (!isMap(value)) {
    c.problems.add(
      'DORA_SPEC_INVALID_VALUE',
      c.read.valueOrKey(value, key),
      scope,
      `input "${id}" must be a source string or a mapping with \`source\`, got ${c.read.describe(value)}`,
      'write e.g. `tick: dora/timer/millis/100` or `scan: { source: lidar/scan, queue_size: 4 }`',
    )
    return undefined
  }
  const f = c.read.fields(value, INPUT_KEYS, 'input', scope).fields
  let queueSize = c.read.integer(f.queue_size, scope, 0)
  if (queueSize === 0) {
    // dora clamps 0 to 1 (a queue must hold the message being delivered); say so rather than refuse.
    queueSize = 1
    c.problems.note(f.queue_size?.value ?? value, scope, `input "${id}" has queue_size 0, read as 1 (dora does the same)`)
  }
  const queuePolicy = c.read.oneOf(f.queue_policy, scope, QUEUE_POLICIES)
  const inputTimeout = c.read.duration(f.input_timeout, scope, true)
  const reliability = c.read.oneOf(f.reliability, scope, RELIABILITIES)
  const bestEffort = reliability === 'best_effort' && f.reliability !== undefined
  if (bestEffort && queuePolicy === 'backpressure') {
    // Best effort never makes a sender wait: it drops. Asking for both is a contradiction.
    c.problems.add(
      'DORA_SPEC_CONFLICTING_KEYS',
      f.reliability!.value ?? value,
      scope,
      `input "${id}" is \`reliability: best_effort\`, which drops the oldest message when the queue is full, and also \`queue_policy: backpressure\`, which makes the sender wait`,
      'remove `queue_policy: backpressure` to keep the newest messages without slowing the sender, or remove `reliability: best_effort` to lose nothing',
    )
  }
  if (bestEffort && f.input_timeout !== undefined) {
    // A custom node's best-effort messages never reach the supervisor, so it cannot time them;
    // one rule for both kinds of best-effort link keeps the YAML portable between them.
    c.problems.add(
      'DORA_SPEC_CONFLICTING_KEYS',
      f.input_timeout.key,
      scope,
      `input "${id}" is \`reliability: best_effort\`, and the supervisor does not time best-effort inputs (between custom nodes it never sees their messages), so \`input_timeout\` cannot be used on it`,
      'remove `input_timeout:` (time the input in the node itself), or remove `reliability: best_effort`',
    )
  }
  if (f.source === undefined) {
    c.problems.add('DORA_SPEC_MISSING_KEY', value, scope, `input "${id}" has no \`source\``, 'add `source: node/output` (or a dora/timer/... source)')
    return undefined
  }
  const source = c.read.string(f.source, scope)
  if (source === undefined) return undefined
  return {
    id,
    source: { value: source, at: c.pos(f.source.value) },
    queueSize: queueSize ?? DEFAULT_QUEUE_SIZE,
    queuePolicy: queuePolicy ?? 'drop_oldest',
    inputTimeout,
    reliability: reliability ?? 'reliable',
    ...(bestEffort ? { bestEffortAt: c.pos(f.reliability!.value ?? f.reliability!.key) } : {}),
    position,
  }
}
