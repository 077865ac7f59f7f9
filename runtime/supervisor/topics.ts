/**
 * The topics of a dataflow (`dora-ts topic list`): every output of every node and operator,
 * named as inputs name it (`node/output`, `node/operator/output`), with its receivers and the
 * path its messages take, which says whether a tap (output-taps.ts) can see them.
 *
 * @module
 */
import type { DataflowSpec } from '../../src/spec/types.js'
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

export interface TopicInfo {
  topic: string
  /** The node or operator that sends it, as `dora-ts list` names it. */
  sender: string
  /** Its receivers, `name/input`. */
  receivers: string[]
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
      const info: TopicInfo = { topic, sender: nameOf(producerKey), receivers, path: 'supervisor' }
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
