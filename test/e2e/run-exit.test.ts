/**
 * `dora-ts run` end to end, how a run ends other than by its dataflow finishing: Ctrl-C (from
 * the CLI's parent and from a terminal), a node that ignores Stop, a SIGKILLed supervisor, a
 * failing node or operator, garbage on the supervisor socket and bad command-line values, with
 * the exit code and what is left behind; and a run held up (SIGSTOP) says so when it goes on.
 * The real CLI, nodes and operators, as in run.test.ts; every wait is bounded and nothing
 * asserts a duration.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { alive, printedPids, runCli, startCli, waitForExit } from './fixtures/cli.js'
import { dataflow, received, TICKING_SINK } from './fixtures/run-dataflows.js'
import { fixture } from '../fixtures/nodes.js'

t.test('Ctrl-C sends Stop to every node, ends with exit code 0 and leaves no process or socket behind', async (t) => {
  const { file, runtimeDir } = dataflow(
    t,
    `nodes:
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
  - id: idle
    path: ${fixture('sink.mjs')}
  - id: plus-one
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs: { tick: dora/timer/millis/50 }
      outputs: [numbers]
`,
  )
  const cli = startCli(['run', file], { env: { DORA_TS_RUNTIME_DIR: runtimeDir } })
  await cli.waitFor(/\[sink\] got tick null seq=3/)
  await cli.waitFor(/pid=\d+[\s\S]*pid=\d+/)
  const pids = printedPids(cli.output().stdout)
  t.equal(pids.length, 2, 'both custom nodes printed their pid')
  cli.child.kill('SIGINT')
  const result = await cli.exited
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /\[sink\] stop manual/)
  t.match(result.stdout, /\[idle\] stop manual/, 'a node without inputs gets Stop too (unlike dora #500)')
  t.match(result.stdout, /\[plus-one\] stop manual/)
  t.same(await waitForExit(pids), [], 'no node outlives the run')
  t.same(
    readdirSync(runtimeDir).flatMap((d) => readdirSync(join(runtimeDir, d))),
    [],
    'no socket file is left',
  )
})

t.test('a node that exits with an error fails the run with its id and its last stderr lines', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: broken
    path: ${fixture('broken.mjs')}
    inputs: { tick: dora/timer/millis/10 }
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/10 }
`,
  )
  const cli = startCli(['run', file])
  await cli.waitFor(/broken exited with code 3/)
  cli.child.kill('SIGINT')
  const result = await cli.exited
  t.equal(result.code, 1)
  t.match(result.stderr, /node "broken" failed: exited with code 3/)
  t.match(result.stderr, /last stderr lines:\n\s+boom: sensor unplugged/)
  t.notMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace')
})

t.test('an operator that throws is reported as crashed, and its receivers see InputClosed', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 10 }
    outputs: [numbers]
  - id: plus-one
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs: { numbers: source/numbers }
      outputs: [numbers]
      restart_policy: never
    env: { THROW_ON: 4 }
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: plus-one/numbers, queue_size: 100 }
`,
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 1)
  t.match(result.stderr, /node "plus-one" failed: crashed: refusing to add one to 4/)
  t.same(received(result.stdout), [2, 3, 4])
  t.match(result.stdout, /\[sink\] closed numbers/)
})

t.test('a node that ignores Stop is terminated after the grace period', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: stubborn
    path: ${fixture('stubborn.mjs')}
    inputs: { tick: dora/timer/millis/50 }
`,
  )
  const cli = startCli(['run', file, '--grace', '500ms'])
  await cli.waitFor(/pid=(\d+)/)
  const [pid] = printedPids(cli.output().stdout)
  cli.child.kill('SIGINT')
  const result = await cli.exited
  t.equal(result.code, 1)
  t.match(result.stdout, /stop ignored/)
  t.match(result.stderr, /node "stubborn" failed: did not stop within the 0.5 s grace period/)
  t.notOk(alive(pid!))
})

t.test('a node whose program ends without close() is told so on stderr before the grace period ends', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: forgetful
    path: ${fixture('forgets-close.mjs')}
    inputs: { tick: dora/timer/millis/50 }
  - id: breaker
    path: ${fixture('forgets-close.mjs')}
    env: { BREAK_ON_STOP: 1 }
    inputs: { tick: dora/timer/millis/50 }
`,
  )
  const cli = startCli(['run', file])
  await cli.waitFor(/\[forgetful\] pid=(\d+)/)
  await cli.waitFor(/\[breaker\] pid=(\d+)/)
  const pids = printedPids(cli.output().stdout)
  cli.child.kill('SIGINT')
  await cli.waitFor(/events ended/)
  await cli.waitFor(/node "forgetful": its events ended 2 s ago \(stop\) and node\.close\(\) was not called/)
  // A loop that breaks on its stop event ended with its events: the same words.
  await cli.waitFor(/node "breaker": its events ended 2 s ago \(stop\) and node\.close\(\) was not called/)
  // Again: skip the rest of the grace period.
  cli.child.kill('SIGINT')
  const result = await cli.exited
  t.equal(result.code, 1, 'the node did not exit: the run reports it')
  t.match(result.stderr + result.stdout, /End the program with `await node\.close\(\)`/, 'the line says what to do')
  t.ok(pids.length === 2 && pids.every((pid) => !alive(pid)), `both nodes' processes are gone (${pids.join(', ')})`)
})

t.test('a node whose program breaks out of its loop without close() is told so on stderr, not when it reads again', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: leaver
    path: ${fixture('forgets-close.mjs')}
    env: { BREAK_AFTER: 3 }
    inputs: { tick: dora/timer/millis/50 }
  - id: rereader
    path: ${fixture('forgets-close.mjs')}
    env: { BREAK_AFTER: 3, READ_AGAIN: 1 }
    inputs: { tick: dora/timer/millis/50 }
`,
  )
  const cli = startCli(['run', file])
  await cli.waitFor(/\[rereader\] left the loop/)
  await cli.waitFor(/\[leaver\] left the loop/)
  // The Stop at once: the rereader's second loop may end on it before the reminder of its
  // first loop is due; the reminder it gets is for the loop that ended last.
  cli.child.kill('SIGINT')
  await cli.waitFor(/\[rereader\] events ended/)
  await cli.waitFor(/node "leaver": its program left its events\(\) loop 2 s ago, before they ended, and node\.close\(\) was not called/)
  await cli.waitFor(/node "rereader": its events ended 2 s ago \(stop\) and node\.close\(\) was not called/)
  cli.child.kill('SIGINT')
  const result = await cli.exited
  t.notMatch(result.stderr + result.stdout, /node "rereader": its program left/, 'no reminder of a loop the node went back to')
  t.match(result.stderr, /node "leaver" failed: did not stop/, 'the node that left is terminated, as the line said it would be')
})

t.test('when the supervisor is SIGKILLed, its nodes exit on their own and remove its sockets', async (t) => {
  const { file, runtimeDir } = dataflow(
    t,
    `nodes:
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
  - id: idle
    path: ${fixture('stubborn.mjs')}
`,
  )
  const cli = startCli(['run', file], { env: { DORA_TS_RUNTIME_DIR: runtimeDir } })
  await cli.waitFor(/\[sink\] got tick/)
  await cli.waitFor(/pid=\d+[\s\S]*pid=\d+/)
  const pids = printedPids(cli.output().stdout)
  cli.child.kill('SIGKILL')
  await cli.exited
  t.same(await waitForExit(pids, 15_000), [], 'no orphan node keeps running (dora #2856)')
  t.same(
    readdirSync(runtimeDir).flatMap((d) => readdirSync(join(runtimeDir, d))),
    [],
    'the orphaned socket was removed',
  )
})

t.test('garbage on the supervisor socket is dropped and logged; the dataflow carries on', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: rogue
    path: ${fixture('rogue.mjs')}
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: rogue/numbers, queue_size: 100 }
`,
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(received(result.stdout), [1, 2, 3, 4, 5])
  t.match(result.stderr, /dropped an undecodable frame/)
})

t.test('bad command-line values get a clear error and exit code 1', async (t) => {
  const result = await runCli(['run', 'dataflow.yml', '--stop-after', 'soon'])
  t.equal(result.code, 1)
  t.match(result.stderr, /--stop-after "soon" is not a duration/)
  const missing = await runCli(['run', join(t.testdirName, 'nope.yml')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /nope\.yml/)
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace')
})

t.test('a terminal Ctrl-C (SIGINT to the whole foreground process group) still ends with Stop handled', async (t) => {
  // Nodes run in process groups of their own, so the terminal's SIGINT reaches only the
  // supervisor, which sends Stop; before, the nodes died of the SIGINT and the run failed.
  const { file, runtimeDir } = dataflow(
    t,
    `nodes:
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
  - id: idle
    path: ${fixture('sink.mjs')}
`,
  )
  const cli = startCli(['run', file], { env: { DORA_TS_RUNTIME_DIR: runtimeDir }, ownGroup: true })
  t.teardown(() => {
    try {
      process.kill(-cli.child.pid!, 'SIGKILL')
    } catch {
      // Already gone.
    }
  })
  await cli.waitFor(/\[sink\] got tick null seq=3/)
  await cli.waitFor(/pid=\d+[\s\S]*pid=\d+/)
  const pids = printedPids(cli.output().stdout)
  process.kill(-cli.child.pid!, 'SIGINT')
  const result = await cli.exited
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /\[sink\] stop manual/)
  t.match(result.stdout, /\[idle\] stop manual/)
  t.notMatch(result.stderr, /killed by SIGINT|failed/)
  t.same(await waitForExit(pids), [], 'no node outlives the run')
})

t.test('its terminal gone (SIGHUP, or its output closed) stops the run cleanly, as a Ctrl-C does, and its log says why', async (t) => {
  // Before, SIGHUP (an SSH session dropped) killed the CLI outright and EPIPE made it exit at
  // once: the reaper SIGTERMed the nodes, and the run's log had no end.
  const yaml = `nodes:
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
`
  for (const how of ['SIGHUP', 'output closed'] as const) {
    const { file, runtimeDir } = dataflow(t, yaml)
    const cli = startCli(['run', file], { env: { DORA_TS_RUNTIME_DIR: runtimeDir } })
    await cli.waitFor(/\[sink\] got tick null seq=3/)
    const logDir = /logs in (\S+) \(dora-ts logs/.exec(cli.output().stderr)![1]!
    const [pid] = printedPids(cli.output().stdout)
    if (how === 'SIGHUP') cli.child.kill('SIGHUP')
    else cli.child.stdout!.destroy()
    const result = await cli.exited
    t.equal(result.code, 0, `${how}: ${result.stderr}`)
    t.match(result.stderr, how === 'SIGHUP' ? /SIGHUP \(the terminal hung up\): stopping dataflow/ : /the output was closed: stopping dataflow/)
    t.match(result.stderr, /dataflow finished \(stopped\): 1 node ended cleanly/, `${how}: the run ended as a stop does`)
    t.match(readFileSync(join(logDir, 'sink.log'), 'utf8'), /stop manual/, `${how}: the node got Stop`)
    t.match(readFileSync(join(logDir, 'supervisor.log'), 'utf8'), /stopping dataflow .*\n.*dataflow finished \(stopped\)/, `${how}: in the run's log`)
    t.same(await waitForExit([pid!]), [], `${how}: no node outlives the run`)
  }
})

t.test('a node killed by a SIGTERM that dora-ts did not send is named as such, with the systemd fix', async (t) => {
  // systemd's default KillMode signals every process of the service at once: the node dies
  // before it gets its Stop. KillMode=mixed signals only dora-ts, which stops the nodes first.
  const { file, runtimeDir } = dataflow(
    t,
    `nodes:
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
`,
  )
  const cli = startCli(['run', file], { env: { DORA_TS_RUNTIME_DIR: runtimeDir } })
  await cli.waitFor(/\[sink\] got tick null seq=3/)
  const [pid] = printedPids(cli.output().stdout)
  process.kill(pid!, 'SIGTERM')
  cli.child.kill('SIGTERM')
  const result = await cli.exited
  t.equal(result.code, 1, result.stderr)
  t.match(result.stderr, /node "sink" failed: was killed by SIGTERM \(not sent by dora-ts: .*KillMode=mixed in a systemd unit\)/)
})

t.test('a run whose process was held up says for how long when it goes on, and carries on', async (t) => {
  const { file, runtimeDir } = dataflow(t, TICKING_SINK)
  const cli = startCli(['run', file], { env: { DORA_TS_RUNTIME_DIR: runtimeDir } })
  await cli.waitFor(/\[sink\] got tick null seq=\d+ /)
  // Held up as a machine loaded far past its cores holds it (the report needs 2 s or more).
  cli.child.kill('SIGSTOP')
  await new Promise((resolve) => setTimeout(resolve, 2500))
  cli.child.kill('SIGCONT')
  const [said] = await cli.waitFor(/the supervisor was held up for \d+\.\d s \(the machine is loaded past its cores[^\n]*/)
  const seqs = [...cli.output().stdout.matchAll(/\[sink\] got tick null seq=(\d+)/g)].map((m) => Number(m[1]))
  const next = Math.max(...seqs) + 3
  // Timer ticks go on after it.
  await cli.waitFor(new RegExp(`\\[sink\\] got tick null seq=${next}\\b`))
  cli.child.kill('SIGINT')
  const result = await cli.exited
  t.equal(result.code, 0, result.stderr)
  t.match(said, /held up for (\d{2,}|[2-9])\.\d s/, `said on the terminal: ${said}`)
})
