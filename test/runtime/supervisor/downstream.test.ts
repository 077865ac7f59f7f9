import t from 'tap'
import type { DeliveredEvent } from '../../../src/events.js'
import { parseDataflow } from '../../../src/spec/load.js'
import { buildRoutingTable } from '../../../runtime/supervisor/routing.js'
import { Downstream } from '../../../runtime/supervisor/downstream.js'

const YAML = `nodes:
  - id: src
    path: ./src.mjs
    outputs: [a, b]
  - id: sink
    path: ./sink.mjs
    inputs:
      x: src/a
      y: src/b
  - id: ticking
    path: ./t.mjs
    inputs:
      x: src/a
      tick: dora/timer/millis/100
`

function setup(): { down: Downstream; got: Array<[string, DeliveredEvent]> } {
  const got: Array<[string, DeliveredEvent]> = []
  const down = new Downstream(buildRoutingTable(parseDataflow(YAML, '/flows/d.yml', { checkFiles: false })), (receiver, event) => got.push([receiver, event]))
  return { down, got }
}

t.test('closing outputs sends InputClosed, and Stop once every input fed by an output closed', async (t) => {
  const { down, got } = setup()
  t.equal(down.openOutputKey('src', 'a'), 'src/a')
  down.closeOutputs('src', ['a'])
  t.equal(down.openOutputKey('src', 'a'), undefined, 'a closed output takes no more messages')
  t.equal(down.isInputOpen('sink', 'x'), false)
  t.equal(down.isInputOpen('sink', 'y'), true)
  t.same(
    got,
    [
      ['sink', { type: 'input-closed', id: 'x' }],
      ['ticking', { type: 'input-closed', id: 'x' }],
    ],
    'a receiver with a timer input gets no Stop: timers never close',
  )
  got.length = 0
  down.closeOutputs('src', ['a', 'b', 'unknown'])
  t.same(
    got,
    [
      ['sink', { type: 'input-closed', id: 'y' }],
      ['sink', { type: 'stop', cause: 'all-inputs-closed' }],
    ],
    'an output closes once; the last open input brings Stop',
  )
})

t.test('a sender closing its own outputs tells best-effort receivers to wait for its marker on the link; an ended sender does not', async (t) => {
  const yaml = `nodes:
  - id: src
    path: ./src.mjs
    outputs: [a]
  - id: fast
    path: ./fast.mjs
    inputs:
      x: { source: src/a, reliability: best_effort }
  - id: safe
    path: ./safe.py
    inputs:
      x: src/a
`
  // safe is a Python script: its reliable input keeps the supervisor's path (no link log).
  const run = (bySender: boolean): Array<[string, DeliveredEvent]> => {
    const got: Array<[string, DeliveredEvent]> = []
    new Downstream(buildRoutingTable(parseDataflow(yaml, '/flows/d.yml', { checkFiles: false })), (receiver, event) =>
      got.push([receiver, event]),
    ).closeOutputs('src', ['a'], bySender)
    return got.filter(([, e]) => e.type === 'input-closed')
  }
  t.strictSame(
    run(true),
    [
      ['fast', { type: 'input-closed', id: 'x', linkClosed: true }],
      ['safe', { type: 'input-closed', id: 'x' }],
    ],
    'only the best-effort input is told, only when the sender closed',
  )
  t.strictSame(
    run(false),
    [
      ['fast', { type: 'input-closed', id: 'x' }],
      ['safe', { type: 'input-closed', id: 'x' }],
    ],
    'a sender that ended (killed) sent no marker: nothing to wait for',
  )
})

t.test('notify reaches each receiver once, with the inputs it feeds', async (t) => {
  const { down, got } = setup()
  down.notify('src', (inputs) => ({ type: 'node-failed', nodeId: 'src', error: 'boom', affectedInputs: inputs }))
  t.same(got, [
    ['sink', { type: 'node-failed', nodeId: 'src', error: 'boom', affectedInputs: ['x', 'y'] }],
    ['ticking', { type: 'node-failed', nodeId: 'src', error: 'boom', affectedInputs: ['x'] }],
  ])
  got.length = 0
  down.notify('sink', () => ({ type: 'node-restarted', nodeId: 'sink' }))
  t.same(got, [], 'a unit that feeds nobody notifies nobody')
})
