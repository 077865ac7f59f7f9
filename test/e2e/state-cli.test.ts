/**
 * `dora-ts state` through the real CLI, on the store of a real run of a counting operator:
 * ls, dump, clear, snapshot, snapshots and restore, with their output and exit codes, and the
 * error paths of each (unknown operator or snapshot, clear without --yes off a terminal).
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './fixtures/cli.js'
import { countAndSum, countingFlow, noStack, stateWorkspace } from './fixtures/counting.js'

const flow = (count: number, delayMs: number, extra = ''): string => countingFlow({ name: 'counting', count, delayMs, extra })

t.test('state ls, dump, snapshot, snapshots, clear and restore on the store of a finished run', async (t) => {
  const { dir, root, env, state } = stateWorkspace(t, flow(5, 1))

  const run = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root, '--stop-after', '30s'], { env })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /\[sink\] got count 5 /)

  // ls and dump only read: run them side by side.
  const [stores, ls, lsJson, byYaml, dump, dumpJson, unknownOp] = await Promise.all([
    state('ls'),
    state('ls', 'counting'),
    state('ls', 'counting', '--json'),
    state('ls', join(dir, 'dataflow.yml')),
    state('dump', 'counting'),
    state('dump', 'counting', 'counter', '--json'),
    state('dump', 'counting', 'nope'),
  ])
  t.equal(stores!.code, 0, stores!.stderr)
  t.match(stores!.stdout, /^state stores under .*state:\ndataflow +on disk +owner\ncounting +[\d.]+ KiB +not in use\n$/)
  t.equal(ls!.code, 0, ls!.stderr)
  t.match(ls!.stdout, /^dataflow "counting": .*state\/counting \([\d.]+ KiB on disk\), not in use\noperator +entries +bytes\ncounter\/counter +2 +\d+\n$/)
  t.match(JSON.parse(lsJson!.stdout), {
    dataflow: 'counting',
    dir: join(root, 'counting'),
    inUse: false,
    owner: null,
    operators: [{ operator: 'counter/counter', entries: 2 }],
  })
  t.equal(byYaml!.stdout, ls!.stdout, 'the dataflow YAML names the same store as its name')

  t.equal(dump!.code, 0, dump!.stderr)
  t.equal(dump!.stdout, 'counter/counter (2 entries)\n  count = hex:05 (msgpack: 5)\n  sum = hex:0f (msgpack: 15)\n')
  t.equal(dumpJson!.code, 0, dumpJson!.stderr)
  t.same(Object.keys(JSON.parse(dumpJson!.stdout) as object), ['counter/counter'], 'a single operator is named by its node')
  t.same(countAndSum(dumpJson!), { count: 5, sum: 15 })
  t.equal(unknownOp!.code, 1)
  t.match(
    unknownOp!.stderr,
    /error: cannot find the state of operator "nope" of dataflow "counting" in .*: it has no operator "nope"; its operators are: counter\/counter\n/,
  )
  noStack(t, unknownOp!)

  // snapshot, snapshots
  const snap = await state('snapshot', 'counting')
  t.equal(snap.code, 0, snap.stderr)
  const id = snap.stdout.trim()
  t.match(id, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z$/, 'the id is the UTC time')
  t.match(snap.stderr, /snapshot of dataflow "counting": 1 operator, [\d.]+ KiB, in .*state\/\.snapshots\/counting\//)
  t.ok(existsSync(join(root, '.snapshots', 'counting', id, 'data.mdb')))
  const [list, listJsonResult, stillOneStore, unconfirmed] = await Promise.all([
    state('snapshots', 'counting'),
    state('snapshots', 'counting', '--json'),
    state('ls'),
    state('clear', 'counting'),
  ])
  t.equal(list!.code, 0, list!.stderr)
  t.match(
    list!.stdout,
    new RegExp(`^id +date \\(UTC\\) +size +operators\\n${id.replace(/\./g, '\\.')} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +[\\d.]+ KiB +1\\n$`),
  )
  const listJson = JSON.parse(listJsonResult!.stdout) as { snapshots: { id: string; bytes: number; createdAt: string }[] }
  t.equal(listJson.snapshots.length, 1)
  t.equal(listJson.snapshots[0]!.id, id)
  t.ok(listJson.snapshots[0]!.bytes > 0)
  t.ok(Math.abs(Date.parse(listJson.snapshots[0]!.createdAt) - Date.now()) < 60_000)
  t.notMatch(stillOneStore!.stdout, /\.snapshots/, 'snapshots are not listed as stores')

  // clear
  t.equal(unconfirmed!.code, 1)
  t.match(
    unconfirmed!.stderr,
    /error: refusing to clear the state of every operator of dataflow "counting" without confirmation: not on a terminal.*\nPass --yes to clear without asking/,
  )
  t.equal((await state('dump', 'counting')).stdout, dump!.stdout, 'nothing was cleared')
  const cleared = await state('clear', 'counting', 'counter/counter', '--yes')
  t.equal(cleared.code, 0, cleared.stderr)
  t.match(cleared.stderr, /cleared the state of 1 operator of dataflow "counting": counter\/counter/)
  t.match((await state('ls', 'counting')).stdout, /not in use\nno operator state\n$/)

  // restore
  const unknownSnap = await state('restore', 'counting', 'no-such-snapshot')
  t.equal(unknownSnap.code, 1)
  t.match(
    unknownSnap.stderr,
    new RegExp(`error: no snapshot "no-such-snapshot" of dataflow "counting" in .*: its snapshots are: ${id.replace(/\./g, '\\.')}\\n`),
  )
  noStack(t, unknownSnap)
  const restored = await state('restore', 'counting', id)
  t.equal(restored.code, 0, restored.stderr)
  t.match(restored.stderr, new RegExp(`restored dataflow "counting" from snapshot ${id.replace(/\./g, '\\.')}: 1 operator`))
  const saved = /kept as snapshot (before-restore-\S+)/.exec(restored.stderr)?.[1]
  t.ok(saved, 'the replaced state is kept as a snapshot')
  t.same(countAndSum(await state('dump', 'counting', '--json')), { count: 5, sum: 15 }, 'the state is back')
  t.match(
    (await state('snapshots', 'counting')).stdout,
    new RegExp(`${saved!.replace(/\./g, '\\.')} .* 0\\n`),
    'the before-restore snapshot holds the cleared (empty) state',
  )

  // The restored store is the one the next run resumes from.
  const again = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root, '--stop-after', '30s'], { env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /\[counter\] restored count=5 sum=15 restartCount=0/)
  t.same(countAndSum(await state('dump', 'counting', '--json')), { count: 10, sum: 30 }, 'and keeps counting from there')
})
