/**
 * `dora-ts state` next to a live run, through the real CLI: ls shows the owner, dump and
 * snapshot read the live store, clear and restore are refused (DORA_STATE_IN_USE); and a dataflow
 * YAML finds its store as `dora-ts run` does.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { rmSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, shortRuntimeDir, startCli } from './fixtures/cli.js'
import { countAndSum, countingFlow, noStack, stateWorkspace } from './fixtures/counting.js'
import { waitFor } from '../fixtures/wait-for.js'

const flow = (count: number, delayMs: number, extra = ''): string => countingFlow({ name: 'counting', count, delayMs, extra })

t.test('while a run owns the store: ls shows it, dump and snapshot work, clear and restore are refused', async (t) => {
  const { dir, root, env, state } = stateWorkspace(t, flow(1_000_000, 5))

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
  t.match(
    clear.stderr,
    new RegExp(
      `error: cannot clear the state of every operator of dataflow "counting": a running dataflow \\(dora-ts pid ${pid}\\) owns its state store in .*\\nStop that dataflow first`,
    ),
  )
  noStack(t, clear)
  const clearOne = await state('clear', 'counting', 'counter', '--yes')
  t.equal(clearOne.code, 1)
  t.match(clearOne.stderr, /cannot clear the state of operator "counter" of dataflow "counting": a running dataflow/)
  const restore = await state('restore', 'counting', id)
  t.equal(restore.code, 1)
  t.match(
    restore.stderr,
    new RegExp(`error: cannot restore the state of dataflow "counting": a running dataflow \\(dora-ts pid ${pid}\\) owns its state store`),
  )
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
  const dir = t.testdir({
    default: { 'dataflow.yml': flow(2, 1).replace('name: counting\n', '') },
    custom: { 'dataflow.yml': flow(2, 1, 'state_dir: ./my-state\n') },
  })
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

t.test('reads while the run commits fast go through the run: it is never disturbed, and each read is one event', async (t) => {
  // A run that would go on far longer than the test, stopped after its reads: each read then
  // finds it live and committing as fast as it can. Before, a run of 10 000 events that the
  // reads had to outlast (24 s of CPU for 20 000 at load 32 on the 2-core machine): its length
  // had to be guessed so that at least one read found it live, and the test waited it out.
  const reads = 5
  const { dir, root, env, state } = stateWorkspace(t, flow(1_000_000, 0))
  const cli = startCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root], { env })
  t.teardown(() => {
    cli.child.kill('SIGKILL')
  })
  await cli.waitFor(/\[sink\] got count 3 /)
  // Before the state service, another process opening the live store made the run's commits
  // fail (MDB_BAD_TXN) or crash the supervisor; now these reads are answered by the run.
  let last = 0
  for (let i = 0; i < reads; i++) {
    const dump = await state('dump', 'counting', '--json')
    t.equal(dump.code, 0, dump.stderr)
    const { count, sum } = countAndSum(dump)
    t.equal(sum, (count * (count + 1)) / 2, `read ${i}: count and sum of the same event`)
    t.ok(count >= last, `read ${i}: never older than the read before (${count} >= ${last})`)
    last = count
  }
  t.equal(cli.child.exitCode, null, 'every read found the run live')
  cli.child.kill('SIGINT')
  const ended = await cli.exited
  t.equal(ended.code, 0, ended.stderr)
  t.notMatch(ended.stderr, /failed|crashed|could not commit/, 'no operator failed or crashed')
  // Every event the counter committed reached the sink in order, none lost or doubled.
  const counts = [...ended.stdout.matchAll(/^\[sink\] got count (\d+) /gm)].map((m) => Number(m[1]))
  t.same(
    counts,
    Array.from({ length: counts.length }, (_, i) => i + 1),
    'the sink got 1, 2, 3, ... with no gap',
  )
  const final = countAndSum(await state('dump', 'counting', '--json'))
  t.equal(final.sum, (final.count * (final.count + 1)) / 2, 'the store holds one event after the stop')
  t.ok(final.count >= Math.max(last, counts.at(-1) ?? 0), `and the last one: ${final.count} >= the last read (${last}) and the sink's last (${counts.at(-1)})`)
})

t.test("a dead owner's leftovers are ignored; a live owner that does not serve is a clear error", async (t) => {
  const { dir, root, env, state } = stateWorkspace(t, flow(3, 0))
  const run = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root], { env })
  t.equal(run.code, 0, run.stderr)
  const store = join(root, 'counting')

  // A SIGKILLed run leaves owner.pid and owner.endpoint behind.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!
  writeFileSync(join(store, 'owner.pid'), `${dead}\n`)
  writeFileSync(join(store, 'owner.endpoint'), `ipc://${join(dir, 'gone.sock')}\n`)
  const ls = await state('ls', 'counting')
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, /not in use\n/)
  t.match(ls.stdout, /counter\/counter +2 /)

  // Another state command holds the lock for a moment: not "in use" by a run; reads wait for it.
  writeFileSync(join(store, 'owner.pid'), `${process.pid} cli\n`)
  const listing = await state('ls')
  t.match(listing.stdout, /counting +[\d.]+ KiB +not in use\n/, 'a command reading the store is not a run owning it')
  // Release it only once the dump has tried to take the lock and failed (each try links a
  // `owner.pid.<its pid>.*.tmp` file, seen here through fs.watch): then it must have waited.
  const created: string[] = []
  const watcher = watch(store, (_event, name) => {
    if (name !== null) created.push(name)
  })
  t.teardown(() => watcher.close())
  const dump = startCli(['state', 'dump', 'counting', '--state-dir', root], { env })
  await waitFor(() => created.some((name) => name.startsWith(`owner.pid.${dump.child.pid}.`)), {
    what: 'the dump to try the lock',
    detail: () => created.join('\n'),
  })
  watcher.close()
  rmSync(join(store, 'owner.pid'), { force: true })
  const waited = await dump.exited
  t.equal(waited.code, 0, waited.stderr)
  t.match(waited.stdout, /count = hex:03 \(msgpack: 3\)/, 'the read waited for the other command, then went on')

  // A live process holds the lock but serves nothing (say, an older dora-ts).
  writeFileSync(join(store, 'owner.pid'), `${process.pid}\n`)
  rmSync(join(store, 'owner.endpoint'), { force: true })
  const stuck = await state('dump', 'counting')
  t.equal(stuck.code, 1)
  t.match(
    stuck.stderr,
    new RegExp(`error: cannot read the state of dataflow "counting": dora-ts pid ${process.pid} owns its store in .* but does not serve it`),
  )
  noStack(t, stuck)
  rmSync(join(store, 'owner.pid'), { force: true })
})
