/** The routing table: which receiver input each output and timer feeds, and the names used for both. */
import t from 'tap'
import { buildRoutingTable, displayName, operatorKey, outputKey } from '../../../runtime/supervisor/routing.js'
import { parseDataflow } from '../../../src/spec/load.js'
import type { OperatorNodeSpec } from '../../../src/spec/types.js'

const spec = parseDataflow(
  `nodes:
  - id: camera
    path: camera.js
    inputs: { tick: dora/timer/millis/20 }
    outputs: [image]
  - id: detector
    operator:
      javascript: detector.js
      inputs:
        image: camera/image
        tick: dora/timer/millis/20
      outputs: [boxes]
  - id: pipeline
    operators:
      - id: filter
        javascript: filter.js
        inputs: { boxes: detector/boxes }
        outputs: [kept]
      - id: logger
        javascript: logger.js
        inputs:
          kept: pipeline/filter/kept
          image: camera/image
          slow: dora/timer/secs/1
  - id: sink
    path: sink.js
    inputs: { kept: pipeline/filter/kept, errors: detector/_errors }
`,
  '/flows/dataflow.yml',
  { checkFiles: false },
)
const table = buildRoutingTable(spec)

t.test('an output feeds every input that names it, keyed as YAML names it', async (t) => {
  t.same(table.outputs.get('camera/image'), [
    { receiver: 'detector/detector', inputId: 'image' },
    { receiver: 'pipeline/logger', inputId: 'image' },
  ])
  // A single operator's outputs are named after its node alone; a multi-operator node's after both.
  t.same(table.outputs.get('detector/boxes'), [{ receiver: 'pipeline/filter', inputId: 'boxes' }])
  t.same(table.outputs.get('pipeline/filter/kept'), [
    { receiver: 'pipeline/logger', inputId: 'kept' },
    { receiver: 'sink', inputId: 'kept' },
  ])
  t.notOk(table.outputs.has('sink/anything'), 'an output no one reads has no entry')
})

t.test('one timer route per timer name, shared by all its receivers', async (t) => {
  const timers = new Map(table.timers.map((r) => [r.name, r]))
  t.same([...timers.keys()].sort(), ['dora/timer/millis/20', 'dora/timer/secs/1'])
  t.equal(timers.get('dora/timer/millis/20')?.intervalNs, 20_000_000n)
  t.same(timers.get('dora/timer/millis/20')?.destinations, [
    { receiver: 'camera', inputId: 'tick' },
    { receiver: 'detector/detector', inputId: 'tick' },
  ])
  t.same(timers.get('dora/timer/secs/1')?.destinations, [{ receiver: 'pipeline/logger', inputId: 'slow' }])
})

t.test('every receiver has its inputs; every producer its output keys, operators with _errors', async (t) => {
  t.same([...table.inputs.keys()], ['camera', 'detector/detector', 'pipeline/filter', 'pipeline/logger', 'sink'])
  t.same(
    table.inputs.get('pipeline/logger')?.map((i) => i.id),
    ['kept', 'image', 'slow'],
  )
  t.same([...table.producers.get('camera')!.outputKeys], [['image', 'camera/image']])
  t.same(
    [...table.producers.get('detector/detector')!.outputKeys],
    [
      ['boxes', 'detector/boxes'],
      ['_errors', 'detector/_errors'],
    ],
  )
  t.same(
    [...table.producers.get('pipeline/filter')!.outputKeys],
    [
      ['kept', 'pipeline/filter/kept'],
      ['_errors', 'pipeline/filter/_errors'],
    ],
  )
  // Another node can read an operator's poison reports like any output.
  t.same(table.outputs.get('detector/_errors'), [{ receiver: 'sink', inputId: 'errors' }])
})

t.test('names: receiver keys, display names and output keys', async (t) => {
  const detector = spec.nodes.find((n) => n.id === 'detector') as OperatorNodeSpec
  const pipeline = spec.nodes.find((n) => n.id === 'pipeline') as OperatorNodeSpec
  t.equal(operatorKey(pipeline, pipeline.operators[1]!), 'pipeline/logger')
  t.equal(operatorKey(detector, detector.operators[0]!), 'detector/detector')
  t.equal(displayName(detector, detector.operators[0]), 'detector', 'a single operator is shown as its node')
  t.equal(displayName(pipeline, pipeline.operators[0]), 'pipeline/filter')
  t.equal(displayName({ id: 'camera', kind: 'custom' }), 'camera')
  t.equal(outputKey('camera', undefined, 'image'), 'camera/image')
  t.equal(outputKey('pipeline', 'filter', 'kept'), 'pipeline/filter/kept')
})
