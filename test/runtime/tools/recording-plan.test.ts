/**
 * What `dora-ts record` and `replay` make of a dataflow (runtime/tools/recording-plan.ts): the
 * recorder added with one reliable input per topic, replay nodes in place of recorded ones,
 * and each way it refuses, naming what to do.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { parseDataflow } from '../../../src/spec/load.js'
import { RECORDER_ID, RECORDER_QUEUE, recordableTopics, withRecorder, withReplay } from '../../../runtime/tools/recording-plan.js'
import { RecordingPlanError } from '../../../src/recording/errors.js'
import type { CustomNodeSpec, OperatorNodeSpec } from '../../../src/spec/types.js'

const YAML = `nodes:
  - id: camera
    path: camera.mjs
    outputs: [image, info]
  - id: filter
    operator:
      javascript: filter.mjs
      inputs: { image: camera/image }
      outputs: [clean]
  - id: perception
    operators:
      - id: detector
        javascript: detector.mjs
        inputs: { image: filter/clean }
        outputs: [boxes]
  - id: viewer
    path: viewer.mjs
    inputs:
      image: camera/image
      boxes: { source: perception/detector/boxes, queue_size: 2 }
      errors: filter/_errors
  - id: monitor
    path: monitor.mjs
    inputs:
      info: { source: camera/info, reliability: best_effort }
`
const spec = parseDataflow(YAML, '/robot/dataflow.yml', { checkFiles: false })

t.test('every output is a topic, as inputs name them', async (t) => {
  t.same(recordableTopics(spec), ['camera/image', 'camera/info', 'filter/clean', 'perception/detector/boxes'])
})

t.test('record adds one node with a reliable input per topic, and changes nothing else', async (t) => {
  const { spec: recorded, topics } = withRecorder(spec, '/tmp/r.dtsrec', ['camera/image', 'perception/detector/boxes', 'filter/_errors'])
  t.same(topics, ['camera/image', 'perception/detector/boxes', 'filter/_errors'])
  t.same(recorded.nodes.slice(0, -1), spec.nodes)
  const recorder = recorded.nodes.at(-1) as CustomNodeSpec
  t.equal(recorder.id, RECORDER_ID)
  t.ok(existsSync(recorder.path), `its program is built: ${recorder.path}`)
  t.same(
    recorder.inputs.map((i) => ({ id: i.id, source: i.source, reliability: i.reliability, queueSize: i.queueSize })),
    [
      { id: 't0', source: { kind: 'output', node: 'camera', output: 'image' }, reliability: 'reliable', queueSize: RECORDER_QUEUE },
      { id: 't1', source: { kind: 'output', node: 'perception', operator: 'detector', output: 'boxes' }, reliability: 'reliable', queueSize: RECORDER_QUEUE },
      { id: 't2', source: { kind: 'output', node: 'filter', output: '_errors' }, reliability: 'reliable', queueSize: RECORDER_QUEUE },
    ],
  )
  t.same(JSON.parse(recorder.env['DORA_TS_RECORD_TOPICS']!), { t0: 'camera/image', t1: 'perception/detector/boxes', t2: 'filter/_errors' })
  t.equal(recorder.env['DORA_TS_RECORD_FILE'], '/tmp/r.dtsrec')
  t.equal(recorder.restart.policy, 'on-failure', 'killed, it goes on')
  t.same(withRecorder(spec, '/tmp/r', []).topics, recordableTopics(spec), 'no topics named: all of them')
})

t.test('a stream its receivers all take best effort is recorded best effort; anything else reliably', async (t) => {
  const { spec: recorded } = withRecorder(spec, '/tmp/r', [])
  const recorder = recorded.nodes.at(-1) as CustomNodeSpec
  t.same(
    recorder.inputs.map((i) => [i.source.kind === 'output' ? i.source.output : '', i.reliability]),
    [
      ['image', 'reliable'],
      ['info', 'best_effort'],
      ['clean', 'reliable'],
      ['boxes', 'reliable'],
    ],
  )
})

t.test('record refuses a topic the dataflow does not have, and a node already named like the recorder', async (t) => {
  t.throws(() => withRecorder(spec, '/tmp/r', ['camera/img']), {
    constructor: RecordingPlanError,
    message: 'dataflow "dataflow" has no output "camera/img" to record',
  })
  const clash = parseDataflow(`nodes:\n  - id: ${RECORDER_ID}\n    path: x.mjs\n    outputs: [a]\n`, '/robot/x.yml', { checkFiles: false })
  t.throws(() => withRecorder(clash, '/tmp/r', []), { constructor: RecordingPlanError, message: /already has a node named "dora-ts-recorder"/ })
})

t.test('replay stands in for recorded nodes with their ids and outputs; others run live', async (t) => {
  const recorded = new Set(['camera/image', 'filter/clean', 'perception/detector/boxes'])
  const { spec: replayed, replaced, notes } = withReplay(spec, recorded, { file: '/tmp/r.dtsrec', speed: 1, loop: false, replace: [] })
  t.same(replaced, ['camera', 'filter'])
  t.match(notes, [/node "perception" runs live: it has several operators/])
  const camera = replayed.nodes[0] as CustomNodeSpec
  t.same(
    { id: camera.id, kind: camera.kind, outputs: camera.outputs, inputs: camera.inputs },
    { id: 'camera', kind: 'custom', outputs: ['image', 'info'], inputs: [] },
  )
  t.same(
    { node: camera.env['DORA_TS_REPLAY_NODE'], file: camera.env['DORA_TS_REPLAY_FILE'], speed: camera.env['DORA_TS_REPLAY_SPEED'] },
    { node: 'camera', file: '/tmp/r.dtsrec', speed: '1' },
  )
  t.equal(camera.restart.policy, 'never')
  const filter = replayed.nodes[1] as CustomNodeSpec
  t.same(filter.outputs, ['clean', '_errors'], "an operator's outputs, its _errors too (the viewer reads it)")
  t.same(replayed.nodes[2], spec.nodes[2], 'the node of several operators is as it was')
  const viewer = replayed.nodes[3] as CustomNodeSpec
  t.same(
    viewer.inputs.map((i) => i.queuePolicy),
    ['drop_oldest', 'drop_oldest', 'drop_oldest'],
    'at the recorded pace, queues as they were',
  )
})

t.test('replay at full speed makes the inputs the replay feeds wait for their receivers', async (t) => {
  const { spec: fast } = withReplay(spec, new Set(['camera/image']), { file: '/r', speed: 0, loop: false, replace: ['camera'] })
  const viewer = fast.nodes[3] as CustomNodeSpec
  t.same(
    viewer.inputs.map((i) => [i.id, i.queuePolicy]),
    [
      ['image', 'backpressure'],
      ['boxes', 'drop_oldest'],
      ['errors', 'drop_oldest'],
    ],
  )
  const filter = fast.nodes[1] as OperatorNodeSpec
  t.equal(filter.operators[0]!.inputs[0]!.queuePolicy, 'backpressure', "an operator's input too")
})

t.test('replay refuses what it cannot stand in for, naming what it can', async (t) => {
  const recorded = new Set(['camera/image', 'perception/detector/boxes', 'gone/out'])
  t.throws(() => withReplay(spec, recorded, { file: '/r', speed: 1, loop: false, replace: ['viewer'] }), {
    constructor: RecordingPlanError,
    message: 'the recording holds no message of node "viewer"',
  })
  t.throws(() => withReplay(spec, recorded, { file: '/r', speed: 1, loop: false, replace: ['perception'] }), {
    constructor: RecordingPlanError,
    message: /node "perception" has several operators/,
  })
  t.throws(() => withReplay(spec, recorded, { file: '/r', speed: 1, loop: false, replace: [] }), {
    constructor: RecordingPlanError,
    message: /the recording holds messages of node "gone", which dataflow "dataflow" \(\/robot\/dataflow\.yml\) does not have/,
  })
})
