/**
 * The drawable graph of a dataflow, shared by `dora-ts graph`'s HTML and Mermaid outputs:
 * boxes (timers, custom nodes, operator nodes with their operators inside) and one edge per
 * input, labelled `output -> input` plus its queue settings when they are not the defaults.
 */
import { basename, isAbsolute, relative, sep } from 'node:path'
import type { DataflowSpec, InputSpec } from '../../../src/spec/types.js'
import { DEFAULT_QUEUE_SIZE } from '../../../src/spec/validate.js'
import { outputKey } from '../../supervisor/routing.js'
import { isOperatorLink } from '../../operator/operator-links.js'
import { breakCycles } from './cycles.js'

/** Something edges attach to: a timer, a custom node or one operator. */
export interface GraphUnit {
  /** `timer:<name>`, `node` (custom node) or `node/operator`. */
  key: string
  kind: 'timer' | 'custom' | 'operator'
  /** How users name it: the node id (custom node, single operator), `node/operator`, or the timer. */
  name: string
  /** Shown in bold: the node or operator id, or the timer's name. */
  title: string
  /** Second line: what it is and which file runs it. */
  subtitle: string
  /** Input ids, in YAML order. */
  inputs: string[]
  /** Output ids, in YAML order (plus `_errors` when something reads it; a timer's name for a timer). */
  outputs: string[]
  /** Longer description for a tooltip. */
  tooltip: string
}

/** A box of the drawing: one unit, or an operator node holding several operators. */
export interface GraphBox {
  /** `timer:<name>` or the node id. */
  key: string
  kind: 'timer' | 'custom' | 'operator' | 'operators'
  title: string
  subtitle: string
  tooltip: string
  units: GraphUnit[]
}

/** One connection: an output (or timer) feeding one input. */
export interface GraphEdge {
  from: { unit: string; output: string }
  to: { unit: string; input: string }
  /** `output -> input`, or the input id alone for a timer. */
  label: string
  /** Non-default queue settings, e.g. `queue 4, backpressure`; empty when all are defaults. */
  detail: string
  /** True when this edge closes a cycle (see {@link breakCycles}): drawn dashed, against the flow. */
  back: boolean
}

export interface DataflowGraph {
  name: string
  file: string
  boxes: GraphBox[]
  edges: GraphEdge[]
}

/** The key of a timer's unit and box. */
export function timerKey(name: string): string {
  return `timer:${name}`
}

/** Build the drawable graph of a (validated) dataflow. */
export function buildGraph(spec: DataflowSpec): DataflowGraph {
  const timers = new Map<string, GraphBox>()
  const boxes: GraphBox[] = []
  const edges: GraphEdge[] = []
  // output key as inputs name it (`node/output`, `node/op/output`) -> producing unit and output id
  const producers = new Map<string, { unit: string; output: string }>()
  const units = new Map<string, GraphUnit>()
  const where = (file: string): string => displayPath(spec.baseDir, file)

  for (const node of spec.nodes) {
    if (node.kind === 'custom') {
      const unit: GraphUnit = {
        key: node.id,
        kind: 'custom',
        name: node.id,
        title: node.id,
        subtitle: `custom node: ${where(node.path)}`,
        inputs: node.inputs.map((i) => i.id),
        outputs: [...node.outputs],
        tooltip: describe(node.id, node.description ?? node.name, `custom node ${node.path}${node.args.length > 0 ? ` ${node.args.join(' ')}` : ''}`),
      }
      units.set(unit.key, unit)
      for (const output of node.outputs) producers.set(outputKey(node.id, undefined, output), { unit: unit.key, output })
      boxes.push({ key: node.id, kind: 'custom', title: unit.title, subtitle: unit.subtitle, tooltip: unit.tooltip, units: [unit] })
      continue
    }
    const opUnits = node.operators.map((op): GraphUnit => {
      const key = `${node.id}/${op.id}`
      const unit: GraphUnit = {
        key,
        kind: 'operator',
        name: node.single ? node.id : key,
        title: op.id,
        subtitle: `operator: ${where(op.module)}`,
        inputs: op.inputs.map((i) => i.id),
        outputs: [...op.outputs],
        tooltip: describe(node.single ? node.id : key, node.single ? (node.description ?? node.name) : undefined, `${op.language} operator ${op.module}`),
      }
      units.set(key, unit)
      for (const output of op.outputs) producers.set(outputKey(node.id, node.single ? undefined : op.id, output), { unit: key, output })
      producers.set(outputKey(node.id, node.single ? undefined : op.id, '_errors'), { unit: key, output: '_errors' })
      return unit
    })
    if (node.single) {
      const unit = opUnits[0]!
      boxes.push({ key: node.id, kind: 'operator', title: unit.title, subtitle: unit.subtitle, tooltip: unit.tooltip, units: [unit] })
    } else {
      const n = node.operators.length
      boxes.push({
        key: node.id,
        kind: 'operators',
        title: node.id,
        subtitle: `operator node: ${n} operator${n === 1 ? '' : 's'}`,
        tooltip: describe(node.id, node.description ?? node.name, `operator node with ${n} operator${n === 1 ? '' : 's'}`),
        units: opUnits,
      })
    }
  }

  const addEdges = (receiver: string, inputs: InputSpec[], operator = false): void => {
    for (const input of inputs) {
      const detail = inputDetail(input, operator && isOperatorLink(spec, input))
      if (input.source.kind === 'timer') {
        const name = input.source.name
        const key = timerKey(name)
        if (!timers.has(key)) {
          const unit: GraphUnit = {
            key,
            kind: 'timer',
            name,
            title: name,
            subtitle: `timer source: ${formatInterval(input.source.intervalNs)}`,
            inputs: [],
            outputs: [name],
            tooltip: `${name}: ticks ${formatInterval(input.source.intervalNs)}`,
          }
          units.set(key, unit)
          timers.set(key, { key, kind: 'timer', title: unit.title, subtitle: unit.subtitle, tooltip: unit.tooltip, units: [unit] })
        }
        edges.push({ from: { unit: key, output: name }, to: { unit: receiver, input: input.id }, label: input.id, detail, back: false })
        continue
      }
      const source = outputKey(input.source.node, input.source.operator, input.source.output)
      const producer = producers.get(source)
      // The spec is validated, so every source exists; keep going rather than crash on a bug.
      if (producer === undefined) continue
      const unit = units.get(producer.unit)
      if (unit !== undefined && !unit.outputs.includes(producer.output)) unit.outputs.push(producer.output)
      edges.push({ from: producer, to: { unit: receiver, input: input.id }, label: `${producer.output} -> ${input.id}`, detail, back: false })
    }
  }
  for (const node of spec.nodes) {
    if (node.kind === 'custom') addEdges(node.id, node.inputs)
    else for (const op of node.operators) addEdges(`${node.id}/${op.id}`, op.inputs, true)
  }
  const allBoxes = [...timers.values(), ...boxes]
  const { back } = breakCycles(
    allBoxes.flatMap((b) => b.units.map((u) => u.key)),
    edges.map((e) => ({ from: e.from.unit, to: e.to.unit })),
  )
  edges.forEach((e, i) => (e.back = back[i]!))
  return { name: spec.name, file: spec.file, boxes: allBoxes, edges }
}

/**
 * Queue settings of `input` that differ from the defaults, e.g. `queue 4, backpressure` or
 * `best effort, queue 1`; `linked`: it is a direct link between operators (operator-links.ts).
 */
export function inputDetail(input: InputSpec, linked = false): string {
  const parts: string[] = []
  // First: it changes what the edge is (a direct link between two nodes, no replay).
  if (linked) parts.push('direct link, best effort')
  else if (input.reliability === 'best_effort') parts.push('best effort')
  if (input.queueSize !== DEFAULT_QUEUE_SIZE) parts.push(`queue ${input.queueSize}`)
  if (input.queuePolicy !== 'drop_oldest') parts.push(input.queuePolicy)
  if (input.inputTimeout !== undefined) parts.push(`timeout ${input.inputTimeout} s`)
  return parts.join(', ')
}

/** `every 500 ms`, `every 2 s`, `every 33.333 ms`. */
export function formatInterval(ns: bigint): string {
  const units: [bigint, string][] = [
    [1_000_000_000n, 's'],
    [1_000_000n, 'ms'],
    [1_000n, 'us'],
  ]
  for (const [size, unit] of units) {
    if (ns >= size) {
      const whole = ns / size
      const rest = ns % size
      const text = rest === 0n ? `${whole}` : `${Number((Number(ns) / Number(size)).toFixed(3))}`
      return `every ${text} ${unit}`
    }
  }
  return `every ${ns} ns`
}

function displayPath(baseDir: string, file: string): string {
  const rel = relative(baseDir, file)
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return basename(file)
  return rel.split(sep).join('/')
}

function describe(id: string, description: string | undefined, what: string): string {
  return description === undefined ? `${id}: ${what}` : `${id}: ${description} (${what})`
}
