/**
 * `dora-ts graph`'s HTML page: one self-contained file (inline SVG, CSS and a few lines of
 * script for pan and zoom; nothing fetched from the network) drawing a {@link DataflowGraph} as
 * {@link layoutGraph} placed it, with a table of the connections under it. The layout runs here,
 * in Node, and the page embeds its coordinates: without script the page still draws the whole
 * graph fitted to the window (the SVG's viewBox), and the script only moves that viewBox.
 * Well-formed: every element is closed, void ones self-closed, and the script holds no `<`, `>`
 * or `&`, so the page also reads as XML.
 */
import type { DataflowGraph, GraphUnit } from './model.js'
import { layoutGraph, LABEL_LINE, PAD, type GraphLayout, type PlacedEdge, type PlacedUnit } from './layout.js'
import { writeTextFile } from '../file-output.js'

export interface GraphHtmlOptions {
  /** The YAML path as the page shows it (default: the graph's absolute file). */
  displayFile?: string
}

/**
 * Lay out `graph` and write its page to `file`, creating the folder: the one place a drawing is
 * written. Throws `FileWriteError` (`DORA_CLI_WRITE`) when the file cannot be written.
 *
 * @example
 * await writeGraphHtml('/tmp/robot.html', buildGraph(await loadDataflow('dataflow.yml')))
 */
export async function writeGraphHtml(file: string, graph: DataflowGraph, options: GraphHtmlOptions = {}): Promise<void> {
  writeTextFile(file, await renderGraphHtml(graph, options))
}

/** The whole HTML page of `graph`, laid out. */
export async function renderGraphHtml(graph: DataflowGraph, options: GraphHtmlOptions = {}): Promise<string> {
  const svg = renderGraphSvg(await layoutGraph(graph))
  const units = graph.boxes.flatMap((b) => b.units)
  const count = (kind: GraphUnit['kind']): number => units.filter((u) => u.kind === kind).length
  const nodes = graph.boxes.filter((b) => b.kind !== 'timer').length
  const cycles = graph.edges.filter((e) => e.back).length
  const summary = [
    plural(nodes, 'node'),
    `${plural(count('custom'), 'custom node')}, ${plural(count('operator'), 'operator')}`,
    plural(count('timer'), 'timer'),
    plural(graph.edges.length, 'connection') + (cycles > 0 ? ` (${cycles} closing a cycle)` : ''),
  ].join(', ')
  const unitByKey = new Map(units.map((u) => [u.key, u]))
  const name = (key: string): string => unitByKey.get(key)?.name ?? key
  const rows = graph.edges
    .map(
      (e) =>
        `<tr${e.back ? ' class="back"' : ''}><td>${esc(name(e.from.unit))}</td><td>${esc(unitByKey.get(e.from.unit)?.kind === 'timer' ? '' : e.from.output)}</td><td>${esc(name(e.to.unit))}</td><td>${esc(e.to.input)}</td><td>${esc(e.detail === '' ? 'default' : e.detail)}</td><td>${e.back ? 'yes' : ''}</td></tr>`,
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
<div class="view">
<header>
<h1>dataflow <code>${esc(graph.name)}</code></h1>
<p><code>${esc(options.displayFile ?? graph.file)}</code>: ${esc(summary)}</p>
</header>
<nav class="toolbar">
<button type="button" id="fit" title="Show the whole graph">fit</button>
<button type="button" id="zoom-in" title="Zoom in">+</button>
<button type="button" id="zoom-out" title="Zoom out">−</button>
<span class="hint">wheel: zoom, drag: pan</span>
<ul class="legend">
<li><span class="swatch custom"></span>custom node (a process)</li>
<li><span class="swatch operator"></span>operator (a worker thread)</li>
<li><span class="swatch operators"></span>operator node</li>
<li><span class="swatch timer"></span>timer source</li>
<li><svg class="key" width="34" height="10" aria-hidden="true"><path d="M1,5 H33"/></svg>connection <code>output -&gt; input</code> (queue settings when not the defaults)</li>
<li><svg class="key back" width="34" height="10" aria-hidden="true"><path d="M1,5 H33"/></svg>closes a cycle (feedback)</li>
</ul>
</nav>
<div class="canvas">
${svg}
</div>
</div>
<main>
<h2>Connections</h2>
<table>
<thead><tr><th>from</th><th>output</th><th>to</th><th>input</th><th>queue</th><th>closes a cycle</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
<script>
${SCRIPT}
</script>
</body>
</html>
`
}

/**
 * The `<svg>` element alone, drawn from a layout. Its viewBox is the whole drawing and it
 * scales to its container, so it fits without script.
 */
export function renderGraphSvg(layout: GraphLayout): string {
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="graph" class="graph" viewBox="0 0 ${n(layout.width)} ${n(layout.height)}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="dataflow graph">`,
    '<defs>',
    '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>',
    '<marker id="arrow-back" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>',
    '</defs>',
  ]
  for (const c of layout.containers) {
    parts.push(
      `<g class="box operators" data-key="${esc(c.box.key)}"><title>${esc(c.box.tooltip)}</title><rect x="${n(c.x)}" y="${n(c.y)}" width="${n(c.width)}" height="${n(c.height)}" rx="10"/>` +
        `<text class="title" x="${n(c.x + 14)}" y="${n(c.y + 19)}">${esc(c.box.title)}</text>` +
        `<text class="subtitle" x="${n(c.x + 14)}" y="${n(c.y + 35)}">${esc(c.box.subtitle)}</text></g>`,
    )
  }
  const unitByKey = new Map(layout.units.map((u) => [u.unit.key, u]))
  parts.push('<g class="edges">')
  for (const e of layout.edges) parts.push(renderEdge(e, unitByKey))
  parts.push('</g>')
  for (const u of layout.units) parts.push(renderUnit(u))
  parts.push('<g class="labels">')
  for (const e of layout.edges) {
    const l = e.label
    const text = l.lines
      .map((line, k) => `<text class="${k === 0 ? 'label-text' : 'detail'}" x="${n(l.x + 3)}" y="${n(l.y + 12 + k * LABEL_LINE)}">${esc(line)}</text>`)
      .join('')
    parts.push(
      `<g class="label${e.edge.back ? ' back' : ''}"><rect x="${n(l.x)}" y="${n(l.y)}" width="${n(l.width)}" height="${n(l.height)}" rx="3"/>${text}</g>`,
    )
  }
  parts.push('</g>', '</svg>')
  return parts.join('\n')
}

function renderEdge(e: PlacedEdge, units: Map<string, PlacedUnit>): string {
  const from = units.get(e.edge.from.unit)?.unit
  const to = units.get(e.edge.to.unit)?.unit
  const source = from === undefined ? e.edge.from.unit : `${from.name}${from.kind === 'timer' ? '' : `/${e.edge.from.output}`}`
  const detail = e.edge.detail === '' ? '' : ` (${e.edge.detail})`
  const title = `${source} -> ${to?.name ?? e.edge.to.unit}/${e.edge.to.input}${detail}${e.edge.back ? ', closes a cycle' : ''}`
  const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(p.x)},${n(p.y)}`).join(' ')
  const back = e.edge.back
  // data-from/data-to: the unit keys, for tools (and tests) reading the drawing back.
  return `<g class="edge${back ? ' back' : ''}" data-from="${esc(e.edge.from.unit)}" data-to="${esc(e.edge.to.unit)}"><title>${esc(title)}</title><path d="${d}" marker-end="url(#${back ? 'arrow-back' : 'arrow'})"/></g>`
}

function renderUnit(u: PlacedUnit): string {
  const { unit, x, y, width, height } = u
  const parts = [
    `<g class="box ${unit.kind}" data-key="${esc(unit.key)}"><title>${esc(unit.tooltip)}</title>`,
    `<rect x="${n(x)}" y="${n(y)}" width="${n(width)}" height="${n(height)}" rx="${unit.kind === 'timer' ? 18 : 6}"/>`,
    `<text class="title" x="${n(x + PAD)}" y="${n(y + 19)}">${esc(unit.title)}</text>`,
    `<text class="subtitle" x="${n(x + PAD)}" y="${n(y + 35)}">${esc(unit.subtitle)}</text>`,
  ]
  for (const port of u.ports) {
    parts.push(`<circle class="port" cx="${n(port.x)}" cy="${n(port.y)}" r="3"/>`)
    // A timer's one output is its name, already the title.
    if (unit.kind === 'timer') continue
    parts.push(
      port.side === 'in'
        ? `<text class="port-name" x="${n(port.x + PAD)}" y="${n(port.y + 4)}">${esc(port.id)}</text>`
        : `<text class="port-name" x="${n(port.x - PAD)}" y="${n(port.y + 4)}" text-anchor="end">${esc(port.id)}</text>`,
    )
  }
  parts.push('</g>')
  return parts.join('')
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

/**
 * Pan and zoom by moving the SVG's viewBox: the wheel zooms around the pointer, a drag pans,
 * "fit" shows the whole drawing again, as on load. No `<`, `>` or `&` (see the file comment).
 */
const SCRIPT = `(function () {
  var svg = document.getElementById('graph');
  var home = svg.getAttribute('viewBox').split(' ').map(Number);
  var view = home.slice();
  var grab = null;
  function show() { svg.setAttribute('viewBox', view.join(' ')); }
  function point(e) {
    var p = svg.createSVGPoint();
    p.x = e.clientX;
    p.y = e.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function zoom(f, p) {
    view = [p.x - (p.x - view[0]) * f, p.y - (p.y - view[1]) * f, view[2] * f, view[3] * f];
    show();
  }
  function centre() { return { x: view[0] + view[2] / 2, y: view[1] + view[3] / 2 }; }
  svg.addEventListener('wheel', function (e) { e.preventDefault(); zoom(Math.exp(e.deltaY * 0.0015), point(e)); }, { passive: false });
  svg.addEventListener('pointerdown', function (e) { grab = point(e); svg.setPointerCapture(e.pointerId); svg.classList.add('grabbing'); });
  svg.addEventListener('pointermove', function (e) {
    if (grab === null) return;
    var p = point(e);
    view[0] += grab.x - p.x;
    view[1] += grab.y - p.y;
    show();
  });
  function release() { grab = null; svg.classList.remove('grabbing'); }
  svg.addEventListener('pointerup', release);
  svg.addEventListener('pointercancel', release);
  // The whole drawing, but never enlarged past its natural size (a 3-node graph stays crisp).
  function fit() {
    view = home.slice();
    zoom(Math.max(1, Math.min(svg.clientWidth / home[2], svg.clientHeight / home[3])), centre());
  }
  document.getElementById('fit').addEventListener('click', fit);
  document.getElementById('zoom-in').addEventListener('click', function () { zoom(0.8, centre()); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoom(1.25, centre()); });
  fit();
})();`

const CSS = `:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #6e7781; --back: #cf222e; --paper: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--paper); }
header, main, .toolbar { padding: 0 24px; }
h1 { font-size: 20px; margin: 12px 0 2px; }
h1 + p { margin: 0 0 6px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; margin-bottom: 6px; }
.toolbar button { font: inherit; min-width: 34px; padding: 1px 10px; border: 1px solid #d0d7de; border-radius: 6px; background: #f6f8fa; cursor: pointer; }
.toolbar button:hover { background: #eaeef2; }
.hint { color: var(--muted); font-size: 12px; margin-right: 10px; }
.view { height: 100vh; display: flex; flex-direction: column; }
.canvas { flex: 1 1 auto; margin: 0 24px 12px; min-height: 280px; border: 1px solid #d0d7de; border-radius: 8px; background: #f6f8fa; overflow: hidden; }
svg.graph { display: block; width: 100%; height: 100%; cursor: grab; touch-action: none; user-select: none; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; }
svg.graph.grabbing { cursor: grabbing; }
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
.edge path, .key path { fill: none; stroke: var(--line); stroke-width: 1.5; }
.edge.back path, .key.back path { stroke: var(--back); stroke-dasharray: 6 4; }
.edge:hover path { stroke-width: 3; }
#arrow path { fill: var(--line); }
#arrow-back path { fill: var(--back); }
.label rect { fill: #f6f8fa; fill-opacity: 0.9; }
.label-text { fill: var(--ink); }
.label.back .label-text { fill: var(--back); }
.detail { fill: #bc4c00; font-size: 11px; }
.legend { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 4px 18px; color: var(--muted); font-size: 13px; }
.swatch { display: inline-block; width: 14px; height: 14px; margin-right: 6px; vertical-align: -2px; border: 1.2px solid; border-radius: 3px; }
.swatch.custom { background: #ddf4ff; border-color: #0969da; }
.swatch.operator { background: #fff8c5; border-color: #9a6700; }
.swatch.operators { background: #fbefff; border-color: #8250df; border-style: dashed; }
.swatch.timer { background: #dafbe1; border-color: #1a7f37; border-radius: 7px; }
.key { margin-right: 6px; vertical-align: 0; }
table { border-collapse: collapse; margin-bottom: 32px; }
th, td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid #d0d7de; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
tr.back td { color: var(--back); }
th { font-family: inherit; color: var(--muted); font-weight: 600; }`
