/**
 * `dora-ts topic list|echo|hz` against a real supervisor: an operator's output (the
 * supervisor's path), a custom node's output on a reliable direct link (its link log) and one
 * on best-effort links only (which no tap can see).
 */
import t from 'tap'
import { join } from 'node:path'
import { readdirSync } from 'node:fs'
import { runCli, startCli } from './fixtures/cli.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { waitFor } from '../fixtures/wait-for.js'
import { wholeLines } from '../fixtures/jsonl.js'
import { daemonEnv, foregroundRun } from './fixtures/daemon-env.js'
import { ForegroundRunClient, foregroundRuns } from '../../runtime/cli/foreground-control.js'
import { fixture } from '../fixtures/nodes.js'

const ROBOT = `nodes:
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/20 }
      outputs: [count]
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000000, DELAY_MS: 10 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      count: counter/count
      numbers: source/numbers
  - id: lossy
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000000, DELAY_MS: 10 }
    outputs: [numbers]
  - id: fast
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: { source: lossy/numbers, reliability: best_effort }
`

interface Listed {
  topic: string
  sender: string
  receivers: string[]
  path: string
}

/** `read()` with DORA_TS_RUNTIME_DIR set to `dir`, as the CLI's child processes have it. */
function inRuntimeDir<T>(dir: string, read: () => T): T {
  const before = process.env['DORA_TS_RUNTIME_DIR']
  process.env['DORA_TS_RUNTIME_DIR'] = dir
  try {
    return read()
  } finally {
    if (before === undefined) delete process.env['DORA_TS_RUNTIME_DIR']
    else process.env['DORA_TS_RUNTIME_DIR'] = before
  }
}

/** `n` consecutive whole numbers, each one more than the one before. */
function consecutive(values: number[]): boolean {
  return values.every((v, i) => i === 0 || v === values[i - 1]! + 1)
}

t.test('list, echo and hz on a running dataflow; what no tap can see is refused with why', async (t) => {
  const { cli, env } = daemonEnv(t)
  const none = await cli('topic', 'list')
  t.equal(none.code, 1)
  t.match(
    none.stderr,
    /^error: no dataflow is running: neither a dora-ts supervisor nor a foreground dora-ts run\nStart one: npm start or dora-ts run dataflow\.yml/,
  )

  const file = join(t.testdir({ 'robot.yml': ROBOT }), 'robot.yml')
  t.equal((await cli('up')).code, 0)
  const start = await cli('start', file)
  t.equal(start.code, 0, start.stderr)

  const list = await cli('topic', 'list', 'robot', '--json')
  t.equal(list.code, 0, list.stderr)
  const topics = JSON.parse(list.stdout) as Array<Listed & { inputs: unknown[] }>
  t.same(
    topics.filter((x) => !x.topic.endsWith('/_errors')).map(({ inputs: _, ...x }) => x),
    [
      { topic: 'counter/count', sender: 'counter', receivers: ['sink/count'], path: 'supervisor' },
      { topic: 'source/numbers', sender: 'source', receivers: ['sink/numbers'], path: 'link-log' },
      { topic: 'lossy/numbers', sender: 'lossy', receivers: ['fast/numbers'], path: 'direct' },
    ],
  )
  const table = await cli('topic', 'list')
  t.match(table.stdout, /TOPIC +FROM +TO +PATH\n +counter\/count +counter +sink\/count +supervisor\n/)
  t.match(table.stdout, /lossy\/numbers +lossy +fast\/numbers +best effort \(no tap\)/)

  // info: each receiver, the path it takes the topic on and its input's settings from the YAML.
  const info = await cli('topic', 'info', 'counter/count', 'source/numbers', 'lossy', '--json')
  t.equal(info.code, 0, info.stderr)
  const reliable = { queueSize: 10, queuePolicy: 'drop_oldest', reliability: 'reliable' }
  t.same(
    info.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Listed & { inputs: unknown[] })
      .map((x) => [x.topic, x.path, x.inputs]),
    [
      ['counter/count', 'supervisor', [{ input: 'sink/count', path: 'supervisor', ...reliable }]],
      ['source/numbers', 'link-log', [{ input: 'sink/numbers', path: 'link-log', ...reliable }]],
      ['lossy/numbers', 'direct', [{ input: 'fast/numbers', path: 'best-effort', ...reliable, reliability: 'best_effort' }]],
    ],
  )
  const described = await cli('topic', 'info', 'lossy/numbers')
  t.equal(described.code, 0, described.stderr)
  t.equal(
    described.stdout,
    'lossy/numbers\n  sent by:   lossy\n  tapping:   no tap can see it\n  receivers: 1\n    fast/numbers: best-effort direct link, queue_size 10, drop_oldest, best_effort\n',
  )
  const infoOfSink = await cli('topic', 'info', 'sink')
  t.equal(infoOfSink.code, 1)
  t.match(
    infoOfSink.stderr,
    /^error: sink of dataflow "robot" has no outputs\nAsk about what feeds it instead: its inputs come from counter\/count, source\/numbers\./,
  )

  // The operator's output, through the supervisor: committed counts, one after another.
  const counts = await cli('topic', 'echo', 'counter/count', '-n', '5', '--json')
  t.equal(counts.code, 0, counts.stderr)
  const countLines = counts.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; encoding: string; json: number })
  t.equal(countLines.length, 5)
  t.ok(countLines.every((m) => m.topic === 'counter/count' && m.encoding === 'json'))
  t.ok(consecutive(countLines.map((m) => m.json)), `counts ${countLines.map((m) => m.json).join(' ')}`)
  t.match(counts.stderr, /tapping counter\/count \(supervisor\)/)

  // The custom node's output, read from its link log: every number, with its metadata.
  const numbers = await cli('topic', 'echo', 'source/numbers', '-n', '6')
  t.equal(numbers.code, 0, numbers.stderr)
  const lines = numbers.stdout.trim().split('\n')
  t.equal(lines.length, 6)
  const parsed = lines.map((l) => /^\d\d:\d\d:\d\d\.\d{3} source\/numbers #(\d+) json \d+ B: (\d+) {2}\{"index":(\d+)\}$/.exec(l))
  t.ok(
    parsed.every((m) => m !== null && m[1] === m[2] && m[2] === m[3]),
    `sequence, value and metadata agree:\n${numbers.stdout}`,
  )
  t.ok(consecutive(parsed.map((m) => Number(m?.[2]))), 'none missed, none twice')
  t.match(numbers.stderr, /tapping source\/numbers \(link log\)/)

  const hz = await cli('topic', 'hz', 'counter/count', '-n', '1', '--interval', '2s', '--json')
  t.equal(hz.code, 0, hz.stderr)
  const rate = JSON.parse(hz.stdout) as { topic: string; hz: number; min: number; max: number; window: number }
  t.equal(rate.topic, 'counter/count')
  t.ok(rate.hz > 0 && rate.min > 0 && rate.max >= rate.min && rate.window >= 2, JSON.stringify(rate))

  const lossy = await cli('topic', 'echo', 'lossy/numbers')
  t.equal(lossy.code, 1)
  t.match(
    lossy.stderr,
    /^error: lossy\/numbers of dataflow "robot" goes straight from lossy to fast\/numbers on best-effort links, with nothing kept where a tap could read it\n/,
  )
  t.match(lossy.stderr, /make one receiver of it reliable/)
  const unknown = await cli('topic', 'echo', 'counter/cnt')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^error: dataflow "robot" has no output "counter\/cnt"\nIts outputs are: counter\/count, source\/numbers, lossy\/numbers/)
  const noOutputs = await cli('topic', 'hz', 'sink')
  t.equal(noOutputs.code, 1)
  t.match(
    noOutputs.stderr,
    /^error: sink of dataflow "robot" has no outputs\nTap what feeds it instead: its inputs come from counter\/count, source\/numbers\./,
  )
  const badBytes = await cli('topic', 'echo', 'counter/count', '--bytes', '2MiB')
  t.equal(badBytes.code, 1)
  t.match(badBytes.stderr, /--bytes 2MiB is more than a tap keeps of a message/)

  // An echo with no count ends with its dataflow, having printed what came before the end.
  const echo = startCli(['topic', 'echo', 'counter'], { env })
  await echo.waitFor(/counter\/count #\d+/)
  t.equal((await cli('stop', 'robot')).code, 0)
  const ended = await echo.exited
  t.equal(ended.code, 0, ended.stderr)
  t.match(ended.stderr, /tapping counter\/count, counter\/_errors \(supervisor\)[\s\S]*the tap ended: its dataflow ended/)
})

t.test('Ctrl-C ends an echo with exit 0', async (t) => {
  const { cli, env } = daemonEnv(t)
  const file = join(t.testdir({ 'robot.yml': ROBOT }), 'robot.yml')
  t.equal((await cli('up')).code, 0)
  t.equal((await cli('start', file)).code, 0)
  const echo = startCli(['topic', 'echo', 'source/numbers'], { env })
  await echo.waitFor(/source\/numbers #\d+/)
  echo.child.kill('SIGINT')
  const ended = await echo.exited
  t.equal(ended.code, 0, ended.stderr)
  t.notMatch(ended.stderr, /error/)
})

t.test('an echo suspended past the time a tap may go unread taps again and goes on, saying what it missed', async (t) => {
  const { env } = daemonEnv(t)
  const file = join(t.testdir({ 'robot.yml': ROBOT }), 'robot.yml')
  // The supervisor closes a tap unread for 300 ms here (15 s by default).
  t.equal((await runCli(['up'], { env: { ...env, DORA_TS_TAP_IDLE_MS: '300' } })).code, 0)
  t.equal((await runCli(['start', file], { env })).code, 0)
  const echo = startCli(['topic', 'echo', 'counter/count', '--json'], { env })
  const counts = (): number[] => wholeLines(echo.output().stdout).map((l) => (JSON.parse(l) as { json: number }).json)
  await echo.waitFor(/"json":\d+/)
  // Ctrl-Z for longer than the tap may go unread (a sleep is a lower bound on the time passed).
  echo.child.kill('SIGSTOP')
  await sleep(1000)
  const before = counts().at(-1)!
  echo.child.kill('SIGCONT')
  await echo.waitFor(/the supervisor closed its tap; tapping again: messages sent meanwhile are not shown/)
  // The counter went on while the echo slept: the tap opened again shows its counts from then on.
  await waitFor(() => counts().some((c) => c > before + 10), { what: 'the echo to go on after it was resumed', detail: () => JSON.stringify(echo.output()) })
  t.equal(echo.child.exitCode, null, 'still running')
  echo.child.kill('SIGINT')
  const ended = await echo.exited
  t.equal(ended.code, 0, ended.stderr)
  t.notMatch(ended.stderr, /the tap ended/)
})

t.test('a foreground dora-ts run answers topic too; its files go with it', async (t) => {
  const { run, cli, env, runtimeDir } = await foregroundRun(t, ROBOT)
  const list = await cli('topic', 'list', '--json')
  t.equal(list.code, 0, list.stderr)
  t.same(
    (JSON.parse(list.stdout) as Listed[]).map((x) => [x.topic, x.path]).filter(([topic]) => !topic!.endsWith('/_errors')),
    [
      ['counter/count', 'supervisor'],
      ['source/numbers', 'link-log'],
      ['lossy/numbers', 'direct'],
    ],
  )
  const echo = await cli('topic', 'echo', 'source/numbers', '-n', '4', '--json', '-d', 'robot')
  t.equal(echo.code, 0, echo.stderr)
  t.ok(
    consecutive(
      echo.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { json: number }).json),
    ),
    echo.stdout,
  )
  const other = await cli('topic', 'list', 'nope')
  t.equal(other.code, 1)
  t.match(other.stderr, /^error: no dataflow named "nope" runs in the foreground or on a supervisor\nRunning in the foreground: robot \(pid \d+\)/)
  // A stop belongs to the terminal that runs it (foreground-control.test.ts: list, kill, restart; stop-node.test.ts: stop NAME NODE).
  const published = inRuntimeDir(runtimeDir, foregroundRuns)
  t.same(
    published.map((r) => [r.name, r.pid]),
    [['robot', run.child.pid]],
    'published while it runs',
  )
  const client = new ForegroundRunClient(published[0]!)
  await t.rejects(client.request('stop', {}), { code: 'DORA_DAEMON_BAD_REQUEST', message: /does not answer "stop NAME" from another terminal/ })
  client.close()
  // An echo that runs when the run ends gets its end, not a 10 s wait for a socket gone.
  const following = startCli(['topic', 'echo', 'counter/count'], { env })
  await following.waitFor(/counter\/count #\d+/)
  run.child.kill('SIGINT')
  t.equal((await run.exited).code, 0)
  const followed = await following.exited
  t.equal(followed.code, 0, followed.stderr)
  t.match(followed.stderr, /the tap ended: its dataflow ended/)
  t.same(readdirSync(join(runtimeDir, `dora-ts-${process.getuid!()}`)), [], 'its run directory, where it published itself, is gone with it')
  const after = await cli('topic', 'list')
  t.equal(after.code, 1)
  t.match(after.stderr, /no dataflow is running/)
})
