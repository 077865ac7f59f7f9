/**
 * `reliability: best_effort` on an input (issues 15 and 11): accepted between two custom nodes
 * and between two operators, and refused with a clear problem where it cannot mean what it says.
 */
import t from 'tap'
import type { CustomNodeSpec } from '../../src/spec/types.js'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

const graph = `nodes:
  - id: camera
    path: ./camera.ts
    outputs: [frame]
  - id: filter
    operator:
      typescript: ./filter.ts
      inputs: { frame: camera/frame }
      outputs: [small]
  - id: detect
    operators:
      - id: boxes
        typescript: ./boxes.ts
        inputs: { small: filter/small }
        outputs: [found]
  - id: viewer
    path: ./viewer.ts
    inputs:
`

const reading = (input: string): string => `${graph}      x: ${input}\n`

t.test('best_effort between two custom nodes is accepted; reliable is the default', async (t) => {
  const spec = parseOk(reading('{ source: camera/frame, reliability: best_effort, queue_size: 2 }'))
  const viewer = spec.nodes.find((n) => n.id === 'viewer') as CustomNodeSpec
  t.equal(viewer.inputs[0]?.reliability, 'best_effort')
  t.equal(viewer.inputs[0]?.queueSize, 2)
  const plain = parseOk(reading('camera/frame')).nodes.find((n) => n.id === 'viewer') as CustomNodeSpec
  t.equal(plain.inputs[0]?.reliability, 'reliable')
  const explicit = parseOk(reading('{ source: camera/frame, reliability: reliable }')).nodes.find((n) => n.id === 'viewer') as CustomNodeSpec
  t.equal(explicit.inputs[0]?.reliability, 'reliable')
})

t.test('best_effort with backpressure is DORA_SPEC_CONFLICTING_KEYS: best effort drops, it never makes the sender wait', async (t) => {
  const text = reading('{ source: camera/frame, reliability: best_effort, queue_policy: backpressure }')
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_CONFLICTING_KEYS',
    text,
    needle: 'best_effort',
    nodeId: 'viewer',
    says: ['input "x" is `reliability: best_effort`', '`queue_policy: backpressure`'],
    hints: ['remove `queue_policy: backpressure`'],
  })
})

t.test('best_effort with input_timeout is DORA_SPEC_CONFLICTING_KEYS: the supervisor never sees those messages', async (t) => {
  const text = reading('{ source: camera/frame, reliability: best_effort, input_timeout: 2 }')
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_CONFLICTING_KEYS',
    text,
    needle: 'input_timeout',
    nodeId: 'viewer',
    says: ['`input_timeout` cannot be used on it'],
    hints: ['remove `input_timeout:`'],
  })
})

t.test('best_effort between two operators is accepted, in both forms of operator node', async (t) => {
  const single = graph.replace('inputs: { small: filter/small }', 'inputs: { small: { source: filter/small, reliability: best_effort, queue_size: 3 } }')
  const boxes = parseOk(single + '      x: camera/frame\n').nodes.find((n) => n.id === 'detect')
  t.equal(boxes?.kind, 'operators')
  const input = boxes?.kind === 'operators' ? boxes.operators[0]?.inputs[0] : undefined
  t.equal(input?.reliability, 'best_effort')
  t.equal(input?.queueSize, 3)
  t.equal(input?.queuePolicy, 'drop_oldest', 'best effort drops the oldest by default')
  // From an operator of an `operators:` list into a single operator.
  const listed = graph.replace(
    'inputs: { frame: camera/frame }',
    'inputs: { frame: camera/frame, back: { source: detect/boxes/found, reliability: best_effort } }',
  )
  const filter = parseOk(listed + '      x: camera/frame\n').nodes.find((n) => n.id === 'filter')
  const back = filter?.kind === 'operators' ? filter.operators[0]?.inputs.find((i) => i.id === 'back') : undefined
  t.equal(back?.reliability, 'best_effort')
})

t.test('best_effort across the two kinds or from a timer is DORA_SPEC_NOT_SUPPORTED naming the input and both kinds', async (t) => {
  const fromOperator = reading('{ source: filter/small, reliability: best_effort }')
  expectProblem(t, problemsIn(fromOperator), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: fromOperator,
    needle: 'best_effort',
    nodeId: 'viewer',
    says: ['input "x" is `reliability: best_effort` and belongs to a custom node, but it reads from "filter/small", an operator'],
    hints: ['both custom nodes (`path:`) or both operators'],
  })
  const intoOperator =
    graph.replace('inputs: { frame: camera/frame }', 'inputs: { frame: { source: camera/frame, reliability: best_effort } }') + '      x: camera/frame\n'
  expectProblem(t, problemsIn(intoOperator), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: intoOperator,
    needle: 'best_effort',
    nodeId: 'filter',
    says: ['belongs to an operator, but it reads from "camera/frame", a custom node'],
  })
  const timer = reading('{ source: dora/timer/millis/10, reliability: best_effort }')
  expectProblem(t, problemsIn(timer), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: timer,
    needle: 'best_effort',
    nodeId: 'viewer',
    says: ['it reads a timer'],
  })
  const operatorTimer =
    graph.replace('inputs: { small: filter/small }', 'inputs: { small: filter/small, tick: { source: dora/timer/millis/5, reliability: best_effort } }') +
    '      x: camera/frame\n'
  expectProblem(t, problemsIn(operatorTimer), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: operatorTimer,
    needle: 'best_effort',
    nodeId: 'detect',
    says: ['input "tick"', 'it reads a timer'],
  })
})

t.test('an unknown reliability is DORA_SPEC_INVALID_VALUE with a did-you-mean', async (t) => {
  const text = reading('{ source: camera/frame, reliability: best-effort }')
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_INVALID_VALUE',
    text,
    needle: 'best-effort',
    nodeId: 'viewer',
    says: ['`reliability` must be one of reliable, best_effort', 'did you mean "best_effort"?'],
  })
})
