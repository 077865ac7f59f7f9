/**
 * `dora-ts run` end to end: the real CLI, real child processes over ZeroMQ, real operator
 * worker threads. Every wait is bounded; nothing asserts a duration. This file runs dataflows
 * that end as they should: in order through an operator, by exit_when_nodes_finish or
 * --stop-after, the default robot tuned through the KVS, examples/pipeline. Queues, timeouts
 * and backpressure are in run-flow.test.ts; Ctrl-C, failures and exit codes in
 * run-exit.test.ts.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, runCli, shortRuntimeDir, startCli } from './fixtures/cli.js'
import { dataflow, received } from './fixtures/run-dataflows.js'
import { fixture } from '../fixtures/nodes.js'

t.test('messages flow node -> operator -> node in order, then InputClosed and Stop end the run', async (t) => {
  const { file, runtimeDir } = dataflow(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 50 }
    outputs: [numbers]
  - id: plus-one
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs:
        numbers: { source: source/numbers, queue_size: 100 }
      outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: plus-one/numbers, queue_size: 100 }
`,
  )
  // A preload of the user's in NODE_OPTIONS (an APM agent, tsx) reaches the CLI's process and
  // the custom nodes, never the operator's thread (src/host-env.ts).
  const preloadLog = join(t.testdirName, 'preloads.log')
  const env = { DORA_TS_RUNTIME_DIR: runtimeDir, NODE_OPTIONS: `--import=${fixture('preload-marker.mjs')}`, DORA_TS_TEST_PRELOAD_LOG: preloadLog }
  const result = await runCli(['run', file], { env })
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: 50 }, (_, i) => i + 2),
  )
  const preloads = readFileSync(preloadLog, 'utf8').trim().split('\n')
  t.ok(preloads.filter((l) => l.endsWith(' main')).length >= 3, `the preload ran in the CLI and both nodes: ${preloads.join(', ')}`)
  t.same(
    preloads.filter((l) => !l.endsWith(' main')),
    [],
    "no thread of the supervisor's (the operator's, the KVS thread) ran the host's preload",
  )
  t.match(result.stdout, /\[plus-one\] input numbers closed/)
  t.match(result.stdout, /\[plus-one\] stop all-inputs-closed/)
  const sinkLines = result.stdout.split('\n').filter((l) => l.startsWith('[sink] ') && !l.includes('pid='))
  t.same(sinkLines.slice(-2), ['[sink] closed numbers', '[sink] stop all-inputs-closed'])
  t.match(result.stderr, /dataflow finished \(completed\)/)
  // The run directory (and its socket) is removed when the run ends.
  t.same(readdirSync(join(runtimeDir, readdirSync(runtimeDir)[0]!)), [])
})

t.test('exit_when_nodes_finish stops the rest of the dataflow when the listed nodes end', async (t) => {
  const { file } = dataflow(
    t,
    `exit_when_nodes_finish: [source]
nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 3 }
    outputs: [numbers]
  - id: ticker
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
`,
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /\[ticker\] stop manual/)
})

t.test('--stop-after ends a dataflow that would otherwise run forever', async (t) => {
  const { file } = dataflow(
    t,
    `nodes:
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs: { tick: dora/timer/millis/20 }
`,
  )
  const result = await runCli(['run', file, '--stop-after', '1s'])
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /dataflow finished \(stop-after\)/)
  t.match(result.stdout, /\[sink\] stop manual/)
})

t.test('the default dataflow.yml runs the robot: lidar -> filter operator -> controller, tuned through the KVS', async (t) => {
  const dir = t.testdir({})
  const env = { DORA_TS_KVS_DIR: join(dir, 'kvs'), DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  const cli = startCli(['run', 'dataflow.yml', '--state-dir', join(dir, 'state')], { cwd: ROOT, env })
  t.teardown(() => {
    cli.child.kill('SIGKILL')
  })
  await cli.waitFor(/\[controller\] scan \d+: obstacle \d+\.\d+ m at beam \d+ -> (forward|slow|stop)/)
  t.match(cli.output().stdout, /\[controller\] stop below 0.8 m, slow below 1.8 m \(KVS namespace robot\)/, 'defaults written to the KVS')
  const ls = await runCli(['kvs', 'ls', '-n', 'robot'], { env })
  t.equal(ls.stdout, 'slow_distance\t1.8\nstop_distance\t0.8\n', 'where the CLI sees them')

  // Tune both while it runs: the custom node watches, the operator reads on every scan.
  t.equal((await runCli(['kvs', 'put', '-n', 'robot', 'stop_distance', '99'], { env })).code, 0)
  t.equal((await runCli(['kvs', 'put', '-n', 'robot', 'smoothing', '0.9'], { env })).code, 0)
  // Every obstacle is nearer than 99 m: the next scan after the change says stop.
  await cli.waitFor(/\[controller\] stop_distance is now 99 m \(set in the KVS\)\n(?:.*\n)*?\[controller\] scan \d+: obstacle [\d.]+ m at beam \d+ -> stop/)
  await cli.waitFor(/\[obstacle-filter\] smoothing is now 0.9/)

  cli.child.kill('SIGINT')
  const ended = await cli.exited
  t.equal(ended.code, 0, ended.stderr)
  t.match(ended.stdout, /\[controller\] stopping \(manual\)/)
})

t.test('examples/pipeline: several operators in one node feed a plain-JS node, which ends the run', async (t) => {
  // A state dir of its own: the default (.dora-ts/ beside the example) outlives the test, and a
  // run killed there left committed messages that the next npm test replayed (values 18, 20, 22
  // first).
  const result = await runCli(['run', 'examples/pipeline/dataflow.yml', '--state-dir', join(t.testdir(), 'state')], {
    cwd: ROOT,
    env: { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) },
  })
  t.equal(result.code, 0, result.stderr)
  const values = [...result.stdout.matchAll(/^\[printer\] doubled = (\d+) \(from pipeline\/doubler/gm)].map((m) => Number(m[1]))
  t.same(values, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
})

t.test('examples/camera: the viewer ends the run after 60 frames, and the camera exits without a ZeroMQ warning', async (t) => {
  // The viewer ends first (exit_when_nodes_finish), so the camera's best-effort link has nowhere
  // to deliver its last frames: a stopping node's links linger under the 500 ms after which
  // zeromq.js warns at exit ("Waiting for queued ZeroMQ messages to be delivered"), which every
  // run of this example printed.
  const result = await runCli(['run', 'examples/camera/dataflow.yml', '--state-dir', join(t.testdir(), 'state')], {
    cwd: ROOT,
    env: { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) },
  })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /\[viewer\] viewer done: 60 frames shown/)
  t.match(result.stderr, /2 nodes ended cleanly/)
  t.notMatch(`${result.stdout}${result.stderr}`, /Waiting for queued ZeroMQ messages/)
})

t.test('examples/perception: frames cross a best-effort link between operators, the detector finds the moving target', async (t) => {
  const result = await runCli(['run', 'examples/perception/dataflow.yml', '--state-dir', join(t.testdir(), 'state')], {
    cwd: ROOT,
    env: { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) },
  })
  t.equal(result.code, 0, result.stderr)
  // The target's left edge is 8 px per frame (its centre 19.5 px right of that), at rows 200-239.
  const found = [...result.stdout.matchAll(/^\[monitor\] frame (\d+): target at x=(\d+) y=(\d+)$/gm)].map(
    (m) => m.slice(1).map(Number) as [number, number, number],
  )
  t.ok(found.length >= 6, `${found.length} findings printed`)
  for (const [frame, x, y] of found) {
    t.ok(Math.abs(x - (((frame * 8) % 600) + 19.5)) <= 4 && y >= 200 && y < 240, `frame ${frame}: x=${x} y=${y} is where the camera drew it`)
  }
  t.match(result.stdout, /\[monitor\] monitor done: 60 frames seen by the detector/)
  t.match(result.stderr, /3 nodes ended cleanly/)
})
