import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadDataflow, parseDataflow } from '../../../../src/spec/load.js'
import { buildGraph } from '../../../../runtime/tools/graph/model.js'
import { esc, renderGraphHtml, renderGraphSvg, writeGraphHtml } from '../../../../runtime/tools/graph/html.js'
import { layoutGraph } from '../../../../runtime/tools/graph/layout.js'
import { ROOT, sourceDir } from '../../../fixtures/paths.js'

const ROVER = join(sourceDir(import.meta.url), 'fixtures', 'rover.yml')

t.test('the page is self-contained and escapes what it shows', async (t) => {
  const yaml = `name: x
nodes:
  - id: a
    path: ./a.mjs
    outputs: ['<b>&']
  - id: b
    path: ./b.mjs
    inputs:
      "q\\"'": a/<b>&
`
  const html = await renderGraphHtml(buildGraph(parseDataflow(yaml, '/f/flow.yml', { checkFiles: false })), { displayFile: 'flow.yml' })
  t.match(html, /^<!DOCTYPE html>\n<html lang="en">/)
  t.notMatch(html, /<b>&/, 'no raw markup from ids')
  t.match(html, /&lt;b&gt;&amp; -&gt; q&quot;&#39;/)
  t.notMatch(html, /<script[^>]*\ssrc=|<link|<img|@import|url\((?!#)|https?:\/\/(?!www\.w3\.org)/, 'nothing is fetched')
  t.match(html, /<code>flow\.yml<\/code>: 2 nodes, 2 custom nodes, 0 operators, 0 timers, 1 connection</)
  t.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

t.test('the pan and zoom script is inline, small, and holds nothing that needs escaping', async (t) => {
  const html = await renderGraphHtml(await graphOf(ROVER))
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!)
  t.equal(scripts.length, 1, 'one inline script')
  t.notMatch(scripts[0]!, /[<>&]/, 'no <, > or &: the page stays well-formed XML')
  t.ok(scripts[0]!.trim().split('\n').length < 50, 'a few lines')
  for (const id of ['fit', 'zoom-in', 'zoom-out', 'graph']) t.match(html, new RegExp(`id="${id}"`), `#${id} is on the page`)
  t.match(html, /<svg [^>]*viewBox="0 0 [\d.]+ [\d.]+" preserveAspectRatio="xMidYMid meet"/, 'without script the SVG fits its frame')
})

t.test('cycle edges are dashed, listed and explained', async (t) => {
  const graph = await graphOf(ROVER)
  const html = await renderGraphHtml(graph)
  const back = [...html.matchAll(/<g class="edge back" data-from="([^"]*)" data-to="([^"]*)">/g)].map((m) => `${m[1]} -> ${m[2]}`)
  t.same(back, ['planner -> lidar', 'perception/tracker -> camera', 'perception/tracker -> perception/tracker', 'planner -> base'])
  t.equal([...html.matchAll(/<g class="edge" data-from/g)].length, 11, 'the other edges are plain')
  t.match(html, /closes a cycle \(feedback\)/, 'the legend says what dashed means')
  t.match(html, /15 connections \(4 closing a cycle\)/)
  t.equal([...html.matchAll(/<tr class="back">/g)].length, 4, 'the table marks them too')
})

t.test('the SVG draws what the layout placed: boxes, ports, routes and label boxes', async (t) => {
  const layout = await layoutGraph(await graphOf(ROVER))
  const svg = renderGraphSvg(layout)
  const fusion = layout.units.find((u) => u.unit.key === 'fusion/fusion')!
  t.match(svg, `<g class="box operator" data-key="fusion/fusion">`)
  t.match(svg, `<rect x="${Math.round(fusion.x * 10) / 10}" y="${Math.round(fusion.y * 10) / 10}" width="${fusion.width}"`)
  t.match(svg, /operator: fusion\.ts/, 'the kind and file of each box')
  t.match(svg, /timer source: every 100 ms/)
  t.match(svg, /custom node: lidar\.py/)
  t.match(svg, /operator node: 2 operators/)
  t.equal(
    [...svg.matchAll(/<circle class="port"/g)].length,
    layout.units.reduce((sum, u) => sum + u.ports.length, 0),
    'a circle per port',
  )
  for (const e of layout.edges) t.match(svg, `M${Math.round(e.points[0]!.x * 10) / 10},${Math.round(e.points[0]!.y * 10) / 10} L`)
  t.equal([...svg.matchAll(/<g class="label(?: back)?"><rect /g)].length, 15, 'a label box per edge')
  t.match(svg, /<text class="detail"[^>]*>queue 2, backpressure<\/text>/)
})

t.test('writeGraphHtml writes the page, creating its folder', async (t) => {
  const file = join(t.testdir(), 'deep', 'robot.html')
  await writeGraphHtml(file, await graphOf(join(ROOT, 'dataflow.yml')))
  t.match(readFileSync(file, 'utf8'), /scan -&gt; scan/)
})

async function graphOf(file: string): Promise<ReturnType<typeof buildGraph>> {
  return buildGraph(await loadDataflow(file, { checkFiles: false }))
}
