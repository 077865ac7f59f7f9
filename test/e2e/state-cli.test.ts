/**
 * `dora-ts state` through the real CLI, on the store of a real run of a counting operator:
 * ls, dump, clear, snapshot, snapshots and restore, their output and exit codes, and every
 * error path (unknown dataflow, unknown operator or snapshot, clear or restore while a run
 * owns the store, clear without --yes off a terminal).
 */
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { msgpack } from '../../node-sdk/state-codecs.js'
import { runCli, shortRuntimeDir, startCli, type CliResult } from './fixtures/cli.js'
import { fixture } from './fixtures/in-process.js'

const NOT_FOUND = /error: no state store for dataflow "nope" in .*: the stores there are: counting\n/

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

t.test('state ls, dump, snapshot, snapshots, clear and restore on the store of a finished run', async (t) => {
  const dir = t.testdir({ 'dataflow.yml': flow(5, 1) })
  const root = join(dir, 'state')
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  const state = (...args: string[]): Promise<CliResult> => runCli(['state', ...args, '--state-dir', root], { env })

  const run = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root, '--stop-after', '30s'], { env })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /\[sink\] got count 5 /)

  // ls
  const stores = await state('ls')
  t.equal(stores.code, 0, stores.stderr)
  t.match(stores.stdout, /^state stores under .*state:\ndataflow +on disk +owner\ncounting +[\d.]+ KiB +not in use\n$/)
  const ls = await state('ls', 'counting')
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, /^dataflow "counting": .*state\/counting \([\d.]+ KiB on disk\), not in use\noperator +entries +bytes\ncounter\/counter +2 +\d+\n$/)
  const lsJson = await state('ls', 'counting', '--json')
  t.match(JSON.parse(lsJson.stdout), { dataflow: 'counting', dir: join(root, 'counting'), inUse: false, owner: null, operators: [{ operator: 'counter/counter', entries: 2 }] })
  const byYaml = await state('ls', join(dir, 'dataflow.yml'))
  t.equal(byYaml.stdout, ls.stdout, 'the dataflow YAML names the same store as its name')

  // dump
  const dump = await state('dump', 'counting')
  t.equal(dump.code, 0, dump.stderr)
  t.equal(dump.stdout, 'counter/counter (2 entries)\n  count = hex:05 (msgpack: 5)\n  sum = hex:0f (msgpack: 15)\n')
  const dumpJson = await state('dump', 'counting', 'counter', '--json')
  t.equal(dumpJson.code, 0, dumpJson.stderr)
  t.same(Object.keys(JSON.parse(dumpJson.stdout) as object), ['counter/counter'], 'a single operator is named by its node')
  t.same(countAndSum(dumpJson), { count: 5, sum: 15 })
  const unknownOp = await state('dump', 'counting', 'nope')
  t.equal(unknownOp.code, 1)
  t.match(unknownOp.stderr, /error: cannot find the state of operator "nope" of dataflow "counting" in .*: it has no operator "nope"; its operators are: counter\/counter\n/)
  noStack(t, unknownOp)

  // snapshot, snapshots
  const snap = await state('snapshot', 'counting')
  t.equal(snap.code, 0, snap.stderr)
  const id = snap.stdout.trim()
  t.match(id, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z$/, 'the id is the UTC time')
  t.match(snap.stderr, /snapshot of dataflow "counting": 1 operator, [\d.]+ KiB, in .*state\/\.snapshots\/counting\//)
  t.ok(existsSync(join(root, '.snapshots', 'counting', id, 'data.mdb')))
  const list = await state('snapshots', 'counting')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, new RegExp(`^id +date \\(UTC\\) +size +operators\\n${id.replace(/\./g, '\\.')} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +[\\d.]+ KiB +1\\n$`))
  const listJson = JSON.parse((await state('snapshots', 'counting', '--json')).stdout) as { snapshots: { id: string; bytes: number; createdAt: string }[] }
  t.equal(listJson.snapshots.length, 1)
  t.equal(listJson.snapshots[0]!.id, id)
  t.ok(listJson.snapshots[0]!.bytes > 0)
  t.ok(Math.abs(Date.parse(listJson.snapshots[0]!.createdAt) - Date.now()) < 60_000)
  const stillOneStore = await state('ls')
  t.notMatch(stillOneStore.stdout, /\.snapshots/, 'snapshots are not listed as stores')

  // clear
  const unconfirmed = await state('clear', 'counting')
  t.equal(unconfirmed.code, 1)
  t.match(unconfirmed.stderr, /error: refusing to clear the state of every operator of dataflow "counting" without confirmation: not on a terminal.*\nPass --yes to clear without asking/)
  t.equal((await state('dump', 'counting')).stdout, dump.stdout, 'nothing was cleared')
  const cleared = await state('clear', 'counting', 'counter/counter', '--yes')
  t.equal(cleared.code, 0, cleared.stderr)
  t.match(cleared.stderr, /cleared the state of 1 operator of dataflow "counting": counter\/counter/)
  t.match((await state('ls', 'counting')).stdout, /not in use\nno operator state\n$/)

  // restore
  const unknownSnap = await state('restore', 'counting', 'no-such-snapshot')
  t.equal(unknownSnap.code, 1)
  t.match(unknownSnap.stderr, new RegExp(`error: no snapshot "no-such-snapshot" of dataflow "counting" in .*: its snapshots are: ${id.replace(/\./g, '\\.')}\\n`))
  noStack(t, unknownSnap)
  const restored = await state('restore', 'counting', id)
  t.equal(restored.code, 0, restored.stderr)
  t.match(restored.stderr, new RegExp(`restored dataflow "counting" from snapshot ${id.replace(/\./g, '\\.')}: 1 operator`))
  const saved = /kept as snapshot (before-restore-\S+)/.exec(restored.stderr)?.[1]
  t.ok(saved, 'the replaced state is kept as a snapshot')
  t.same(countAndSum(await state('dump', 'counting', '--json')), { count: 5, sum: 15 }, 'the state is back')
  t.match((await state('snapshots', 'counting')).stdout, new RegExp(`${saved!.replace(/\./g, '\\.')} .* 0\\n`), 'the before-restore snapshot holds the cleared (empty) state')

  // The restored store is the one the next run resumes from.
  const again = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root, '--stop-after', '30s'], { env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /\[counter\] restored count=5 sum=15 restartCount=0/)
  t.same(countAndSum(await state('dump', 'counting', '--json')), { count: 10, sum: 30 }, 'and keeps counting from there')
})

t.test('an unknown dataflow is an error listing the stores that exist, for every subcommand', async (t) => {
  const dir = t.testdir({ 'dataflow.yml': flow(2, 1) })
  const root = join(dir, 'state')
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  t.equal((await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root, '--stop-after', '30s'], { env })).code, 0)
  for (const args of [['ls', 'nope'], ['dump', 'nope'], ['clear', 'nope', '--yes'], ['snapshot', 'nope'], ['snapshots', 'nope'], ['restore', 'nope', 'x']]) {
    const result = await runCli(['state', ...args, '--state-dir', root])
    t.equal(result.code, 1, `state ${args.join(' ')} exits 1`)
    t.match(result.stderr, NOT_FOUND, `state ${args.join(' ')} lists the stores`)
    t.match(result.stderr, /\nPass one of those names \(or the dataflow YAML\), or --state-dir/)
    noStack(t, result)
  }
  const empty = await runCli(['state', 'ls', 'nope', '--state-dir', join(dir, 'nothing-here')])
  t.equal(empty.code, 1)
  t.match(empty.stderr, /there is no state store under .*nothing-here at all\nRun the dataflow first/)
  const badName = await runCli(['state', 'ls', '../counting', '--state-dir', root])
  t.equal(badName.code, 1)
  t.match(badName.stderr, /"\.\.\/counting" is not a dataflow name/)
  const noSub = await runCli(['state'])
  t.equal(noSub.code, 2, 'a missing subcommand is a usage error')
  t.match(noSub.stderr, /Name a state command/)
})

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
  // A name alone looks in ./.dora-ts/state.
  const byName = await runCli(['state', 'dump', 'dataflow'], { cwd: join(dir, 'default') })
  t.equal(byName.code, 0, byName.stderr)
  t.match(byName.stdout, /count = hex:02 \(msgpack: 2\)/)
})

t.test('state --help and each subcommand --help show examples', async (t) => {
  const help = await runCli(['state', '--help'])
  t.equal(help.code, 0)
  for (const sub of ['ls', 'dump', 'clear', 'snapshot', 'snapshots', 'restore']) {
    t.match(help.stdout, new RegExp(`dora-ts state ${sub} `))
    const subHelp = await runCli(['state', sub, '--help'])
    t.equal(subHelp.code, 0)
    t.match(subHelp.stdout, new RegExp(`Examples:\\n +dora-ts state ${sub} `), `state ${sub} --help has an example`)
  }
})
