import t, { type Test } from 'tap'
import { layoutGraph, placeInOrder, type Layout, type LayoutEdge, type LayoutNode } from '../../../../runtime/tools/graph/layout.js'

const box = (id: string, width = 100, height = 40): LayoutNode => ({ id, width, height })

/** No two nodes overlap; nodes of later layers lie strictly to the right. */
function assertNoOverlap(t: Test, layout: Layout): void {
  const nodes = [...layout.nodes.values()]
  let overlaps = 0
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      const p = nodes[a]!
      const q = nodes[b]!
      const apartX = p.x + p.width <= q.x || q.x + q.width <= p.x
      const apartY = p.y + p.height <= q.y || q.y + q.height <= p.y
      if (!apartX && !apartY) overlaps++
    }
  }
  t.equal(overlaps, 0, 'no two boxes overlap')
  for (const n of nodes)
    t.ok(n.x >= 0 && n.y >= 0 && n.x + n.width <= layout.width + 0.01 && n.y + n.height <= layout.height + 0.01, `${n.id} lies inside the drawing`)
}

t.test('a chain is laid out left to right, one layer per node', async (t) => {
  const layout = layoutGraph(
    [box('a'), box('b'), box('c')],
    [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
    ],
  )
  t.same(layout.layers, [['a'], ['b'], ['c']])
  const [a, b, c] = ['a', 'b', 'c'].map((id) => layout.nodes.get(id)!)
  t.ok(a!.x + a!.width < b!.x && b!.x + b!.width < c!.x)
  t.equal(a!.y, b!.y, 'a straight chain stays on one line')
  t.same(
    layout.routes.map((r) => r.back),
    [false, false],
  )
})

t.test('a node sits one layer after its longest path from a source', async (t) => {
  const layout = layoutGraph(
    [box('a'), box('b'), box('c'), box('d')],
    [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'a', to: 'c' },
      { from: 'c', to: 'd' },
    ],
  )
  t.same(
    ['a', 'b', 'c', 'd'].map((id) => layout.nodes.get(id)!.layer),
    [0, 1, 2, 3],
  )
  const skip = layout.routes[2]!
  t.equal(skip.back, false)
  if (!skip.back) {
    t.equal(skip.runs.length, 1, 'an edge across a layer runs through it')
    const b = layout.nodes.get('b')!
    const run = skip.runs[0]!
    t.ok(run.y < b.y || run.y > b.y + b.height, 'and passes beside the node in that layer, not through it')
  }
})

t.test('cycles are allowed: back-edges are marked and left out of the layering', async (t) => {
  const layout = layoutGraph(
    [box('a'), box('b'), box('c')],
    [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'c', to: 'a' },
      { from: 'b', to: 'b' },
    ],
  )
  t.same(layout.layers, [['a'], ['b'], ['c']])
  t.same(
    layout.routes.map((r) => r.back),
    [false, false, true, true],
    'the edge closing the cycle and the self-loop are back-edges',
  )
  // A cycle without any source: still laid out.
  const ring = layoutGraph(
    [box('x'), box('y')],
    [
      { from: 'x', to: 'y' },
      { from: 'y', to: 'x' },
    ],
  )
  t.equal(ring.nodes.size, 2)
  t.equal(ring.routes.filter((r) => r.back).length, 1)
})

t.test('gaps between layers leave room for edge labels', async (t) => {
  const layout = layoutGraph([box('a'), box('b')], [{ from: 'a', to: 'b', labelWidth: 250 }])
  const a = layout.nodes.get('a')!
  const b = layout.nodes.get('b')!
  t.ok(b.x - (a.x + a.width) >= 250)
})

t.test('edges to and from ports pull boxes level with them', async (t) => {
  // b's input port is 30 px below its top; a's output 10 px below its top.
  const layout = layoutGraph([box('a', 100, 20), box('b', 100, 80)], [{ from: 'a', to: 'b', fromY: 10, toY: 30 }])
  const a = layout.nodes.get('a')!
  const b = layout.nodes.get('b')!
  t.equal(a.y + 10, b.y + 30, 'the edge is horizontal')
})

t.test('50 nodes with fan-out, long edges and cycles: no overlaps, deterministic, all inside', async (t) => {
  let seed = 42
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  const nodes = Array.from({ length: 50 }, (_, i) => box(`n${i}`, 100 + Math.floor(random() * 120), 50 + Math.floor(random() * 60)))
  const edges: LayoutEdge[] = []
  for (let i = 1; i < 50; i++) {
    edges.push({ from: `n${Math.floor(random() * i)}`, to: `n${i}`, labelWidth: 80 })
    if (random() < 0.4) edges.push({ from: `n${i}`, to: `n${Math.floor(random() * 50)}` })
  }
  const layout = layoutGraph(nodes, edges)
  assertNoOverlap(t, layout)
  t.same(layoutGraph(nodes, edges), layout, 'the same input lays out the same way')
  t.equal(layout.nodes.size, 50)
  for (const [i, route] of layout.routes.entries()) {
    if (route.back) continue
    const from = layout.nodes.get(edges[i]!.from)!
    const to = layout.nodes.get(edges[i]!.to)!
    t.ok(from.x + from.width <= to.x, `forward edge ${i} runs left to right`)
    let x = from.x + from.width
    for (const run of route.runs) {
      t.ok(run.x1 >= x && run.x2 >= run.x1, `edge ${i} crosses its layers in order`)
      x = run.x2
      for (const n of layout.nodes.values()) {
        const crosses = n.x < run.x2 && run.x1 < n.x + n.width && run.y > n.y && run.y < n.y + n.height
        if (crosses) t.fail(`edge ${i} runs through ${n.id}`)
      }
    }
  }
})

t.test('an empty graph and a lone node lay out', async (t) => {
  t.equal(layoutGraph([], []).nodes.size, 0)
  const lone = layoutGraph([box('a')], [{ from: 'a', to: 'missing' }])
  t.same(lone.nodes.get('a'), { id: 'a', width: 100, height: 40, x: 0, y: 0, layer: 0 })
  t.same(lone.routes, [{ back: true }], 'an edge to an unknown node is not laid out as forward')
})

t.test('placeInOrder keeps order and gaps, and hits the targets when it can', async (t) => {
  t.same(placeInOrder([0, 100, 200], [10, 10, 10], [0, 5, 5]), [0, 100, 200], 'far apart: exactly where wanted')
  const packed = placeInOrder([50, 50, 50], [10, 10, 10], [0, 5, 5])
  t.same(packed, [35, 50, 65], 'wanting the same place: packed around it, order kept')
  const crossed = placeInOrder([100, 0], [10, 10], [0, 10])
  t.ok(crossed[1]! >= crossed[0]! + 20, 'order wins over the targets')
})
