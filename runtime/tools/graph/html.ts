/**
 * `dora-ts graph`'s HTML page: one self-contained file (inline SVG and CSS, no script, nothing
 * fetched from the network) drawing a {@link DataflowGraph} left to right, with a table of the
 * connections under it. Well-formed: every element is closed, void ones self-closed.
 */
import type { DataflowGraph, GraphBox, GraphEdge, GraphUnit } from './model.js'
import { layoutGraph, type EdgeRoute, type Layout, type LayoutEdge } from './layout.js'

// Text metrics: everything is drawn in a monospace font so widths can be computed.
const CHAR = 7.3 // width of one 12px monospace character, rounded up
const TITLE_CHAR = 8 // 13px bold
const HEADER = 44 // title and subtitle lines of a box
const ROW = 22 // one port row
const ROW_WITH_DETAIL = 32 // a port row when some label of the box has a second line
const PAD = 10
const CONTAINER_PAD = 14
const LANE = 16 // spacing of the lanes back-edges run in
const MARGIN = 24

interface Point {
  x: number
  y: number
}

interface UnitGeometry {
  unit: GraphUnit
  width: number
  height: number
  row: number
  /** Position of the unit inside its box. */
  dx: number
  dy: number
}

interface BoxGeometry {
  box: GraphBox
  width: number
  height: number
  units: UnitGeometry[]
  /** The internal layout of an operator node with several operators. */
  inner?: { layout: Layout; edges: number[]; lanes: number }
}

export interface GraphHtmlOptions {
  /** The YAML path as the page shows it (default: the graph's absolute file). */
  displayFile?: string
}

/** The whole HTML page of `graph`. */
export function renderGraphHtml(graph: DataflowGraph, options: GraphHtmlOptions = {}): string {
  const svg = renderGraphSvg(graph)
  const units = graph.boxes.flatMap((b) => b.units)
  const count = (kind: GraphUnit['kind']): number => units.filter((u) => u.kind === kind).length
  const nodes = graph.boxes.filter((b) => b.kind !== 'timer').length
  const summary = [
    plural(nodes, 'node'),
    `${plural(count('custom'), 'custom node')}, ${plural(count('operator'), 'operator')}`,
    plural(count('timer'), 'timer'),
    plural(graph.edges.length, 'connection'),
  ].join(', ')
  const unitByKey = new Map(units.map((u) => [u.key, u]))
  const name = (key: string): string => unitByKey.get(key)?.name ?? key
  const rows = graph.edges
    .map(
      (e) =>
        `<tr><td>${esc(name(e.from.unit))}</td><td>${esc(unitByKey.get(e.from.unit)?.kind === 'timer' ? '' : e.from.output)}</td><td>${esc(name(e.to.unit))}</td><td>${esc(e.to.input)}</td><td>${esc(e.detail === '' ? 'default' : e.detail)}</td></tr>`,
    )
    .join('\n')
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="dora-ts graph"/>
<title>${esc(`${graph.name}: dora-ts dataflow graph`)}</title>
<style>
${CSS}
</style>
</head>
<body>
<header>
<h1>dataflow <code>${esc(graph.name)}</code></h1>
<p><code>${esc(options.displayFile ?? graph.file)}</code>: ${esc(summary)}</p>
</header>
<main>
<div class="canvas">
${svg}
</div>
<ul class="legend">
<li><span class="swatch custom"></span>custom node (a process)</li>
<li><span class="swatch operator"></span>operator (a worker thread in the supervisor)</li>
<li><span class="swatch operators"></span>operator node (several operators)</li>
<li><span class="swatch timer"></span>timer</li>
<li>edges read <code>output -&gt; input</code>; queue settings are shown when not the defaults (queue 10, drop_oldest); dashed edges close a cycle</li>
</ul>
<h2>Connections</h2>
<table>
<thead><tr><th>from</th><th>output</th><th>to</th><th>input</th><th>queue</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
</body>
</html>
`
}

/** The `<svg>` element alone. */
export function renderGraphSvg(graph: DataflowGraph): string {
  const unitBox = new Map<string, string>()
  for (const box of graph.boxes) for (const unit of box.units) unitBox.set(unit.key, box.key)
  const containers = new Set(graph.boxes.filter((b) => b.kind === 'operators').map((b) => b.key))
  // Edges between operators of one operator node are drawn inside it.
  const internal = graph.edges.map((e) => containers.has(unitBox.get(e.from.unit) ?? '') && unitBox.get(e.from.unit) === unitBox.get(e.to.unit))
  const detailed = new Set(graph.edges.filter((e) => e.detail !== '').map((e) => e.to.unit))

  // Units, then boxes (operator nodes lay out their operators first).
  const geometry = new Map<string, BoxGeometry>()
  const unitGeometry = new Map<string, UnitGeometry>()
  for (const box of graph.boxes) {
    const units = box.units.map((unit) => measureUnit(unit, detailed.has(unit.key) ? ROW_WITH_DETAIL : ROW))
    for (const u of units) unitGeometry.set(u.unit.key, u)
    if (box.kind !== 'operators') {
      geometry.set(box.key, { box, width: units[0]!.width, height: units[0]!.height, units })
      continue
    }
    const edgeIds = graph.edges.flatMap((e, i) => (internal[i] && unitBox.get(e.from.unit) === box.key ? [i] : []))
    const layout = layoutGraph(
      units.map((u) => ({ id: u.unit.key, width: u.width, height: u.height })),
      edgeIds.map((i) => layoutEdge(graph.edges[i]!, unitGeometry, 0)),
      { minLayerGap: 40 },
    )
    const lanes = edgeIds.filter((_, k) => layout.routes[k]!.back).length
    const titleWidth = Math.max(box.title.length * TITLE_CHAR, box.subtitle.length * CHAR) + 2 * CONTAINER_PAD
    const width = Math.max(layout.width + 2 * CONTAINER_PAD, titleWidth)
    const offsetX = (width - layout.width) / 2
    for (const u of units) {
      const placed = layout.nodes.get(u.unit.key)!
      u.dx = offsetX + placed.x
      u.dy = HEADER + placed.y
    }
    const height = HEADER + layout.height + (lanes > 0 ? (lanes + 1) * LANE : 0) + CONTAINER_PAD
    geometry.set(box.key, { box, width, height, units, inner: { layout, edges: edgeIds, lanes } })
  }

  // Boxes, with the edges between them.
  const outer = graph.edges.flatMap((_, i) => (internal[i] ? [] : [i]))
  const layout = layoutGraph(
    graph.boxes.map((b) => ({ id: b.key, width: geometry.get(b.key)!.width, height: geometry.get(b.key)!.height })),
    outer.map((i) => {
      const e = graph.edges[i]!
      const from = unitGeometry.get(e.from.unit)!
      const to = unitGeometry.get(e.to.unit)!
      return {
        ...layoutEdge(e, unitGeometry, to.dx),
        from: unitBox.get(e.from.unit)!,
        to: unitBox.get(e.to.unit)!,
        fromY: from.dy + portY(from, 'out', e.from.output),
        toY: to.dy + portY(to, 'in', e.to.input),
      }
    }),
  )
  const origin = (key: string): Point => {
    const box = layout.nodes.get(unitBox.get(key)!)!
    const u = unitGeometry.get(key)!
    return { x: MARGIN + box.x + u.dx, y: MARGIN + box.y + u.dy }
  }
  const outPort = (e: GraphEdge): Point => {
    const o = origin(e.from.unit)
    const u = unitGeometry.get(e.from.unit)!
    return { x: o.x + u.width, y: o.y + portY(u, 'out', e.from.output) }
  }
  const inPort = (e: GraphEdge): Point => {
    const o = origin(e.to.unit)
    return { x: o.x, y: o.y + portY(unitGeometry.get(e.to.unit)!, 'in', e.to.input) }
  }

  const edgeParts: string[] = []
  const labelParts: string[] = []
  const drawEdge = (i: number, route: EdgeRoute, shift: Point, laneY: () => number): void => {
    const e = graph.edges[i]!
    const from = outPort(e)
    const to = inPort(e)
    const source = unitGeometry.get(e.from.unit)!.unit
    const title = `<title>${esc(`${source.name}${source.kind === 'timer' ? '' : `/${e.from.output}`} -> ${unitGeometry.get(e.to.unit)!.unit.name}/${e.to.input}${e.detail === '' ? '' : ` (${e.detail})`}`)}</title>`
    if (route.back) {
      const y = laneY()
      const d = `M${n(from.x)},${n(from.y)} H${n(from.x + 12)} V${n(y)} H${n(to.x - 12)} V${n(to.y)} H${n(to.x)}`
      edgeParts.push(`<g class="edge back">${title}<path d="${d}" marker-end="url(#arrow)"/></g>`)
      labelParts.push(label(e, to.x - 8, y - 4, 'start', to.x - 8, y + 12))
      return
    }
    const points: Point[] = [from]
    for (const run of route.runs) points.push({ x: run.x1 + shift.x, y: run.y + shift.y }, { x: run.x2 + shift.x, y: run.y + shift.y })
    points.push(to)
    let d = `M${n(from.x)},${n(from.y)}`
    for (let k = 1; k < points.length; k++) {
      const a = points[k - 1]!
      const b = points[k]!
      if (a.y === b.y) d += ` H${n(b.x)}`
      else {
        const mid = (a.x + b.x) / 2
        d += ` C${n(mid)},${n(a.y)} ${n(mid)},${n(b.y)} ${n(b.x)},${n(b.y)}`
      }
    }
    edgeParts.push(`<g class="edge">${title}<path d="${d}" marker-end="url(#arrow)"/></g>`)
    labelParts.push(label(e, to.x - 8, to.y - 5, 'end', to.x - 8, to.y + 12))
  }

  let globalLanes = 0
  const bottom = MARGIN + layout.height
  outer.forEach((i, k) => drawEdge(i, layout.routes[k]!, { x: MARGIN, y: MARGIN }, () => bottom + LANE * ++globalLanes))
  const containerParts: string[] = []
  const boxParts: string[] = []
  for (const box of graph.boxes) {
    const g = geometry.get(box.key)!
    const placed = layout.nodes.get(box.key)!
    const x = MARGIN + placed.x
    const y = MARGIN + placed.y
    if (g.inner !== undefined) {
      containerParts.push(
        `<g class="box operators"><title>${esc(box.tooltip)}</title><rect x="${n(x)}" y="${n(y)}" width="${n(g.width)}" height="${n(g.height)}" rx="10"/>` +
          `<text class="title" x="${n(x + CONTAINER_PAD)}" y="${n(y + 19)}">${esc(box.title)}</text>` +
          `<text class="subtitle" x="${n(x + CONTAINER_PAD)}" y="${n(y + 35)}">${esc(box.subtitle)}</text></g>`,
      )
      const inner = g.inner
      let lanes = 0
      const innerBottom = y + HEADER + inner.layout.height
      const first = g.units[0]!
      const shift = { x: x + first.dx - inner.layout.nodes.get(first.unit.key)!.x, y: y + HEADER }
      inner.edges.forEach((i, k) => drawEdge(i, inner.layout.routes[k]!, shift, () => innerBottom + LANE * ++lanes))
    }
    for (const u of g.units) boxParts.push(renderUnit(u, x + u.dx, y + u.dy))
  }
  const width = MARGIN * 2 + layout.width
  const height = bottom + (globalLanes > 0 ? (globalLanes + 1) * LANE : 0) + MARGIN
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" role="img" aria-label="${esc(`graph of dataflow ${graph.name}`)}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ...containerParts,
    '<g class="edges">',
    ...edgeParts,
    '</g>',
    ...boxParts,
    '<g class="labels">',
    ...labelParts,
    '</g>',
    '</svg>',
  ].join('\n')
}

function layoutEdge(e: GraphEdge, units: Map<string, UnitGeometry>, targetOffset: number): LayoutEdge {
  const from = units.get(e.from.unit)!
  const to = units.get(e.to.unit)!
  const chars = Math.max(e.label.length, e.detail.length)
  return {
    from: e.from.unit,
    to: e.to.unit,
    fromY: portY(from, 'out', e.from.output),
    toY: portY(to, 'in', e.to.input),
    labelWidth: chars * CHAR + 28 - targetOffset,
  }
}

function measureUnit(unit: GraphUnit, row: number): UnitGeometry {
  const ports = unit.kind === 'timer' ? 1 : Math.max(unit.inputs.length, unit.outputs.length)
  const longestIn = Math.max(0, ...unit.inputs.map((s) => s.length))
  const longestOut = unit.kind === 'timer' ? 0 : Math.max(0, ...unit.outputs.map((s) => s.length))
  const width = Math.ceil(
    Math.max(120, unit.title.length * TITLE_CHAR + 2 * PAD, unit.subtitle.length * CHAR + 2 * PAD, (longestIn + longestOut) * CHAR + 3 * PAD + 16),
  )
  const height = unit.kind === 'timer' ? HEADER + 8 : HEADER + ports * row + (ports > 0 ? 6 : 0)
  return { unit, width, height, row, dx: 0, dy: 0 }
}

function portY(u: UnitGeometry, side: 'in' | 'out', id: string): number {
  if (u.unit.kind === 'timer') return u.height / 2
  const list = side === 'in' ? u.unit.inputs : u.unit.outputs
  const index = Math.max(0, list.indexOf(id))
  return HEADER + index * u.row + u.row / 2
}

function renderUnit(u: UnitGeometry, x: number, y: number): string {
  const { unit } = u
  const parts = [
    `<g class="box ${unit.kind}"><title>${esc(unit.tooltip)}</title>`,
    `<rect x="${n(x)}" y="${n(y)}" width="${n(u.width)}" height="${n(u.height)}" rx="${unit.kind === 'timer' ? 18 : 6}"/>`,
    `<text class="title" x="${n(x + PAD)}" y="${n(y + 19)}">${esc(unit.title)}</text>`,
    `<text class="subtitle" x="${n(x + PAD)}" y="${n(y + 35)}">${esc(unit.subtitle)}</text>`,
  ]
  if (unit.kind !== 'timer') {
    unit.inputs.forEach((id) => {
      const py = y + portY(u, 'in', id)
      parts.push(`<circle class="port" cx="${n(x)}" cy="${n(py)}" r="3"/><text class="port-name" x="${n(x + PAD)}" y="${n(py + 4)}">${esc(id)}</text>`)
    })
    unit.outputs.forEach((id) => {
      const py = y + portY(u, 'out', id)
      parts.push(
        `<circle class="port" cx="${n(x + u.width)}" cy="${n(py)}" r="3"/><text class="port-name" x="${n(x + u.width - PAD)}" y="${n(py + 4)}" text-anchor="end">${esc(id)}</text>`,
      )
    })
  } else {
    parts.push(`<circle class="port" cx="${n(x + u.width)}" cy="${n(y + u.height / 2)}" r="3"/>`)
  }
  parts.push('</g>')
  return parts.join('')
}

function label(e: GraphEdge, x: number, y: number, anchor: 'start' | 'end', dx: number, dy: number): string {
  const main = `<text class="label" x="${n(x)}" y="${n(y)}" text-anchor="${anchor}">${esc(e.label)}</text>`
  const detail = e.detail === '' ? '' : `<text class="detail" x="${n(dx)}" y="${n(dy)}" text-anchor="${anchor}">${esc(e.detail)}</text>`
  return main + detail
}

/** A coordinate with at most one decimal. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10)
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

/** Escape text for HTML/SVG text and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

const CSS = `:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #8c959f; --paper: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--paper); }
header, main { padding: 0 24px; }
h1 { font-size: 20px; margin: 18px 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.canvas { overflow: auto; border: 1px solid #d0d7de; border-radius: 8px; background: #f6f8fa; }
svg { display: block; max-width: none; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
.box rect { stroke-width: 1.2; }
.box.custom rect { fill: #ddf4ff; stroke: #0969da; }
.box.operator rect { fill: #fff8c5; stroke: #9a6700; }
.box.operators rect { fill: #fbefff; stroke: #8250df; stroke-dasharray: 5 3; }
.box.timer rect { fill: #dafbe1; stroke: #1a7f37; }
.box:hover rect { stroke-width: 2.4; }
.title { font-size: 13px; font-weight: 700; fill: var(--ink); }
.subtitle { fill: var(--muted); font-size: 11px; }
.port { fill: var(--paper); stroke: var(--ink); stroke-width: 1; }
.port-name { fill: var(--ink); font-size: 11px; }
.edge path { fill: none; stroke: var(--line); stroke-width: 1.5; }
.edge.back path { stroke-dasharray: 6 4; }
.edge:hover path { stroke: #cf222e; stroke-width: 2.5; }
marker path { fill: var(--line); }
.label, .detail { paint-order: stroke; stroke: #f6f8fa; stroke-width: 4px; stroke-linejoin: round; }
.label { fill: var(--ink); }
.detail { fill: #bc4c00; font-size: 11px; }
.legend { list-style: none; padding: 0; margin: 12px 0; display: flex; flex-wrap: wrap; gap: 6px 20px; color: var(--muted); }
.swatch { display: inline-block; width: 14px; height: 14px; margin-right: 6px; vertical-align: -2px; border: 1.2px solid; border-radius: 3px; }
.swatch.custom { background: #ddf4ff; border-color: #0969da; }
.swatch.operator { background: #fff8c5; border-color: #9a6700; }
.swatch.operators { background: #fbefff; border-color: #8250df; border-style: dashed; }
.swatch.timer { background: #dafbe1; border-color: #1a7f37; border-radius: 7px; }
table { border-collapse: collapse; margin-bottom: 32px; }
th, td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid #d0d7de; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
th { font-family: inherit; color: var(--muted); font-weight: 600; }`
