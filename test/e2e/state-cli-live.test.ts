/**
 * `dora-ts state` next to a live run, through the real CLI: ls shows the owner, dump and
 * snapshot read the live store, clear and restore are refused (DORA_STATE_IN_USE); and a dataflow
 * YAML finds its store as `dora-ts run` does.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { msgpack } from '../../node-sdk/state-codecs.js'
import { runCli, shortRuntimeDir, startCli, type CliResult } from './fixtures/cli.js'
import { fixture } from './fixtures/in-process.js'

function flow(count: number, delayMs: number, extra = ''): string {
  return `name: counting
${extra}nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${count}, DELAY_MS: ${delayMs} }
    outputs: [numbers]
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs:
        numbers: { source: source/numbers, queue_size: 100000, queue_policy: backpressure }
      outputs: [count]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      count: { source: counter/count, queue_size: 100000 }
`
}

/** The counter's state as `state dump --json` reports it. */
function countAndSum(result: CliResult): { count: number; sum: number } {
  const json = JSON.parse(result.stdout) as Record<string, Record<string, string>>
  const state = json['counter/counter']!
  return { count: msgpack.decode<number>(Buffer.from(state['count']!, 'base64')), sum: msgpack.decode<number>(Buffer.from(state['sum']!, 'base64')) }
}

const noStack = (t: Test, result: CliResult): void => {
  t.notMatch(result.stderr, /\n\s+at \S+ \(/, 'no stack trace')
}

t.test('while a run owns the store: ls shows it, dump and snapshot work, clear and restore are refused', async (t) => {
  const dir = t.testdir({ 'dataflow.yml': flow(1_000_000, 5) })
  const root = join(dir, 'state')
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  const state = (...args: string[]): Promise<CliResult> => runCli(['state', ...args, '--state-dir', root], { env })

  const cli = startCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root], { env })
  t.teardown(() => {
    cli.child.kill('SIGKILL')
  })
  await cli.waitFor(/\[sink\] got count 3 /)
  const pid = cli.child.pid!

  const ls = await state('ls', 'counting')
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, new RegExp(`in use by a running dataflow \\(pid ${pid}\\)\\n`))
  t.match(JSON.parse((await state('ls', 'counting', '--json')).stdout), { inUse: true, owner: pid })
  t.match((await state('ls')).stdout, new RegExp(`counting .*in use \\(pid ${pid}\\)`))

  const dump = await state('dump', 'counting', '--json')
  t.equal(dump.code, 0, dump.stderr)
  const live = countAndSum(dump)
  t.ok(live.count >= 2, 'dump reads the live store')
  t.equal(live.sum, (live.count * (live.count + 1)) / 2, 'from one consistent transaction')

  const snap = await state('snapshot', 'counting')
  t.equal(snap.code, 0, snap.stderr)
  const id = snap.stdout.trim()

  const clear = await state('clear', 'counting', '--yes')
  t.equal(clear.code, 1)
  t.match(clear.stderr, new RegExp(`error: cannot clear the state of every operator of dataflow "counting": a running dataflow \\(dora-ts pid ${pid}\\) owns its state store in .*\\nStop that dataflow first`))
  noStack(t, clear)
  const clearOne = await state('clear', 'counting', 'counter', '--yes')
  t.equal(clearOne.code, 1)
  t.match(clearOne.stderr, /cannot clear the state of operator "counter" of dataflow "counting": a running dataflow/)
  const restore = await state('restore', 'counting', id)
  t.equal(restore.code, 1)
  t.match(restore.stderr, new RegExp(`error: cannot restore the state of dataflow "counting": a running dataflow \\(dora-ts pid ${pid}\\) owns its state store`))
  noStack(t, restore)
  t.notMatch(cli.output().stderr, /failed|crashed/, 'the run was not disturbed')

  cli.child.kill('SIGINT')
  const ended = await cli.exited
  t.equal(ended.code, 0, ended.stderr)

  t.match((await state('ls', 'counting')).stdout, /not in use\n/, 'the store is free once the run ended')
  const restored = await state('restore', 'counting', id)
  t.equal(restored.code, 0, restored.stderr)
  const fromSnapshot = countAndSum(await state('dump', 'counting', '--json'))
  t.ok(fromSnapshot.count >= live.count, 'the snapshot taken while running holds a later state than the earlier dump')
  t.equal(fromSnapshot.sum, (fromSnapshot.count * (fromSnapshot.count + 1)) / 2, 'and a consistent one: count and sum of the same event')
})

t.test('a dataflow YAML finds its store as dora-ts run does: state_dir, or .dora-ts/state next to it', async (t) => {
  const dir = t.testdir({ default: { 'dataflow.yml': flow(2, 1).replace('name: counting\n', '') }, custom: { 'dataflow.yml': flow(2, 1, 'state_dir: ./my-state\n') } })
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  for (const which of ['default', 'custom']) {
    const yml = join(dir, which, 'dataflow.yml')
    const run = await runCli(['run', yml, '--stop-after', '30s'], { env })
    t.equal(run.code, 0, run.stderr)
    const ls = await runCli(['state', 'ls', yml])
    t.equal(ls.code, 0, ls.stderr)
    const where = which === 'default' ? join(dir, 'default', '.dora-ts', 'state', 'dataflow') : join(dir, 'custom', 'my-state', 'counting')
    t.match(ls.stdout, `": ${where} (`, `${which}: the store is ${where}`)
    t.match(ls.stdout, /counter\/counter +2 /)
  }
  // A run under another --name: the YAML with the same --name finds it.
  const named = await runCli(['run', join(dir, 'custom', 'dataflow.yml'), '--name', 'second', '--stop-after', '30s'], { env })
  t.equal(named.code, 0, named.stderr)
  const byRunName = await runCli(['state', 'ls', join(dir, 'custom', 'dataflow.yml'), '--name', 'second'])
  t.equal(byRunName.code, 0, byRunName.stderr)
  t.match(byRunName.stdout, `": ${join(dir, 'custom', 'my-state', 'second')} (`)

  // A name alone looks in ./.dora-ts/state.
  const byName = await runCli(['state', 'dump', 'dataflow'], { cwd: join(dir, 'default') })
  t.equal(byName.code, 0, byName.stderr)
  t.match(byName.stdout, /count = hex:02 \(msgpack: 2\)/)
})
