import t from 'tap'
import { join } from 'node:path'
import { loadDataflow, parseDataflow } from '../../../../src/spec/load.js'
import { buildGraph, type DataflowGraph } from '../../../../runtime/tools/graph/model.js'
import { layoutGraph, measureUnit } from '../../../../runtime/tools/graph/layout.js'
import { fromLayout, problems, type Drawing } from './fixtures/geometry.js'
import { ROOT } from '../../../fixtures/paths.js'

const ROVER = join(ROOT, 'test/runtime/tools/graph/fixtures/rover.yml')

const load = async (file: string): Promise<DataflowGraph> => buildGraph(await loadDataflow(file, { checkFiles: false }))

/** 24 custom nodes fanning out from 3 timers, long edges, a feedback edge and an operator node with a cycle inside. */
function big(): string {
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

for (const [name, file] of [
  ['the robot (dataflow.yml)', join(ROOT, 'dataflow.yml')],
  ['examples/pipeline', join(ROOT, 'examples/pipeline/dataflow.yml')],
  ['a 6-node, 15-edge robot graph with cycles', ROVER],
] as const) {
  t.test(`${name}: no edge through a box, no label on another, cycle edges run back`, async (t) => {
    const layout = await layoutGraph(await load(file))
    t.same(problems(fromLayout(layout)), [], 'the drawing breaks no rule')
  })
}

t.test('the issue-14 graph: every connection drawn, the feedback edges marked, ports where the rows are', async (t) => {
  const graph = await load(ROVER)
  t.equal(graph.edges.length, 15)
  t.equal(graph.boxes.filter((b) => b.kind !== 'timer').length, 6)
  const layout = await layoutGraph(graph)
  t.same(
    layout.edges.filter((e) => e.edge.back).map((e) => `${e.edge.from.unit} -> ${e.edge.to.unit}/${e.edge.to.input}`),
    ['planner -> lidar/mode', 'perception/tracker -> camera/exposure', 'perception/tracker -> perception/tracker/previous', 'planner -> base/path'],
  )
  // The defect: `_errors -> errors` ran through fusion's `scan` port.
  const errors = layout.edges.find((e) => e.edge.label === '_errors -> errors')!
  const fusion = layout.units.find((u) => u.unit.key === 'fusion/fusion')!
  const port = fusion.ports.find((p) => p.id === '_errors' && p.side === 'out')!
  t.same(errors.points[0], { x: port.x, y: port.y }, 'the edge leaves from its own port')
  for (const e of layout.edges) {
    const to = layout.units.find((u) => u.unit.key === e.edge.to.unit)!
    const p = to.ports.find((q) => q.side === 'in' && q.id === e.edge.to.input)!
    t.same(e.points.at(-1), { x: p.x, y: p.y }, `${e.edge.label} ends on its input port`)
  }
  const perception = layout.containers.find((c) => c.box.key === 'perception')!
  for (const key of ['perception/detector', 'perception/tracker']) {
    const u = layout.units.find((x) => x.unit.key === key)!
    t.ok(u.x > perception.x && u.x + u.width < perception.x + perception.width && u.y > perception.y + 40, `${key} is drawn inside its operator node`)
  }
})

t.test('30 nodes with fan-out, long edges, a feedback edge and a cycle inside an operator node', async (t) => {
  const graph = buildGraph(parseDataflow(big(), '/f/big.yml', { checkFiles: false }))
  const layout = await layoutGraph(graph)
  t.equal(layout.units.length, 3 + 24 + 2, 'every timer, node and operator is placed')
  t.same(problems(fromLayout(layout)), [], 'the drawing breaks no rule')
  t.same(
    graph.edges.filter((e) => e.back).map((e) => e.label),
    ['out -> feedback', 'y -> back'],
  )
  t.same(fromLayout(await layoutGraph(graph)), fromLayout(layout), 'the same graph lays out the same way')
})

t.test('a box is as wide as its longest line and has a row per port', async (t) => {
  const graph = await load(ROVER)
  const planner = graph.boxes.find((b) => b.key === 'planner')!.units[0]!
  const size = measureUnit(planner)
  t.ok(size.width >= planner.subtitle.length * 7.2 + 20, 'the subtitle fits')
  t.same([...size.inputs.keys()], ['world', 'errors'])
  t.same([...size.outputs.keys()], ['path', 'mode'])
  t.ok(size.inputs.get('errors')! > size.inputs.get('world')!, 'rows go down in YAML order')
  t.ok(size.height > size.inputs.get('errors')!, 'the last row is inside the box')
})

t.test('an empty dataflow and a lone node lay out', async (t) => {
  const lone = await layoutGraph(buildGraph(parseDataflow('nodes:\n  - id: a\n    path: ./a.mjs\n', '/f/a.yml', { checkFiles: false })))
  t.equal(lone.units.length, 1)
  t.same(problems(fromLayout(lone)), [])
  t.ok(lone.width > lone.units[0]!.width && lone.height > lone.units[0]!.height, 'with a margin around')
})

t.test('the rules catch an edge through a box, labels on each other and an unmarked edge running back', async (t) => {
  const box = (x: number, y: number) => ({ x, y, width: 100, height: 40 })
  const bad: Drawing = {
    width: 600,
    height: 200,
    units: [
      { key: 'a', rect: box(10, 10) },
      { key: 'b', rect: box(210, 10) },
      { key: 'c', rect: box(410, 10) },
    ],
    containers: [],
    edges: [
      {
        name: 'a -> c',
        from: 'a',
        to: 'c',
        back: false,
        points: [
          { x: 110, y: 30 },
          { x: 410, y: 30 },
        ],
        label: { x: 150, y: 60, width: 50, height: 16 },
      },
      {
        name: 'c -> a',
        from: 'c',
        to: 'a',
        back: false,
        points: [
          { x: 510, y: 30 },
          { x: 520, y: 30 },
          { x: 520, y: 150 },
          { x: 10, y: 150 },
          { x: 10, y: 30 },
        ],
        label: { x: 160, y: 65, width: 50, height: 16 },
      },
    ],
  }
  t.same(problems(bad), [
    'edge a -> c runs through box b',
    'edge c -> a runs right to left but is not marked as closing a cycle',
    'label of a -> c overlaps label of c -> a',
  ])
})
