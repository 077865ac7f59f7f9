/** Restart policies of custom nodes: processes restarted per dora's keys, seen downstream. */
import t from 'tap'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

function flakyFlow(restartKeys: string): string {
  return `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 30, DELAY_MS: 20 }
    outputs: [numbers]
  - id: flaky
    path: ${fixture('flaky-node.mjs')}
    inputs:
      numbers: { source: source/numbers, queue_size: 1000 }
    outputs: [numbers]
${restartKeys}
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: flaky/numbers, queue_size: 1000 }
`
}

t.test('a custom node with restart_policy on-failure is restarted, knows it, and its receivers are told', async (t) => {
  const flow = await startInProcess(t, flakyFlow('    restart_policy: on-failure\n    restart_delay: 10ms'))
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.same(flow.lines('flaky').filter((l) => l.startsWith('started')), ['started restartCount=0 isRestart=false', 'started restartCount=1 isRestart=true'])
  t.match(dump(flow.logs), /flaky exited with code 1; restarting in 10 ms \(restart 1\)/)
  const sink = flow.lines('sink')
  t.ok(sink.includes('node-restarted flaky'), 'the sink got NodeRestarted')
  // Inputs queued while it was down are delivered to the new process.
  const values = sink.flatMap((l) => /^got numbers (\d+)/.exec(l)?.slice(1).map(Number) ?? [])
  t.equal(values.at(-1), 30)
})

t.test('a custom node with the default policy (never) fails the run when it crashes', async (t) => {
  const flow = await startInProcess(t, flakyFlow(''))
  const result = await flow.done
  t.notOk(result.ok)
  t.match(result.units.find((u) => u.unit === 'flaky')?.error, /exited with code 1; not restarted: restart_policy is never/)
  t.same(result.units.find((u) => u.unit === 'flaky')?.stderrTail, ['flaky: giving up'])
})

t.test('max_restarts bounds the restarts of a node that keeps crashing', async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: broken
    path: ${fixture('broken.mjs')}
    inputs: { tick: dora/timer/millis/10 }
    restart_policy: always
    max_restarts: 2
    restart_delay: 10ms
`,
  )
  const result = await flow.done
  t.notOk(result.ok)
  t.match(result.units[0]?.error, /exited with code 3; not restarted: it was restarted 2 times \(max_restarts 2\)/)
  t.equal((dump(flow.logs).match(/restarting in/g) ?? []).length, 2)
})

t.test('a node that never registers within health_check_timeout is killed and counts as failed', async (t) => {
  const dir = t.testdir({ 'silent.mjs': 'setInterval(() => {}, 1000)\n' })
  const flow = await startInProcess(
    t,
    `nodes:
  - id: silent
    path: ${dir}/silent.mjs
    health_check_timeout: 300ms
`,
    { dir },
  )
  const result = await flow.done
  t.notOk(result.ok)
  t.match(result.units[0]?.error, /did not register within health_check_timeout \(0.3 s\); not restarted: restart_policy is never/)
})
