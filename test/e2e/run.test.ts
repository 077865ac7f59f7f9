/**
 * `dora-ts run` end to end: the real CLI, real child processes over ZeroMQ, real operator
 * worker threads. Every wait is bounded; nothing asserts a duration.
 */
import t, { type Test } from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { alive, printedPids, ROOT, runCli, shortRuntimeDir, startCli, waitForExit } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

/** Write a dataflow YAML into a fresh test dir; returns its path. */
function dataflow(t: Test, yaml: string): { file: string; dir: string; runtimeDir: string } {
  const dir = t.testdir({ 'dataflow.yml': yaml })
  return { file: join(dir, 'dataflow.yml'), dir, runtimeDir: shortRuntimeDir(t) }
}

/**
 * The two-node dataflow most of these tests run: `source` (source.mjs) sends numbers to `sink`
 * (sink.mjs). `source` and `sink` are their env entries, `input` the sink's input spec (inside
 * the braces of a YAML flow map).
 */
function sourceToSink(o: { source: string; sink?: string; input: string }): string {
  return `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { ${o.source} }
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
${o.sink === undefined ? '' : `    env: { ${o.sink} }\n`}    inputs:
      numbers: { ${o.input} }
`
}

/** Lines of the sink's output: `got <input> <value> ...`. */
function received(stdout: string, source = 'sink'): number[] {
  return [...stdout.matchAll(new RegExp(`^\\[${source}\\] got \\S+ (\\d+)`, 'gm'))].map((m) => Number(m[1]))
}

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

t.test('queue_size with drop_oldest drops the oldest messages for a slow receiver and reports it', async (t) => {
  const { file } = dataflow(
    t,
    sourceToSink({ source: 'COUNT: 300', sink: 'DELAY_MS: 5', input: 'source: source/numbers, queue_size: 2, queue_policy: drop_oldest' }),
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  const values = received(result.stdout)
  t.ok(values.length < 300, `the slow sink saw ${values.length} of 300 messages`)
  t.equal(values.at(-1), 300, 'the newest message is never the one dropped')
  t.ok(
    values.every((v, i) => i === 0 || v > values[i - 1]!),
    'what arrives stays in order',
  )
  const dropped = /sink\/numbers: (\d+) messages dropped/.exec(result.stderr)
  t.ok(dropped, 'the run reports the drops')
  t.equal(Number(dropped?.[1]) + values.length, 300, 'every message was either delivered or counted as dropped')
})

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

t.test('bad command-line values get a clear error and exit code 1', async (t) => {
  const result = await runCli(['run', 'dataflow.yml', '--stop-after', 'soon'])
  t.equal(result.code, 1)
  t.match(result.stderr, /--stop-after "soon" is not a duration/)
  const missing = await runCli(['run', join(t.testdirName, 'nope.yml')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /nope\.yml/)
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace')
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

t.test('input_timeout closes a silent input, and InputRecovered comes before the messages that come again', async (t) => {
  const dir = t.testdir({
    'pauser.mjs': `import { Node } from 'dora-ts'
// Two messages, then silence until the test has seen both receivers time out (it sends SIGUSR1),
// then two more: the pause is as long as the timeout needs, however loaded the machine.
const go = new Promise((resolve) => process.once('SIGUSR1', resolve))
const node = await Node.connect()
console.log('pid=' + process.pid)
await node.sendJson('numbers', 1)
await node.sendJson('numbers', 2)
await go
await node.sendJson('numbers', 3)
await node.sendJson('numbers', 4)
await node.close()
`,
    'watcher.mjs': `import { defineOperator } from 'dora-ts'
export default defineOperator({
  onInput(input, ctx) { ctx.log.info('got ' + input.id) },
  onInputClosed(event, ctx) { ctx.log.info('closed ' + event.id) },
  onEvent(event, ctx) { if (event.type === 'input-recovered') ctx.log.info('recovered ' + event.id) },
})
`,
    'dataflow.yml': '',
  })
  const { file } = { file: join(dir, 'dataflow.yml') }
  writeFileSync(
    file,
    `nodes:
  - id: pauser
    path: ${join(dir, 'pauser.mjs')}
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: pauser/numbers, input_timeout: 500ms }
  - id: watcher
    operator:
      javascript: ${join(dir, 'watcher.mjs')}
      inputs:
        numbers: { source: pauser/numbers, input_timeout: 500ms }
`,
  )
  const run = startCli(['run', file])
  const [, pid] = await run.waitFor(/\[pauser\] pid=(\d+)/)
  await run.waitFor(/\[sink\] closed numbers/)
  await run.waitFor(/\[watcher\] closed numbers/)
  process.kill(Number(pid), 'SIGUSR1')
  const result = await run.exited
  t.equal(result.code, 0, result.stderr)
  const sink = result.stdout.split('\n').filter((l) => l.startsWith('[sink] ') && !l.includes('pid='))
  // Two messages, the timeout closes the input, then it recovers with the next messages.
  t.same(
    sink.map((l) => l.replace(/ seq=.*/, '')),
    [
      '[sink] got numbers 1',
      '[sink] got numbers 2',
      '[sink] closed numbers',
      '[sink] recovered numbers',
      '[sink] got numbers 3',
      '[sink] got numbers 4',
      '[sink] closed numbers',
      '[sink] stop all-inputs-closed',
    ],
  )
  // The operator sees the same, the recovery through onEvent.
  const watcher = result.stdout.split('\n').filter((l) => l.startsWith('[watcher] '))
  t.same(watcher, [
    '[watcher] got numbers',
    '[watcher] got numbers',
    '[watcher] closed numbers',
    '[watcher] recovered numbers',
    '[watcher] got numbers',
    '[watcher] got numbers',
    '[watcher] closed numbers',
  ])
  t.match(result.stderr, /sink: input "numbers" got nothing for 0.5 s \(input_timeout\)/)
  t.match(result.stderr, /sink: input "numbers" recovered/)
})

t.test('a slow node with a deep queue loses nothing, even thousands of messages behind', async (t) => {
  // Regression: the supervisor sent a node its whole inbox per request, and ZeroMQ's ROUTER
  // silently dropped what exceeded the 1000-message high-water mark. (A queue this deep, not
  // backpressure: backpressure keeps the sender from getting thousands ahead.) The sink takes
  // at least 1 ms a message, so the source is done while the sink is a few hundred in: the
  // inbox is well over 1000 deep at the sink's next requests. Before, 5000 messages to a sink
  // as fast as it could go: 2.5x the time, and how deep the inbox got depended on the load.
  const total = 2000
  const { file } = dataflow(t, sourceToSink({ source: `COUNT: ${total}`, sink: 'DELAY_MS: 1', input: 'source: source/numbers, queue_size: 100000' }))
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  const values = received(result.stdout)
  t.equal(values.length, total)
  t.same(values.slice(-3), [total - 2, total - 1, total])
  t.notMatch(result.stderr, /dropped/)
})

/**
 * Messages of the two backpressure runs below. Enough that the bound they assert (the sink is
 * at most IN_FLIGHT behind when the last send returns) is far from what happens without
 * backpressure (the source done within a second, the sink (1 ms a message) a few hundred in):
 * 4000 - 2600 = 1400. 6000 before: a third more time, proving nothing more.
 */
const BACKPRESSURE_TOTAL = 4000
/**
 * How far the source may be ahead with backpressure: the queue (10), one batch the sink's SDK
 * fetched (at most 256) and what ZeroMQ had in flight when the pause reached it (its send and
 * receive buffers: up to about 2000 messages on a loaded machine).
 */
const IN_FLIGHT = 2600

/** "sent N; the sink had received R", as source.mjs prints it with COUNT_FILE. */
function sinkBehind(stdout: string): { sent: number; seen: number } {
  const match = /sent (\d+); the sink had received (\d+)/.exec(stdout)
  if (match === null) throw new Error(`the source printed no summary:\n${stdout}`)
  return { sent: Number(match[1]), seen: Number(match[2]) }
}

t.test('backpressure slows a fast node down to its slow receiver, and nothing is dropped', async (t) => {
  const { file, dir } = dataflow(t, '')
  const total = BACKPRESSURE_TOTAL
  writeFileSync(
    file,
    sourceToSink({
      source: `COUNT: ${total}, COUNT_FILE: ${join(dir, 'count')}`,
      sink: `DELAY_MS: 1, COUNT_FILE: ${join(dir, 'count')}`,
      input: 'source: source/numbers, queue_size: 10, queue_policy: backpressure',
    }),
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: total }, (_, i) => i + 1),
    'every message, in order',
  )
  const { sent, seen } = sinkBehind(result.stdout)
  t.equal(sent, total)
  t.ok(seen >= total - IN_FLIGHT, `the source was held back: the sink had ${seen} of ${total} when the last send returned`)
  t.notMatch(result.stderr, /dropped|paused by backpressure for/)
})

t.test('backpressure reaches back through an operator: a slow sink slows the operator, which slows the source', async (t) => {
  const { file, dir } = dataflow(t, '')
  const total = BACKPRESSURE_TOTAL
  writeFileSync(
    file,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${total}, COUNT_FILE: ${join(dir, 'count')} }
    outputs: [numbers]
  - id: plus
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs:
        numbers: { source: source/numbers, queue_size: 10, queue_policy: backpressure }
      outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    env: { DELAY_MS: 1, COUNT_FILE: ${join(dir, 'count')} }
    inputs:
      numbers: { source: plus/numbers, queue_size: 10, queue_policy: backpressure }
`,
  )
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: total }, (_, i) => i + 2),
    'every message, in order',
  )
  const { seen } = sinkBehind(result.stdout)
  t.ok(seen >= total - IN_FLIGHT, `the source was held back: the sink had ${seen} of ${total} when the last send returned`)
  t.notMatch(result.stderr, /dropped|paused by backpressure for/)
})

t.test('a node that sends a burst and exits at once loses nothing: close() waits for the supervisor', async (t) => {
  // With no linger at all, whatever was still in the node's socket at close would be lost;
  // close() waits for the supervisor's outputs-closed, which comes after everything sent before.
  // 2500 messages are 2.5 times ZeroMQ's 1000-message high-water mark, so the socket still
  // holds some at close (20000, then 5000 before: a quarter of this file's time, proving
  // nothing more).
  const total = 2500
  const { file } = dataflow(t, sourceToSink({ source: `COUNT: ${total}, DORA_TS_NODE_LINGER_MS: 0`, input: 'source: source/numbers, queue_size: 100000' }))
  const result = await runCli(['run', file])
  t.equal(result.code, 0, result.stderr)
  t.same(
    received(result.stdout),
    Array.from({ length: total }, (_, i) => i + 1),
    'every message, the last ones too',
  )
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
