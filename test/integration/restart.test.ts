/** Restart policies of custom nodes: processes restarted per dora's keys, seen downstream. */
import t from 'tap'
import { fixture } from '../fixtures/nodes.js'
import type { CustomNode } from '../../runtime/supervisor/custom-node.js'
import { WAIT_LIMIT_MS, waitFor, within } from '../fixtures/wait-for.js'
import { dump, startInProcess, type InProcessRun } from './fixtures/in-process.js'

/** source -> flaky (crashes on its third input, in its first life) -> sink; `env` adds to a node's env map. */
function flakyFlow(restartKeys: string, env: { source?: string; flaky?: string } = {}, head = ''): string {
  return `${head}nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { ${env.source ?? 'COUNT: 30'} }
    outputs: [numbers]
  - id: flaky
    path: ${fixture('flaky-node.mjs')}
    env: { FAIL_AFTER: 3${env.flaky ?? ''} }
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

/** The pid of a custom node's current process. */
function pidOf(flow: InProcessRun, id: string): number {
  const pid = (flow.run.units.get(id) as CustomNode).pid
  if (pid === undefined) throw new Error(`${id} has no process`)
  return pid
}

t.test('a custom node with restart_policy on-failure is restarted, knows it, and its receivers are told', async (t) => {
  // The source sends 3 numbers (the third crashes flaky), then the rest only once flaky has
  // crashed: whenever its process starts and however slowly it runs, the rest reaches the
  // new process (queued while it is down, or sent to it).
  const flow = await startInProcess(t, flakyFlow('    restart_policy: on-failure\n    restart_delay: 10ms', { source: 'COUNT: 30, GO_AFTER: 3' }))
  await flow.waitForLine(/^flaky exited with code 1: process\.exit\(1\) called \(at \S*flaky-node\.mjs:\d+:\d+\); restarting in 10 ms \(restart 1\)$/)
  process.kill(pidOf(flow, 'source'), 'SIGUSR1')
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.same(
    flow.lines('flaky').filter((l) => l.startsWith('started')),
    ['started restartCount=0 isRestart=false', 'started restartCount=1 isRestart=true'],
  )
  const sink = flow.lines('sink')
  t.ok(sink.includes('node-restarted flaky'), 'the sink got NodeRestarted')
  const values = sink.flatMap((l) => /^got numbers (\d+)/.exec(l)?.slice(1).map(Number) ?? [])
  t.same(
    values.slice(-27),
    Array.from({ length: 27 }, (_, i) => i + 4),
    'every number sent after the crash, in order',
  )
})

t.test('a custom node with the default policy (never) fails the run when it crashes', async (t) => {
  const flow = await startInProcess(t, flakyFlow(''))
  const result = await flow.done
  t.notOk(result.ok)
  t.match(
    result.units.find((u) => u.unit === 'flaky')?.error,
    /exited with code 1: process\.exit\(1\) called \(at \S*flaky-node\.mjs:\d+:\d+\); not restarted: restart_policy is never/,
  )
  t.same(result.units.find((u) => u.unit === 'flaky')?.stderrTail, ['flaky: giving up'])
})

// Regression: a node that registered late got its queued inputs, the InputClosed and
// Stop(all-inputs-closed) in one batch, and sending that Stop marked it as stopping, so a crash
// on one of those inputs (before it even read Stop) counted as a deliberate exit: never
// restarted under on-failure, and reported without the policy's reason. It failed
// test/e2e/restart.test.ts on a loaded machine whenever flaky started after the source ended.
// On both paths of a reliable input: through the supervisor (the inbox holds the 5 inputs too)
// and on a reliable direct link (the default: the inputs wait in the source's link log).
for (const [policy, keys, path] of [
  ['on-failure', '    restart_policy: on-failure\n    restart_delay: 10ms', 'supervisor'],
  ['never', '', 'supervisor'],
  ['on-failure', '    restart_policy: on-failure\n    restart_delay: 10ms', 'direct link'],
  ['never', '', 'direct link'],
] as const) {
  t.test(`a crash on an input queued ahead of Stop(all-inputs-closed) is a crash (restart_policy ${policy}, ${path})`, async (t) => {
    const head = path === 'supervisor' ? '_unstable_direct_links: false\n' : ''
    const flow = await startInProcess(t, flakyFlow(keys, { source: 'COUNT: 5', flaky: ', CONNECT_ON_SIGNAL: "1"' }, head))
    const flaky = flow.run.units.get('flaky')!
    // 5 inputs (on the supervisor's path), InputClosed and Stop, all queued before flaky registers.
    const queued = path === 'supervisor' ? 7 : 2
    await waitFor(() => flaky.inbox.length === queued, {
      what: `flaky's inbox to hold ${queued} events (the source's numbers, InputClosed and Stop)`,
      detail: () => dump(flow.logs),
    })
    await flow.waitForLine(/^waiting for SIGUSR1$/)
    process.kill(pidOf(flow, 'flaky'), 'SIGUSR1')
    if (policy === 'on-failure') {
      // The new process is told again that its input is closed, and ends.
      await waitFor(() => flow.lines('flaky').filter((l) => l === 'waiting for SIGUSR1').length === 2, {
        what: 'the restarted flaky',
        detail: () => dump(flow.logs),
      })
      process.kill(pidOf(flow, 'flaky'), 'SIGUSR1')
      const result = await flow.done
      t.ok(result.ok, dump(flow.logs))
      t.same(
        flow.lines('flaky').filter((l) => l.startsWith('started')),
        ['started restartCount=0 isRestart=false', 'started restartCount=1 isRestart=true'],
      )
      t.ok(flow.lines('sink').includes('node-restarted flaky'), 'the sink got NodeRestarted')
    } else {
      const result = await flow.done
      t.notOk(result.ok)
      t.match(
        result.units.find((u) => u.unit === 'flaky')?.error,
        /^exited with code 1: process\.exit\(1\) called \(at \S*flaky-node\.mjs:\d+:\d+\); not restarted: restart_policy is never$/,
      )
    }
  })
}

/** A source that sends 1..3 on `numbers` and ends (its keys follow in the YAML that uses it). */
const SOURCE_OF_THREE = `  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 3 }
    outputs: [numbers]
`

t.test('a node under restart_policy always that ends after its inputs closed is not restarted', async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
${SOURCE_OF_THREE}  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { numbers: source/numbers }
    restart_policy: always
    restart_delay: 10ms
`,
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.same(
    flow.lines('sink').filter((l) => l.startsWith('got') || l.startsWith('stop')),
    ['got numbers 1 seq=1 from=source', 'got numbers 2 seq=2 from=source', 'got numbers 3 seq=3 from=source', 'stop all-inputs-closed'],
  )
  t.notMatch(dump(flow.logs), /restarting in/)
})

t.test('a node under restart_policy always that ends cleanly keeps its outputs open: every life reaches its receivers, whatever the path', async (t) => {
  // The source sends 1..3 and closes, three times (two restarts): a driver that exits when its
  // device drops and is brought back. Its receivers read on a reliable direct link (sink), a
  // best-effort link (be-sink) and the supervisor's path (backpressure keeps it there). Before,
  // its first close ended all three inputs, and lives 1 and 2 sent to no one.
  const sinkOn = (id: string, input: string) => `  - id: ${id}
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: ${input}
`
  const flow = await startInProcess(
    t,
    `nodes:
${SOURCE_OF_THREE}    restart_policy: always
    max_restarts: 2
    restart_delay: 10ms
${sinkOn('sink', 'source/numbers')}${sinkOn('be-sink', '{ source: source/numbers, reliability: best_effort }')}${sinkOn('sup-sink', '{ source: source/numbers, queue_policy: backpressure }')}`,
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.equal((dump(flow.logs).match(/source exited; restarting in/g) ?? []).length, 2, 'restarted twice after clean ends')
  const got = (id: string) => flow.lines(id).flatMap((l) => /^got numbers (\d+)/.exec(l)?.slice(1).map(Number) ?? [])
  const ending = (id: string) => flow.lines(id).filter((l) => l.startsWith('closed') || l.startsWith('stop'))
  for (const id of ['sink', 'sup-sink']) {
    t.same(got(id), [1, 2, 3, 1, 2, 3, 1, 2, 3], `${id}: every number of the three lives, in order`)
    t.same(ending(id), ['closed numbers', 'stop all-inputs-closed'], `${id}: its input closed once, when the source ended for good`)
    t.equal(flow.lines(id).filter((l) => l === 'node-restarted source').length, 2, `${id}: told of both restarts`)
  }
  // Best effort may drop, but it has no reason to at this pace: more than the first life's come.
  t.ok(got('be-sink').filter((n) => n === 1).length >= 2, `be-sink: numbers of later lives came (${got('be-sink').join(',')})`)
  t.same(ending('be-sink'), ['closed numbers', 'stop all-inputs-closed'], 'be-sink: its input closed once, at the end')
})

t.test('a Stop while a node waits for its restart ends it at once: finished after a clean exit, failed with its crash after one', async (t) => {
  // Before, the restart went ahead after the Stop, the new process ended before it took the
  // Stop, and so on until the grace period ran out: "did not stop within the grace period".
  for (const [policy, exitCode] of [
    ['always', 0],
    ['on-failure', 3],
  ] as const) {
    const flow = await startInProcess(
      t,
      `nodes:
  - id: brief
    path: ${fixture('connect-and-exit.mjs')}
    env: { EXIT_CODE: ${exitCode} }
    restart_policy: ${policy}
    restart_delay: 30s
`,
      // A grace period no run could wait out here: the end must come from the Stop itself.
      { graceMs: 600_000 },
    )
    await flow.waitForLine(/^brief .*; restarting in 30000 ms \(restart 1\)$/)
    flow.run.stop()
    const result = await within(flow.done, WAIT_LIMIT_MS)
    if (result === undefined) return void t.fail(`policy ${policy}: the run did not end after its Stop\n${dump(flow.logs)}`)
    if (exitCode === 0) t.match(result, { ok: true, units: [{ unit: 'brief', status: 'finished' }] }, `${policy}: ended cleanly`)
    else
      t.match(
        result,
        { ok: false, units: [{ unit: 'brief', status: 'failed', error: 'exited with code 3; not restarted: the dataflow is stopping' }] },
        `${policy}: its crash`,
      )
    t.notMatch(dump(flow.logs), /restart 2/, `${policy}: never restarted after the Stop`)
  }
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
  t.match(
    result.units[0]?.error,
    /exited with code 3: process\.exit\(3\) called \(at \S*broken\.mjs:\d+:\d+\); not restarted: it was restarted 2 times \(max_restarts 2\)/,
  )
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
