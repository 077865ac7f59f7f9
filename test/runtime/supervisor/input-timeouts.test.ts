import t from 'tap'
import { parseDataflow } from '../../../src/spec/load.js'
import { buildRoutingTable } from '../../../runtime/supervisor/routing.js'
import { InputTimeouts, type InputTimeoutHooks } from '../../../runtime/supervisor/input-timeouts.js'

const YAML = `nodes:
  - id: src
    path: ./src.mjs
    outputs: [a, b]
  - id: sink
    path: ./sink.mjs
    inputs:
      watched: { source: src/a, input_timeout: 20ms }
      plain: src/b
`

// The clocks under test are unref()'d (a run's units keep the process alive, not their timers):
// hold the event loop open while the tests wait on them.
const keepAlive = setInterval(() => {}, 60_000)
t.teardown(() => clearInterval(keepAlive))

function setup(mayTimeOut: InputTimeoutHooks['mayTimeOut'] = () => true): { timeouts: InputTimeouts; events: string[]; next(): Promise<string> } {
  const routing = buildRoutingTable(parseDataflow(YAML, '/flows/t.yml', { checkFiles: false }))
  const events: string[] = []
  const waiters: Array<(e: string) => void> = []
  const push = (e: string): void => {
    events.push(e)
    waiters.shift()?.(e)
  }
  const timeouts = new InputTimeouts(routing.inputs, {
    mayTimeOut,
    timedOut: (receiver, input) => push(`closed ${receiver}/${input.id}`),
    recovered: (receiver, input) => push(`recovered ${receiver}/${input.id}`),
  })
  return { timeouts, events, next: () => new Promise((resolve) => waiters.push(resolve)) }
}

t.test('an input times out only after its first message, and recovers before the next one is queued', async (t) => {
  const { timeouts, events, next } = setup()
  t.teardown(() => timeouts.stop())
  // Not armed yet: a slow-starting sender is no timeout. Feeding arms it.
  timeouts.feed('sink', 'watched')
  t.equal(await next(), 'closed sink/watched')
  timeouts.feed('sink', 'watched')
  t.same(events, ['closed sink/watched', 'recovered sink/watched'], 'recovered is reported from feed(), before the message is queued')
  t.equal(await next(), 'closed sink/watched', 'and the clock runs again after the recovery')
})

t.test('inputs without input_timeout and unknown inputs are ignored', async (t) => {
  const { timeouts, events } = setup()
  timeouts.feed('sink', 'plain')
  timeouts.feed('nobody', 'watched')
  timeouts.stop()
  t.same(events, [])
})

t.test('no timeout when the run says the input may not time out (stopping, or closed by its sender)', async (t) => {
  let asked!: () => void
  const wasAsked = new Promise<void>((resolve) => (asked = resolve))
  const { timeouts, events } = setup((receiver, inputId) => {
    t.equal(`${receiver}/${inputId}`, 'sink/watched')
    asked()
    return false
  })
  t.teardown(() => timeouts.stop())
  timeouts.feed('sink', 'watched')
  await wasAsked
  t.same(events, [], 'it was asked, and closed nothing')
  timeouts.feed('sink', 'watched')
  t.same(events, [], 'and a later message is no recovery')
})

t.test('stop() clears every clock', async (t) => {
  const { timeouts, events } = setup()
  timeouts.feed('sink', 'watched')
  timeouts.stop()
  // Node fires timers in order of their due time: once a later one fired, the 20 ms watchdog
  // would have fired before it (whatever the load), had stop() not cleared it.
  await new Promise((resolve) => setTimeout(resolve, 100).unref())
  t.same(events, [])
})
