/**
 * A custom node that dies of an uncaught exception is named by it in the run's report:
 * `exited with code 1: TypeError: ... (at ./node.mjs:24:20)`, where the report said only
 * `exited with code 1` and showed the end of Node's error block (src/transport/crash-note.ts).
 * One that dies before the SDK is loaded (a syntax error, a Python traceback) is named by the
 * error its stderr ends with, and an operator that fails to load by its error and its place
 * (src/transport/printed-failure.ts, runtime/operator/load-failure.ts). Real node and python3
 * processes through the real supervisor; each MODE of the fixture dies its own way.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
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
  t.match(error, /^exited with code 3: process\.exit\(3\) called \(at \S*uncaught\.mjs:\d+:\d+\)(;|$)/)
  t.notMatch(error, /TypeError/)
})

t.test('a process.exit() of the program is named with the place of the call', async (t) => {
  const error = await failureOf(t, 'exit')
  t.match(error, /^exited with code 4: process\.exit\(4\) called \(at \S*uncaught\.mjs:\d+:\d+\)(;|$)/)
})

t.test('an end with process.exitCode set has no call to name: its exit code alone is given', async (t) => {
  const error = await failureOf(t, 'exit-code')
  t.match(error, /^exited with code 5(;|$)/)
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

t.test('a node that cannot be parsed, or a Python node that raises, is named by the error its stderr ends with, and its line', async (t) => {
  const dir = t.testdir({
    // A parenthesis never closed: Node fails on the line after it, before any of it runs.
    'camera.mjs': "import { Node } from 'dora-ts'\nconst node = await Node.connect(\nfor await (const e of node.events()) {}\n",
    'detector.py': 'import sys\n\n\ndef load():\n    import cv2_not_installed\n\n\nload()\n',
  })
  const flow = await startInProcess(
    t,
    `nodes:
  - id: camera
    path: ${join(dir, 'camera.mjs')}
  - id: detector
    path: ${join(dir, 'detector.py')}
`,
    { dir },
  )
  const result = await flow.done
  t.notOk(result.ok, dump(flow.logs))
  const errors = new Map(result.units.map((u) => [u.unit, u.error]))
  t.match(errors.get('camera'), /^exited with code 1: SyntaxError: Unexpected token 'for' \(at \S*camera\.mjs:3\);/)
  t.match(errors.get('detector'), /^exited with code 1: ModuleNotFoundError: No module named 'cv2_not_installed' \(at \S*detector\.py:5\);/)
})

/** Run an operator whose module is `source` until it fails; its failure as the run reports it. */
async function operatorFailureOf(t: Test, source: string): Promise<string | undefined> {
  const dir = t.testdir({ 'operator.mjs': source })
  const flow = await startInProcess(
    t,
    `nodes:
  - id: op
    operator:
      javascript: ${join(dir, 'operator.mjs')}
      inputs:
        tick: dora/timer/millis/20
`,
    { dir },
  )
  const result = await flow.done
  t.notOk(result.ok, dump(flow.logs))
  return result.units[0]?.error
}

t.test('an operator whose module has a syntax error is named by it and its line', async (t) => {
  const error = await operatorFailureOf(t, "export default {\n  onInput(input, ctx) {\n    ctx.send('out', input.data\n  },\n}\n")
  // Before, without the place: `failed to load .../operator.mjs: missing ) after argument list`.
  t.match(error, /^failed to load \S+operator\.mjs: SyntaxError: missing \) after argument list \(at \S*operator\.mjs:3\)$/)
})

t.test("an operator whose init throws is named by the error and the operator's frame", async (t) => {
  const error = await operatorFailureOf(t, 'export default {\n  init(ctx) {\n    ctx.calibrate()\n  },\n  onInput() {},\n}\n')
  t.match(error, /^failed to load \S+operator\.mjs: TypeError: ctx\.calibrate is not a function \(at \S*operator\.mjs:3:\d+\)$/)
})
