/**
 * `dora-ts logs` (issue 14, defect 3): everything a run's log holds goes to stdout in order, so
 * `dora-ts logs X | grep` keeps the supervisor's crash and restart lines; and a foreground
 * `dora-ts run` keeps the same per-run, per-node log files as a run on the supervisor.
 * One foreground run serves every test: a node crashes once and is restarted.
 */
import t from 'tap'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, shortRuntimeDir } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

const dir = t.testdir({
  'dataflow.yml': `name: flaky-run
nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 4 }
    outputs: [numbers]
  - id: flaky
    path: ${fixture('flaky-node.mjs')}
    env: { FAIL_AFTER: 2 }
    restart_policy: on-failure
    restart_delay: 0.01
    inputs:
      numbers: { source: source/numbers, queue_size: 100 }
    outputs: [numbers]
`,
})
const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t), DORA_TS_LOG_DIR: join(dir, 'logs') }

const run = await runCli(['run', join(dir, 'dataflow.yml')], { env })

t.test('a foreground run keeps log files and says where', async (t) => {
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, new RegExp(`logs in ${join(dir, 'logs', 'flaky-run')}/\\S+ \\(dora-ts logs flaky-run\\)`))
})

t.test('logs prints the supervisor notices on stdout, in order with the nodes lines (they went to stderr)', async (t) => {
  const logs = await runCli(['logs', 'flaky-run'], { env })
  t.equal(logs.code, 0, logs.stderr)
  t.equal(logs.stderr, '', 'nothing on stderr: a pipe gets it all')
  const lines = logs.stdout.split('\n')
  const crash = lines.findIndex((l) => /flaky: giving up/.test(l))
  const restart = lines.findIndex((l) => /flaky exited with code 1: process\.exit\(1\) called \(at \S*flaky-node\.mjs:\d+:\d+\); restarting in/.test(l))
  const second = lines.findIndex((l) => /started restartCount=1/.test(l))
  t.ok(crash !== -1 && restart !== -1 && second !== -1, logs.stdout)
  t.ok(crash < restart && restart < second, 'the crash, then the restart notice, then the new life')
  t.match(logs.stdout, /dataflow finished \(completed\)/)
})

t.test('logs NAME NODE shows one node with its restart notice', async (t) => {
  const logs = await runCli(['logs', 'flaky-run', 'flaky'], { env })
  t.equal(logs.code, 0, logs.stderr)
  t.equal(logs.stderr, '')
  t.match(logs.stdout, /restarting in/)
  t.notMatch(logs.stdout, /\[source\]/)
})

t.test('logs --tail N starts with the last N lines, --grep keeps the matching ones, a bad value is one clear line', async (t) => {
  const all = (await runCli(['logs', 'flaky-run'], { env })).stdout.trimEnd().split('\n')
  const tail = await runCli(['logs', 'flaky-run', '--tail', '3'], { env })
  t.equal(tail.code, 0, tail.stderr)
  t.same(tail.stdout.trimEnd().split('\n'), all.slice(-3), 'the last 3 lines, as logs prints them')
  const grep = await runCli(['logs', 'flaky-run', '--grep', 'restarting in|giving up'], { env })
  t.equal(grep.code, 0, grep.stderr)
  const kept = grep.stdout.trimEnd().split('\n')
  t.same(
    kept,
    all.filter((l) => /restarting in|giving up/.test(l)),
    'only the matching lines, in order',
  )
  t.ok(kept.length >= 2, kept.join('\n'))
  // The node's id matches too: every line of the flaky node, none of the source's.
  const byNode = (await runCli(['logs', 'flaky-run', '--grep', '^flaky$', '--tail', '1'], { env })).stdout.trimEnd().split('\n')
  t.same(byNode, all.filter((l) => l.startsWith('[flaky]')).slice(-1))
  const bad = await runCli(['logs', 'flaky-run', '--grep', '(unclosed'], { env })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^error: --grep "\(unclosed" is not a regular expression: .*\n.*escape \( \[/)
  t.notMatch(bad.stderr, /\n\s+at /, 'no stack')
})

t.test('a chatty node: its log files stay within DORA_TS_LOG_MAX_SIZE, and logs shows its newest lines', async (t) => {
  const chattyDir = t.testdir({
    'dataflow.yml': `name: chatty
nodes:
  - id: chatty
    path: ${fixture('chatty.mjs')}
    env: { COUNT: 5000 }
`,
  })
  const chattyEnv = { ...env, DORA_TS_LOG_MAX_SIZE: '64KiB' }
  const ran = await runCli(['run', join(chattyDir, 'dataflow.yml')], { env: chattyEnv })
  t.equal(ran.code, 0, ran.stderr)
  t.equal(ran.stdout.split('\n').filter((l) => l.startsWith('[chatty] line ')).length, 5000, 'the terminal got every line')
  const runDir = /logs in (\S+) \(dora-ts logs chatty\)/.exec(ran.stderr)![1]!
  const sizes = ['chatty.log', 'chatty.log.1'].map((f) => statSync(join(runDir, f)).size)
  t.ok(
    sizes.every((size) => size <= 64 * 1024),
    `each file within 64 KiB: ${sizes.join(', ')} bytes (the node printed ~500 KB)`,
  )
  const logs = await runCli(['logs', 'chatty', 'chatty'], { env: chattyEnv })
  t.equal(logs.code, 0, logs.stderr)
  const shown = [...logs.stdout.matchAll(/ line (\d{6}) /g)].map((m) => Number(m[1]))
  t.ok(shown.length > 500 && shown.length < 5000, `${shown.length} newest lines kept`)
  t.same(
    shown,
    Array.from({ length: shown.length }, (_, i) => 5001 - shown.length + i),
    'contiguous, up to the last line',
  )
})

t.test('logs --run 2 shows the run before the latest; a run that is not kept is one clear line', async (t) => {
  const firstRun = (await runCli(['logs', 'flaky-run'], { env })).stdout
  const again = await runCli(['run', join(dir, 'dataflow.yml')], { env })
  t.equal(again.code, 0, again.stderr)
  const latest = await runCli(['logs', 'flaky-run', '--run', '1'], { env })
  const before = await runCli(['logs', 'flaky-run', '--run', '2'], { env })
  t.equal(before.code, 0, before.stderr)
  t.equal(before.stdout, firstRun, 'run 2 is the first run, as logs showed it then')
  t.not(latest.stdout, firstRun, 'run 1 is the new one (its own times and id)')
  t.match(latest.stdout, /dataflow finished \(completed\)/)
  const missing = await runCli(['logs', 'flaky-run', '--run', '3'], { env })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^error: "flaky-run" has logs of 2 runs, not 3\nUse --run 1 \(the latest\) to --run 2/)
})
