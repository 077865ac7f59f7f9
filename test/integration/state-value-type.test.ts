/**
 * An operator that hands saveState a value that is not bytes is told so in those words: the
 * crash said it "tried to send a number payload", though it sent nothing. A real worker thread.
 */
import t from 'tap'
import { dump, startInProcess } from './fixtures/in-process.js'

t.test('saveState with a number names saveState, the key and how to encode it', async (t) => {
  const dir = t.testdir({
    'counter.mjs': `import { defineOperator } from 'dora-ts'
let count = 0
export default defineOperator({ onInput(_input, ctx) { ctx.saveState('count', ++count) } })
`,
  })
  const flow = await startInProcess(
    t,
    `nodes:
  - id: counter
    operator:
      javascript: ./counter.mjs
      inputs:
        tick: dora/timer/millis/20
      restart_policy: never
`,
    { dir },
  )
  const result = await flow.done
  const error = result.units.find((u) => u.unit === 'counter')?.error
  t.match(
    error,
    /^crashed: operator "counter\/counter" passed saveState\("count"\) a number value; state values are Uint8Array \[DORA_INVALID_STATE_VALUE\]/,
    dump(flow.logs),
  )
  t.notMatch(error, /tried to send/, 'it sent nothing')
})
