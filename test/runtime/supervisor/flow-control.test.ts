/**
 * Backpressure bookkeeping (runtime/supervisor/flow-control.ts) on the routing of a real dataflow spec:
 * which output pauses when, and when it resumes. The end-to-end effect (a sender really held
 * back) is tested with real processes in test/e2e/run.test.ts.
 */
import t from 'tap'
import { parseDataflow } from '../../../src/spec/load.js'
import { FlowControl } from '../../../runtime/supervisor/flow-control.js'
import { buildRoutingTable } from '../../../runtime/supervisor/routing.js'

const YAML = `nodes:
  - id: camera
    path: camera.js
    outputs: [image, depth]
  - id: slow
    path: slow.js
    inputs:
      image: { source: camera/image, queue_size: 4, queue_policy: backpressure }
      depth: { source: camera/depth, queue_size: 4 }
  - id: other
    path: other.js
    inputs:
      image: { source: camera/image, queue_size: 2, queue_policy: backpressure }
      tick: { source: dora/timer/millis/10, queue_policy: backpressure }
`

function setup(): { flow: FlowControl; changes: Array<[string, string[]]> } {
  const changes: Array<[string, string[]]> = []
  const routing = buildRoutingTable(parseDataflow(YAML, '/flows/bp.yml', { checkFiles: false }))
  const flow = new FlowControl(routing, (producer, paused) => changes.push([producer, [...paused].sort()]))
  return { flow, changes }
}

t.test('an output pauses when a backpressure queue is full and resumes at half of it', async (t) => {
  const { flow, changes } = setup()
  flow.queued('slow', 'depth', 100)
  flow.queued('other', 'tick', 100)
  t.same(changes, [], 'drop_oldest inputs and timers never pause anything')
  for (let n = 1; n <= 3; n++) flow.queued('slow', 'image', n)
  t.same(changes, [], 'below queue_size: nothing')
  flow.queued('slow', 'image', 4)
  t.same(changes, [['camera', ['image']]], 'full: the feeding output pauses')
  flow.queued('slow', 'image', 5)
  flow.queued('slow', 'image', 3)
  t.equal(changes.length, 1, 'no repeat while it stays above half')
  flow.queued('slow', 'image', 2)
  t.same(changes.at(-1), ['camera', []], 'at half: resumed')
})

t.test('an output feeding two receivers stays paused while either is full', async (t) => {
  const { flow, changes } = setup()
  flow.queued('slow', 'image', 4)
  flow.queued('other', 'image', 2)
  t.equal(changes.length, 1, 'already paused: no second notice')
  flow.queued('slow', 'image', 0)
  t.same(changes, [['camera', ['image']]], 'the other receiver still holds it')
  flow.queued('other', 'image', 1)
  t.same(changes.at(-1), ['camera', []])
})

t.test('a receiver that ends releases what it held; releaseAll resumes everything for good', async (t) => {
  const { flow, changes } = setup()
  flow.queued('slow', 'image', 4)
  flow.release('slow')
  t.same(changes.at(-1), ['camera', []], 'released when the receiver ended')
  flow.queued('other', 'image', 2)
  t.same(changes.at(-1), ['camera', ['image']])
  flow.releaseAll()
  t.same(changes.at(-1), ['camera', []], 'stopping: resumed')
  flow.queued('other', 'image', 10)
  t.same(changes.at(-1), ['camera', []], 'and never paused again')
})

t.test('a producer stopped alone is resumed for good', async (t) => {
  const { flow, changes } = setup()
  flow.queued('slow', 'image', 4)
  t.same(changes.at(-1), ['camera', ['image']])
  flow.releaseProducer('camera')
  t.same(changes.at(-1), ['camera', []], 'resumed at once')
  flow.queued('slow', 'image', 10)
  flow.queued('other', 'image', 10)
  t.same(changes.at(-1), ['camera', []], 'and never paused again')
  t.equal(changes.length, 2)
})
