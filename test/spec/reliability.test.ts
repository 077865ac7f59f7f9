/**
 * `reliability: best_effort` on an input (issue 15): accepted between two custom nodes only,
 * and refused with a clear problem where it cannot mean what it says.
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
    says: ['cannot be measured'],
    hints: ['remove `input_timeout:`'],
  })
})

t.test('best_effort from an operator, into an operator or from a timer is DORA_SPEC_NOT_SUPPORTED naming the input', async (t) => {
  const fromOperator = reading('{ source: filter/small, reliability: best_effort }')
  expectProblem(t, problemsIn(fromOperator), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: fromOperator,
    needle: 'best_effort',
    nodeId: 'viewer',
    says: ['input "x" is `reliability: best_effort`, but it reads from "filter/small", an operator'],
    hints: ['make both the sender and the receiver custom nodes'],
  })
  const intoOperator =
    graph.replace('inputs: { frame: camera/frame }', 'inputs: { frame: { source: camera/frame, reliability: best_effort } }') + '      x: camera/frame\n'
  expectProblem(t, problemsIn(intoOperator), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: intoOperator,
    needle: 'best_effort',
    nodeId: 'filter',
    says: ['this input belongs to an operator'],
  })
  const timer = reading('{ source: dora/timer/millis/10, reliability: best_effort }')
  expectProblem(t, problemsIn(timer), {
    code: 'DORA_SPEC_NOT_SUPPORTED',
    text: timer,
    needle: 'best_effort',
    nodeId: 'viewer',
    says: ['it reads a timer'],
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
