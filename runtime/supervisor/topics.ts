/**
 * The topics of a dataflow (`dora-ts topic list`): every output of every node and operator,
 * named as inputs name it (`node/output`, `node/operator/output`), with its receivers and the
 * path its messages take, which says whether a tap (output-taps.ts) can see them.
 *
 * @module
 */
import type { DataflowSpec, QueuePolicy, Reliability } from '../../src/spec/types.js'
import type { DirectWiring } from './direct-links.js'
import type { RoutingTable } from './routing.js'
import type { TapSource } from './output-taps.js'

/**
 * How an output's messages travel:
 * - `supervisor`: through the supervisor's routing (operators; custom nodes' outputs with a
 *   receiver on that path, or none);
 * - `link-log`: on reliable direct links only, through the output's link log;
 * - `direct`: straight from sender to receivers with nothing kept (best-effort links between
 *   custom nodes, direct links between operators): no tap sees them.
 */
export type TopicPath = 'supervisor' | 'link-log' | 'direct'

/**
 * How one receiver takes a topic (`dora-ts topic info`): through the supervisor, from the
 * sender's link log, on a best-effort link between custom nodes, or worker to worker on a
 * direct link between operators.
 */
export type ReceiverPath = 'supervisor' | 'link-log' | 'best-effort' | 'operator-link'

/** A receiver of a topic and the input it takes it on, as its YAML set it. */
export interface TopicReceiver {
  /** `name/input`, as {@link TopicInfo.receivers} names it. */
  input: string
  path: ReceiverPath
  queueSize: number
  queuePolicy: QueuePolicy
  reliability: Reliability
  /** Seconds without a message before the input counts as timed out, if set. */
  inputTimeout?: number | undefined
}

export interface TopicInfo {
  topic: string
  /** The node or operator that sends it, as `dora-ts list` names it. */
  sender: string
  /** Its receivers, `name/input`. */
  receivers: string[]
  /** The same receivers, each with its input's settings and the path it takes the topic on. */
  inputs: TopicReceiver[]
  path: TopicPath
  /** Where its link log is (path `link-log`). */
  logDir?: string | undefined
}

/**
 * The topics of `spec` in YAML order. `nameOf`: a receiver's key as `dora-ts list` names it;
 * `wiring`: the run's direct wiring (direct-links.ts), undefined before it started.
 */
export function topicsOf(
  spec: DataflowSpec,
  routing: RoutingTable,
  wiring: ReadonlyMap<string, DirectWiring> | undefined,
  nameOf: (key: string) => string,
): TopicInfo[] {
  const topics: TopicInfo[] = []
  for (const [producerKey, producer] of routing.producers) {
    const custom = spec.nodes.find((n) => n.id === producerKey && n.kind === 'custom') !== undefined
    for (const [outputId, topic] of producer.outputKeys) {
      const destinations = routing.outputs.get(topic) ?? []
      const receivers = destinations.map((d) => `${nameOf(d.receiver)}/${d.inputId}`)
      const inputs = destinations.flatMap((d, i): TopicReceiver[] => {
        const input = routing.inputs.get(d.receiver)?.find((x) => x.id === d.inputId)
        if (input === undefined) return []
        // Direct links join custom nodes to custom nodes, and operators to operators.
        const path: ReceiverPath = d.direct !== true ? 'supervisor' : !custom ? 'operator-link' : input.reliability === 'reliable' ? 'link-log' : 'best-effort'
        const { queueSize, queuePolicy, reliability, inputTimeout } = input
        return [{ input: receivers[i]!, path, queueSize, queuePolicy, reliability, ...(inputTimeout === undefined ? {} : { inputTimeout }) }]
      })
      const info: TopicInfo = { topic, sender: nameOf(producerKey), receivers, inputs, path: 'supervisor' }
      if (custom) {
        const w = wiring?.get(producerKey)
        if (w?.directOnly?.includes(outputId) === true) {
          const logDir = w.directRoutes?.find((r) => r.outputId === outputId && r.logDir !== undefined)?.logDir
          info.path = logDir === undefined ? 'direct' : 'link-log'
          if (logDir !== undefined) info.logDir = logDir
        }
      } else if (destinations.length > 0 && destinations.every((d) => d.direct === true)) {
        info.path = 'direct'
      }
      topics.push(info)
    }
  }
  return topics
}

/** Where a tap reads `info` (undefined for a `direct` topic: nothing passes where it can look). */
export function tapSourceOf(info: TopicInfo): TapSource | undefined {
  if (info.path === 'supervisor') return { topic: info.topic, via: 'supervisor' }
  if (info.path === 'link-log' && info.logDir !== undefined) return { topic: info.topic, via: 'link-log', logDir: info.logDir }
  return undefined
}
