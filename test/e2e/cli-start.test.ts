/**
 * `dora-ts start` and the supervisor around a node's start-up (issue 14): a dataflow that fails
 * at once is a failed start (defect 2), a node that never connects is warned about and one that
 * exits 0 without connecting is a failure (defect 9), and two `dataflow.yml` of different
 * folders both run, under distinct names (defect 11). One supervisor serves the whole file.
 */
import t from 'tap'
import { join } from 'node:path'
import { alive, runCli, shortRuntimeDir, type CliResult } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'
import { readPidFile } from '../../src/transport/pid-file.js'

const runtimeDir = shortRuntimeDir(t)
const env = { DORA_TS_RUNTIME_DIR: runtimeDir, DORA_TS_LOG_DIR: join(runtimeDir, 'logs') }
const cli = (...args: string[]): Promise<CliResult> => runCli(args, { env })

const TICKING = `nodes:
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/50 }
      outputs: [count]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      count: counter/count
`

const dir = t.testdir({
  'crashing.yml': `nodes:
  - id: source
    path: ./exit-1.mjs
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: source/numbers
`,
  'exit-1.mjs': "console.error('lidar: /dev/ttyUSB0 not found')\nprocess.exit(1)\n",
  'no-connect.yml': `nodes:
  - id: script
    path: ./exit-0.mjs
`,
  'exit-0.mjs': "console.log('hello, but I never call Node.connect()')\n",
  'slow.yml': `nodes:
  - id: loader
    path: ${fixture('starting.mjs')}
    connect_timeout: 200ms
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/50 }
      outputs: [count]
`,
  robot: { 'dataflow.yml': TICKING },
  arm: { 'dataflow.yml': TICKING },
})
const state = ['--state-dir', join(dir, 'state')]

t.before(async () => {
  const up = await cli('up')
  if (up.code !== 0) throw new Error(`dora-ts up failed: ${up.stderr}`)
})
t.teardown(async () => {
  const pid = readPidFile(join(runtimeDir, `dora-ts-${process.getuid!()}`, 'daemon', 'daemon.pid'))
  await cli('destroy')
  if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL')
})

t.test('start exits 1 with the failure when a node fails at once (it said "started", exit 0)', async (t) => {
  const start = await cli('start', join(dir, 'crashing.yml'), ...state)
  t.equal(start.code, 1, start.stderr)
  t.match(start.stderr, /node "source" failed: exited with code 1[\s\S]*lidar: \/dev\/ttyUSB0 not found/)
  t.match(start.stderr, /dataflow "crashing" \(id \S+\) started, but a node failed at once|failed at start and has ended/)
  t.notMatch(start.stderr, /started dataflow "crashing"/)
  await cli('stop', 'crashing', '--grace', '0')
})

t.test('a node that exits 0 without connecting is a failure, not "finished"', async (t) => {
  const start = await cli('start', join(dir, 'no-connect.yml'), ...state)
  t.equal(start.code, 1, start.stderr)
  t.match(start.stderr, /node "script" failed: exited with code 0 without connecting to the supervisor: its program must call `await Node.connect\(\)`/)
  t.match(start.stderr, /dataflow "no-connect" \(id \S+\) failed at start and has ended/)
})

t.test('a node that does not connect within connect_timeout is warned about, and Stop does not wait for it', async (t) => {
  // A grace period far longer than the test may take: the stop must not wait it out.
  const start = await cli('start', join(dir, 'slow.yml'), ...state, '--grace', '1h')
  t.equal(start.code, 0, start.stderr)
  t.match(start.stderr, /started dataflow "slow"/)
  t.match(start.stderr, /warning: node "loader" has not connected yet/)
  const logs = await cli('logs', 'slow', 'loader')
  t.match(
    logs.stdout,
    /loader has not connected to the supervisor 0\.2 s after it started \(pid \d+\)[^\n]*Node\.connect\(\)[^\n]*raise `connect_timeout:` on node "loader"/,
  )
  const stop = await cli('stop', 'slow')
  t.equal(stop.code, 1, 'the node that never connected counts as failed')
  t.match(stop.stderr + stop.stdout, /loader[^\n]*had not connected to the supervisor when the dataflow stopped/)
})

t.test('two dataflow.yml of different folders both run, under distinct names (both were "dataflow")', async (t) => {
  // Each keeps its state next to its YAML (the default), as "dataflow".
  const robot = await cli('start', join(dir, 'robot', 'dataflow.yml'))
  t.equal(robot.code, 0, robot.stderr)
  t.match(robot.stderr, /started dataflow "dataflow" \(id \S+\); logs: dora-ts logs dataflow/, 'a dataflow that runs: exit 0, and where its logs are')
  t.match(robot.stdout, /^[0-9a-f-]{36}\n$/)
  const arm = await cli('start', join(dir, 'arm', 'dataflow.yml'))
  t.equal(arm.code, 0, arm.stderr)
  t.match(arm.stderr, /"dataflow" is taken by a run of \S+robot\/dataflow\.yml: this run is named "dataflow-2"/)
  t.match(arm.stderr, /started dataflow "dataflow-2"/)
  const again = await cli('start', join(dir, 'robot', 'dataflow.yml'))
  t.equal(again.code, 1, 'the same file twice is still refused')
  t.match(again.stderr, /a dataflow named "dataflow" is already running/)
  const list = await cli('list')
  t.match(list.stdout, /dataflow-2/)
  t.equal((await cli('stop', 'dataflow-2')).code, 0)
  t.equal((await cli('stop', 'dataflow')).code, 0)
  const logs = await cli('logs', 'dataflow-2')
  t.match(logs.stdout, /dataflow "dataflow-2" started \(id \S+\) from \S+arm\/dataflow\.yml/)
})
