/**
 * The routing table of a dataflow, computed once from its spec: which receiver input each
 * output (or timer) feeds. Receivers are keyed `node` for custom nodes and `node/operator` for
 * operators; outputs are keyed as YAML inputs name them (`node/output` or `node/op/output`).
 */
import { POISON_OUTPUT } from '../../src/spec/resolve.js'
import type { CustomNodeSpec, DataflowSpec, InputSpec, OperatorNodeSpec, OperatorSpec } from '../../src/spec/types.js'
import { isDirectInput } from './direct-links.js'
import { isOperatorLink } from '../operator/operator-links.js'

export interface Destination {
  receiver: string
  inputId: string
  /**
   * A direct input (best effort, or a link log): its sender sends it each message itself
   * (direct-links.ts; between operators operator-links.ts), so the supervisor routes nothing
   * to it; it is listed for InputClosed, Stop and node events.
   */
  direct?: true | undefined
  /**
   * A best-effort input of an operator from an operator: the supervisor routes it, but no copy
   * goes into the outbox (run-outbox.ts), so nothing replays it after a kill, and a crash of the
   * receiver loses it when its bytes had moved into the worker (host.ts #crash).
   */
  bestEffort?: true | undefined
}

export interface TimerRoute {
  name: string
  intervalNs: bigint
  destinations: Destination[]
}

/** One thing that sends: a custom node or an operator, with the keys of its outputs. */
export interface Producer {
  /** Receiver key of the same unit (`node` or `node/operator`). */
  key: string
  /** output id -> output key as inputs name it. */
  outputKeys: Map<string, string>
}

export interface RoutingTable {
  /** output key -> destinations. */
  outputs: Map<string, Destination[]>
  timers: TimerRoute[]
  /** receiver key -> its inputs. */
  inputs: Map<string, InputSpec[]>
  /** receiver key -> producer info. */
  producers: Map<string, Producer>
}

export function operatorKey(node: OperatorNodeSpec, op: OperatorSpec): string {
  return `${node.id}/${op.id}`
}

/** The name of a receiver in logs: `node` for custom nodes and single operators. */
export function displayName(node: OperatorNodeSpec | { id: string; kind: 'custom' }, op?: OperatorSpec): string {
  if (node.kind === 'custom' || op === undefined || node.single) return node.id
  return `${node.id}/${op.id}`
}

export function outputKey(nodeId: string, operatorId: string | undefined, output: string): string {
  return operatorId === undefined ? `${nodeId}/${output}` : `${nodeId}/${operatorId}/${output}`
}

/** The receiver inputs `producer`'s output `outputId` feeds, of every kind (none when it is unknown). */
export function destinationsOf(routing: RoutingTable, producer: string, outputId: string): readonly Destination[] {
  const key = routing.producers.get(producer)?.outputKeys.get(outputId)
  return key === undefined ? [] : (routing.outputs.get(key) ?? [])
}

export function buildRoutingTable(spec: DataflowSpec): RoutingTable {
  const outputs = new Map<string, Destination[]>()
  const timers = new Map<string, TimerRoute>()
  const inputs = new Map<string, InputSpec[]>()
  const producers = new Map<string, Producer>()

  // `custom`: the receiver is that custom node (absent: an operator).
  const addInputs = (receiver: string, list: InputSpec[], custom?: CustomNodeSpec): void => {
    inputs.set(receiver, list)
    for (const input of list) {
      const destination: Destination = { receiver, inputId: input.id }
      if (custom !== undefined && isDirectInput(spec, custom, input)) destination.direct = true
      else if (custom === undefined && input.reliability === 'best_effort') {
        destination.bestEffort = true
        // Its sender's worker posts it to this operator's worker itself (operator-links.ts).
        if (isOperatorLink(spec, input)) destination.direct = true
      }
      if (input.source.kind === 'timer') {
        const route = timers.get(input.source.name) ?? { name: input.source.name, intervalNs: input.source.intervalNs, destinations: [] }
        route.destinations.push(destination)
        timers.set(input.source.name, route)
      } else {
        const key = outputKey(input.source.node, input.source.operator, input.source.output)
        const list = outputs.get(key) ?? []
        list.push(destination)
        outputs.set(key, list)
      }
    }
  }

  for (const node of spec.nodes) {
    if (node.kind === 'custom') {
      addInputs(node.id, node.inputs, node)
      producers.set(node.id, { key: node.id, outputKeys: new Map(node.outputs.map((o) => [o, outputKey(node.id, undefined, o)])) })
      continue
    }
    for (const op of node.operators) {
      const key = operatorKey(node, op)
      addInputs(key, op.inputs)
      const opPart = node.single ? undefined : op.id
      // Every operator also reports poison inputs on its implicit `_errors` output.
      const outputs = [...new Set([...op.outputs, POISON_OUTPUT])]
      producers.set(key, { key, outputKeys: new Map(outputs.map((o) => [o, outputKey(node.id, opPart, o)])) })
    }
  }
  return { outputs, timers: [...timers.values()], inputs, producers }
}
