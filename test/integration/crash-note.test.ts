/**
 * A custom node that dies of an uncaught exception is named by it in the run's report:
 * `exited with code 1: TypeError: ... (at ./node.mjs:24:20)`, where the report said only
 * `exited with code 1` and showed the end of Node's error block (src/transport/crash-note.ts).
 * Real node processes through the real supervisor; each MODE of the fixture dies its own way.
 */
import t, { type Test } from 'tap'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

/** Run the fixture node in `mode` until it ends; its failure as the run reports it. */
async function failureOf(t: Test, mode: string): Promise<string | undefined> {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: crasher
    path: ${fixture('uncaught.mjs')}
    env:
      MODE: ${mode}
    inputs:
      tick: dora/timer/millis/20
    outputs:
      - out
`,
  )
  const result = await flow.done
  t.notOk(result.ok, dump(flow.logs))
  return result.units.find((unit) => unit.unit === 'crasher')?.error
}

t.test('a TypeError in the event loop is named with the place in the program', async (t) => {
  const error = await failureOf(t, 'throw')
  t.match(error, /^exited with code 1: TypeError: Cannot read properties of undefined \(reading 'x'\) \(at \S*uncaught\.mjs:\d+:\d+\)/)
})

t.test("an unhandled rejection of the SDK's own error is named with its code", async (t) => {
  const error = await failureOf(t, 'reject')
  t.match(error, /^exited with code 1: \w+Error: .*not-declared.* \[DORA_\w+\]/)
})

t.test('an exception thrown before Node.connect() is named too', async (t) => {
  const error = await failureOf(t, 'before-connect')
  t.match(error, /^exited with code 1: RangeError: no calibration file for this camera \(at \S*uncaught\.mjs:\d+:\d+\)/)
})

t.test('an exception the program handles itself is not the reason given: its own exit is', async (t) => {
  const error = await failureOf(t, 'handled')
  t.match(error, /^exited with code 3(;|$)/)
  t.notMatch(error, /TypeError/)
})

t.test('each crash of a restarting node is named, the last one in the final failure', async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: crasher
    path: ${fixture('uncaught.mjs')}
    restart_policy: on-failure
    max_restarts: 2
    restart_delay: 0ms
    env:
      MODE: throw
    inputs:
      tick: dora/timer/millis/20
`,
  )
  const result = await flow.done
  t.match(result.units[0]?.error, /^exited with code 1: TypeError: .*; not restarted: it was restarted 2 times/)
  const restarts = flow.logs.filter((l) => /crasher exited with code 1: TypeError: .*; restarting in/.test(l.text))
  t.equal(restarts.length, 2, dump(flow.logs))
})
