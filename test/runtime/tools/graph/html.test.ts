import t from 'tap'
import { parseDataflow } from '../../../../src/spec/load.js'
import { buildGraph } from '../../../../runtime/tools/graph/model.js'
import { esc, renderGraphHtml, renderGraphSvg } from '../../../../runtime/tools/graph/html.js'

interface Rect {
  x: number
  y: number
  width: number
  height: number
  what: string
}

/** Boxes of nodes and operators, and an estimate of each edge label's extent. */
function shapes(svg: string): { boxes: Rect[]; labels: Rect[] } {
  const boxes = [
    ...svg.matchAll(/<g class="box (custom|operator|timer)"><title>([^<]*)<\/title><rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)"/g),
  ].map((m) => ({
    what: m[2]!,
    x: Number(m[3]),
    y: Number(m[4]),
    width: Number(m[5]),
    height: Number(m[6]),
  }))
  const labels = [...svg.matchAll(/<text class="(?:label|detail)" x="([\d.-]+)" y="([\d.-]+)" text-anchor="(start|end)">([^<]*)<\/text>/g)].map((m) => {
    const text = m[4]!.replace(/&[#\w]+;/g, 'x')
    const width = text.length * 7.2
    const x = m[3] === 'end' ? Number(m[1]) - width : Number(m[1])
    return { what: text, x, y: Number(m[2]) - 10, width, height: 12 }
  })
  return { boxes, labels }
}

const overlap = (a: Rect, b: Rect): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

function flow(): string {
  const nodes = ['nodes:']
  for (let i = 0; i < 24; i++) {
    const inputs = [
      i < 3 ? `      tick: dora/timer/millis/${(i + 1) * 10}` : `      from_${i - 3}: { source: n${i - 3}/out, queue_size: ${i % 4 === 0 ? 1 : 10} }`,
    ]
    if (i > 4) inputs.push(`      also_${i}: n${Math.floor(i / 2)}/out`)
    if (i === 20) inputs.push('      feedback: n23/out')
    nodes.push(`  - id: n${i}\n    path: ./n.mjs\n    inputs:\n${inputs.join('\n')}\n    outputs: [out]`)
  }
  nodes.push(`  - id: pair
    operators:
      - id: first
        javascript: ./a.mjs
        inputs: { x: n5/out, back: pair/second/y }
        outputs: [y]
      - id: second
        javascript: ./b.mjs
        inputs: { y: pair/first/y, z: n6/out }
        outputs: [y]`)
  return nodes.join('\n') + '\n'
}

t.test('no box overlaps another, and no edge label covers a box', async (t) => {
  const svg = renderGraphSvg(buildGraph(parseDataflow(flow(), '/f/flow.yml', { checkFiles: false })))
  const { boxes, labels } = shapes(svg)
  t.equal(boxes.length, 3 + 24 + 2, 'every timer, node and operator is drawn')
  for (let a = 0; a < boxes.length; a++)
    for (let b = a + 1; b < boxes.length; b++) if (overlap(boxes[a]!, boxes[b]!)) t.fail(`${boxes[a]!.what} overlaps ${boxes[b]!.what}`)
  t.ok(labels.length >= 24 + 20, 'every edge has a label')
  for (const label of labels) for (const box of boxes) if (overlap(label, box)) t.fail(`label "${label.what}" covers ${box.what}`)
})

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
  const html = renderGraphHtml(buildGraph(parseDataflow(yaml, '/f/flow.yml', { checkFiles: false })), { displayFile: 'flow.yml' })
  t.match(html, /^<!DOCTYPE html>\n<html lang="en">/)
  t.notMatch(html, /<b>&/, 'no raw markup from ids')
  t.match(html, /&lt;b&gt;&amp; -&gt; q&quot;&#39;/)
  t.notMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/)
  t.match(html, /<code>flow\.yml<\/code>: 2 nodes, 2 custom nodes, 0 operators, 0 timers, 1 connection/)
  t.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})
