import t from 'tap'
import { parseDataflow } from '../../../../src/spec/load.js'
import { buildGraph, formatInterval, timerKey } from '../../../../runtime/tools/graph/model.js'

const yaml = `name: demo
nodes:
  - id: camera
    path: ./nodes/camera.py
    description: front camera
    inputs:
      tick: dora/timer/hz/30
      again: dora/timer/hz/30
    outputs: [image]
  - id: detector
    operator:
      typescript: ./ops/detector.ts
      inputs:
        image: { source: camera/image, queue_size: 2, queue_policy: backpressure }
      outputs: [boxes]
  - id: fusion
    operators:
      - id: a
        javascript: ./a.mjs
        inputs:
          boxes: detector/boxes
          poison: detector/_errors
        outputs: [fused]
      - id: b
        javascript: ./b.mjs
        inputs:
          fused: { source: fusion/a/fused, input_timeout: 1.5 }
          slow: dora/timer/secs/2
        outputs: []
`

t.test('boxes: timers first (one per distinct timer), then nodes in YAML order', async (t) => {
  const graph = buildGraph(parseDataflow(yaml, '/flows/demo.yml', { checkFiles: false }))
  t.equal(graph.name, 'demo')
  t.same(
    graph.boxes.map((b) => [b.key, b.kind]),
    [
      [timerKey('dora/timer/hz/30'), 'timer'],
      [timerKey('dora/timer/secs/2'), 'timer'],
      ['camera', 'custom'],
      ['detector', 'operator'],
      ['fusion', 'operators'],
    ],
  )
  const fusion = graph.boxes.find((b) => b.key === 'fusion')!
  t.same(
    fusion.units.map((u) => u.key),
    ['fusion/a', 'fusion/b'],
  )
  t.equal(fusion.subtitle, 'operator node: 2 operators')
  const camera = graph.boxes.find((b) => b.key === 'camera')!.units[0]!
  t.equal(camera.subtitle, 'custom node: nodes/camera.py', 'paths are shown relative to the YAML')
  t.match(camera.tooltip, /front camera/)
  const detector = graph.boxes.find((b) => b.key === 'detector')!.units[0]!
  t.equal(detector.key, 'detector/detector')
  t.same(detector.outputs, ['boxes', '_errors'], 'the implicit _errors output appears once something reads it')
})

t.test('edges: one per input, labelled output -> input, with non-default queue settings', async (t) => {
  const graph = buildGraph(parseDataflow(yaml, '/flows/demo.yml', { checkFiles: false }))
  t.same(
    graph.edges.map((e) => [e.from.unit, e.to.unit, e.label, e.detail]),
    [
      [timerKey('dora/timer/hz/30'), 'camera', 'tick', ''],
      [timerKey('dora/timer/hz/30'), 'camera', 'again', ''],
      ['camera', 'detector/detector', 'image -> image', 'queue 2, backpressure'],
      ['detector/detector', 'fusion/a', 'boxes -> boxes', ''],
      ['detector/detector', 'fusion/a', '_errors -> poison', ''],
      ['fusion/a', 'fusion/b', 'fused -> fused', 'timeout 1.5 s'],
      [timerKey('dora/timer/secs/2'), 'fusion/b', 'slow', ''],
    ],
  )
})

t.test('a best-effort input says so on its edge, before its queue settings', async (t) => {
  const graph = buildGraph(
    parseDataflow(
      `nodes:
  - id: camera
    path: ./camera.mjs
    outputs: [frame]
  - id: viewer
    path: ./viewer.mjs
    inputs:
      frame: { source: camera/frame, reliability: best_effort, queue_size: 1 }
`,
      '/flows/camera.yml',
      { checkFiles: false },
    ),
  )
  t.same(
    graph.edges.map((e) => [e.from.unit, e.to.unit, e.detail]),
    [['camera', 'viewer', 'best effort, queue 1']],
  )
})

t.test('timer intervals read naturally', async (t) => {
  t.equal(formatInterval(500_000_000n), 'every 500 ms')
  t.equal(formatInterval(2_000_000_000n), 'every 2 s')
  t.equal(formatInterval(33_333_333n), 'every 33.333 ms')
  t.equal(formatInterval(1_000n), 'every 1 us')
  t.equal(formatInterval(10n), 'every 10 ns')
})

t.test('a direct link between operators says so on its edge', async (t) => {
  const yaml = (direct: boolean) => `${direct ? '_unstable_direct_links: true\n' : ''}nodes:
  - id: camera
    operator:
      javascript: ./camera.mjs
      inputs: { tick: dora/timer/millis/30 }
      outputs: [frame]
  - id: detector
    operator:
      javascript: ./detector.mjs
      inputs:
        frame: { source: camera/frame, reliability: best_effort, queue_size: 1 }
`
  const details = (direct: boolean) =>
    buildGraph(parseDataflow(yaml(direct), '/flows/linked.yml', { checkFiles: false }))
      .edges.filter((e) => e.to.unit === 'detector/detector')
      .map((e) => e.detail)
  t.same(details(true), ['direct link, best effort, queue 1'], 'with _unstable_direct_links')
  t.same(details(false), ['best effort, queue 1'], 'without it, a best-effort edge through the supervisor')
})
