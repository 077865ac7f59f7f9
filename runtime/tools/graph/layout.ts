/**
 * Where everything of a {@link DataflowGraph} goes, computed by ELK's layered algorithm (elkjs,
 * the Eclipse Layout Kernel compiled to JavaScript, made for port-based node graphs): boxes left
 * to right, one port per input (west side) and per output (east side), orthogonal edge routes
 * that go around boxes, and edge labels placed by ELK so that none covers a box or another
 * label. Operator nodes with several operators are compound nodes laid out together with the
 * rest (`INCLUDE_CHILDREN`), so an edge into an operator enters its container like any other.
 *
 * The CLI runs this in Node and the page embeds the result: the HTML needs no script to draw.
 * All sizes come from {@link measureUnit}'s text metrics (every text is monospace), so the
 * layout is the same on every machine and every browser.
 */
import type { ELK, ElkExtendedEdge, ElkNode, ElkPort } from 'elkjs/lib/elk-api.js'
import type { DataflowGraph, GraphBox, GraphEdge, GraphUnit } from './model.js'
import { breakCycles } from './cycles.js'

/** Width of one 12px monospace character (DejaVu Sans Mono: 7.22, SF Mono: 7.2), rounded up. */
export const CHAR = 7.3
/** Width of one 13px bold monospace character, rounded up. */
export const TITLE_CHAR = 8
/** Height of a box's title and subtitle lines. */
export const HEADER = 44
/** Height of one port row. */
export const ROW = 22
/** Inner padding of a box. */
export const PAD = 10
/** Padding of an operator node around its operators. */
export const CONTAINER_PAD = 14
/** Height of one line of an edge label. */
export const LABEL_LINE = 14
/** Empty room around the drawing. */
export const MARGIN = 24

export interface Point {
  x: number
  y: number
}

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

/** A port on a box's border: an input on the west side or an output on the east side. */
export interface PlacedPort extends Point {
  id: string
  side: 'in' | 'out'
}

/** A timer, custom node or operator, with its ports. */
export interface PlacedUnit extends Rect {
  unit: GraphUnit
  ports: PlacedPort[]
}

/** An operator node holding several operators (its units are drawn inside it). */
export interface PlacedContainer extends Rect {
  box: GraphBox
}

/** An edge label: the `output -> input` line, and the queue settings when not the defaults. */
export interface PlacedLabel extends Rect {
  lines: string[]
}

export interface PlacedEdge {
  edge: GraphEdge
  /** The route, from the output port to the input port, every segment horizontal or vertical. */
  points: Point[]
  label: PlacedLabel
}

/** The drawing of a dataflow: absolute coordinates, the origin at the top left, y down. */
export interface GraphLayout {
  width: number
  height: number
  containers: PlacedContainer[]
  units: PlacedUnit[]
  /** In the order of the graph's edges. */
  edges: PlacedEdge[]
}

const LAYOUT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.edgeRouting': 'ORTHOGONAL',
  // Lay out operator nodes and their operators in one pass, so edges cross container borders.
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  // Every coordinate relative to the root: no walking up containers to draw.
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
  // Back edges arrive reversed (see layoutGraph), so ELK gets no cycle; the children come in
  // breakCycles' order, which ELK keeps where it costs no crossings.
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.spacing.nodeNode': '28',
  'elk.layered.spacing.nodeNodeBetweenLayers': '48',
  'elk.spacing.edgeNode': '16',
  'elk.layered.spacing.edgeNodeBetweenLayers': '16',
  'elk.spacing.edgeEdge': '10',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '10',
  'elk.spacing.edgeLabel': '4',
  'elk.spacing.labelLabel': '4',
  'elk.padding': `[top=${MARGIN},left=${MARGIN},bottom=${MARGIN},right=${MARGIN}]`,
}

/** A unit's size and where its ports sit, relative to its top left corner. */
export interface UnitSize {
  width: number
  height: number
  /** Port id -> offset from the top (inputs and outputs are separate lists: one id may be both). */
  inputs: Map<string, number>
  outputs: Map<string, number>
}

/** The size of a unit's box: title, subtitle, then one row per port (inputs left, outputs right). */
export function measureUnit(unit: GraphUnit): UnitSize {
  if (unit.kind === 'timer') {
    const width = Math.ceil(Math.max(120, unit.title.length * TITLE_CHAR + 2 * PAD, unit.subtitle.length * CHAR + 2 * PAD))
    const height = HEADER + 8
    return { width, height, inputs: new Map(), outputs: new Map(unit.outputs.map((o) => [o, height / 2])) }
  }
  const rows = Math.max(unit.inputs.length, unit.outputs.length)
  const longestIn = Math.max(0, ...unit.inputs.map((s) => s.length))
  const longestOut = Math.max(0, ...unit.outputs.map((s) => s.length))
  const width = Math.ceil(
    Math.max(120, unit.title.length * TITLE_CHAR + 2 * PAD, unit.subtitle.length * CHAR + 2 * PAD, (longestIn + longestOut) * CHAR + 3 * PAD + 16),
  )
  const rowY = (i: number): number => HEADER + i * ROW + ROW / 2
  return {
    width,
    height: HEADER + rows * ROW + (rows > 0 ? 6 : 0),
    inputs: new Map(unit.inputs.map((id, i) => [id, rowY(i)])),
    outputs: new Map(unit.outputs.map((id, i) => [id, rowY(i)])),
  }
}

/** The lines of an edge's label and the room they take. */
export function measureLabel(edge: GraphEdge): { lines: string[]; width: number; height: number } {
  const lines = edge.detail === '' ? [edge.label] : [edge.label, edge.detail]
  return { lines, width: Math.ceil(Math.max(...lines.map((l) => l.length)) * CHAR + 6), height: lines.length * LABEL_LINE + 2 }
}

/**
 * Lay out `graph` with ELK. Takes tens of milliseconds for a robot's graph (the first call in a
 * process also loads ELK, about half a second).
 *
 * @example
 * const layout = await layoutGraph(buildGraph(spec))
 * for (const u of layout.units) console.log(u.unit.name, u.x, u.y)
 */
export async function layoutGraph(graph: DataflowGraph): Promise<GraphLayout> {
  // ELK ids are positional (u3, u3.i0, c1, e7): node ids can hold any character.
  const units = graph.boxes.flatMap((b) => b.units)
  const unitId = new Map(units.map((u, i) => [u.key, `u${i}`]))
  const sizes = new Map(units.map((u) => [u.key, measureUnit(u)]))
  const inPort = (unit: string, input: string): string => `${unitId.get(unit)}.i${[...sizes.get(unit)!.inputs.keys()].indexOf(input)}`
  const outPort = (unit: string, output: string): string => `${unitId.get(unit)}.o${[...sizes.get(unit)!.outputs.keys()].indexOf(output)}`

  const { order } = breakCycles(
    units.map((u) => u.key),
    graph.edges.map((e) => ({ from: e.from.unit, to: e.to.unit })),
  )
  const rank = new Map(order.map((key, i) => [key, i]))
  const byRank = <T>(list: T[], key: (item: T) => number): T[] => [...list].sort((a, b) => key(a) - key(b))
  const boxRank = (box: GraphBox): number => Math.min(...box.units.map((u) => rank.get(u.key)!))

  const leaf = (unit: GraphUnit): ElkNode => {
    const size = sizes.get(unit.key)!
    const ports: ElkPort[] = [
      ...[...size.inputs].map(([input, y]) => port(inPort(unit.key, input), 'WEST', 0, y)),
      ...[...size.outputs].map(([output, y]) => port(outPort(unit.key, output), 'EAST', size.width, y)),
    ]
    return { id: unitId.get(unit.key)!, width: size.width, height: size.height, ports, layoutOptions: { 'elk.portConstraints': 'FIXED_POS' } }
  }
  const containerId = new Map<string, string>()
  const children = byRank(graph.boxes, boxRank).map((box, i): ElkNode => {
    if (box.kind !== 'operators') return leaf(box.units[0]!)
    const id = `c${i}`
    containerId.set(id, box.key)
    const titleWidth = Math.ceil(Math.max(box.title.length * TITLE_CHAR, box.subtitle.length * CHAR) + 2 * CONTAINER_PAD)
    return {
      id,
      children: byRank(box.units, (u) => rank.get(u.key)!).map(leaf),
      layoutOptions: {
        'elk.padding': `[top=${HEADER + 4},left=${CONTAINER_PAD},bottom=${CONTAINER_PAD},right=${CONTAINER_PAD}]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${titleWidth}, ${HEADER + 20})`,
      },
    }
  })
  const edges: ElkExtendedEdge[] = graph.edges.map((e, i) => {
    const label = measureLabel(e)
    // A back edge goes to ELK reversed, from the input port to the output port: ELK then sees no
    // cycle to break and routes it out of the west side and into the east side, exactly the
    // edges the graph marks (ELK's own cycle breaking does not follow the model order inside
    // operator nodes).
    const source = outPort(e.from.unit, e.from.output)
    const target = inPort(e.to.unit, e.to.input)
    return {
      id: `e${i}`,
      sources: [e.back ? target : source],
      targets: [e.back ? source : target],
      labels: [{ id: `e${i}.label`, text: e.label, width: label.width, height: label.height }],
    }
  })

  const result: ElkNode = await (await elk()).layout({ id: 'root', layoutOptions: LAYOUT_OPTIONS, children, edges })

  const placedUnits = new Map<string, PlacedUnit>()
  const containers: PlacedContainer[] = []
  const boxByKey = new Map(graph.boxes.map((b) => [b.key, b]))
  const unitByElk = new Map(units.map((u) => [unitId.get(u.key)!, u]))
  const place = (node: ElkNode): void => {
    const unit = unitByElk.get(node.id)
    if (unit !== undefined) {
      const size = sizes.get(unit.key)!
      const x = node.x ?? 0
      const y = node.y ?? 0
      const ports: PlacedPort[] = [
        ...[...size.inputs].map(([id, py]): PlacedPort => ({ id, side: 'in', x, y: y + py })),
        ...[...size.outputs].map(([id, py]): PlacedPort => ({ id, side: 'out', x: x + size.width, y: y + py })),
      ]
      placedUnits.set(unit.key, { unit, x, y, width: size.width, height: size.height, ports })
      return
    }
    const box = boxByKey.get(containerId.get(node.id) ?? '')
    if (box !== undefined) containers.push({ box, x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0 })
    for (const child of node.children ?? []) place(child)
  }
  for (const child of result.children ?? []) place(child)

  const laidEdges = new Map<string, ElkExtendedEdge>()
  const collect = (node: ElkNode): void => {
    for (const e of node.edges ?? []) laidEdges.set(e.id, e)
    for (const child of node.children ?? []) collect(child)
  }
  collect(result)
  const placedEdges = graph.edges.map((edge, i): PlacedEdge => {
    const laid = laidEdges.get(`e${i}`)
    const points: Point[] = []
    for (const section of laid?.sections ?? []) {
      for (const p of [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]) {
        const last = points[points.length - 1]
        if (last === undefined || last.x !== p.x || last.y !== p.y) points.push({ x: p.x, y: p.y })
      }
    }
    if (edge.back) points.reverse()
    const measured = measureLabel(edge)
    const l = laid?.labels?.[0]
    return {
      edge,
      points,
      label: { lines: measured.lines, x: l?.x ?? points[0]?.x ?? 0, y: l?.y ?? points[0]?.y ?? 0, width: measured.width, height: measured.height },
    }
  })
  return {
    width: result.width ?? 0,
    height: result.height ?? 0,
    containers,
    units: units.map((u) => placedUnits.get(u.key)!),
    edges: placedEdges,
  }
}

function port(id: string, side: 'WEST' | 'EAST', x: number, y: number): ElkPort {
  // Zero-sized, on the border: routes end exactly where the drawing puts the port's circle.
  return { id, x, y, width: 0, height: 0, layoutOptions: { 'elk.port.side': side } }
}

let instance: Promise<ELK> | undefined

/**
 * One ELK per process, loaded on first use: elk.bundled.js is 1.6 MB of compiled Java that
 * takes about a second to load, which `graph --mermaid` and every other command skip.
 */
function elk(): Promise<ELK> {
  instance ??= import('elkjs/lib/elk.bundled.js').then((module) => {
    // CommonJS whose module.exports is the constructor; its .d.ts declares an ES default
    // export, which TypeScript (nodenext) reads as `module.exports.default`.
    const Elk = module.default as unknown as new () => ELK
    return new Elk()
  })
  return instance
}
