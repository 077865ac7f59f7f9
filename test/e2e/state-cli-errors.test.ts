/**
 * `dora-ts state` error paths through the real CLI: an unknown dataflow (for every
 * subcommand, listing the stores that exist), a bad name, a missing subcommand; and every
 * subcommand's --help has an example.
 */
import t from 'tap'
import { join } from 'node:path'
import { runCli, shortRuntimeDir } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

const flow = `name: counting
nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 2 }
    outputs: [numbers]
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs:
        numbers: source/numbers
      outputs: [count]
`

t.test('an unknown dataflow is an error listing the stores that exist, for every subcommand', async (t) => {
  const dir = t.testdir({ 'dataflow.yml': flow })
  const root = join(dir, 'state')
  const run = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', root, '--stop-after', '30s'], { env: { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) } })
  t.equal(run.code, 0, run.stderr)
  const commands = [
    ['ls', 'nope'],
    ['dump', 'nope'],
    ['dump', 'nope', 'counter'],
    ['clear', 'nope', '--yes'],
    ['snapshot', 'nope'],
    ['snapshots', 'nope'],
    ['restore', 'nope', 'x'],
  ]
  const results = await Promise.all(commands.map((args) => runCli(['state', ...args, '--state-dir', root])))
  results.forEach((result, i) => {
    const what = `state ${commands[i]!.join(' ')}`
    t.equal(result.code, 1, `${what} exits 1`)
    t.match(
      result.stderr,
      /^error: no state store for dataflow "nope" in .*state: the stores there are: counting\nPass one of those names \(or the dataflow YAML\), or --state-dir with the root `dora-ts run` used\.\n$/,
      `${what} says so in one paragraph and lists the stores`,
    )
  })

  const [empty, badName, noSub] = await Promise.all([
    runCli(['state', 'ls', 'nope', '--state-dir', join(dir, 'nothing-here')]),
    runCli(['state', 'ls', '../counting', '--state-dir', root]),
    runCli(['state']),
  ])
  t.equal(empty.code, 1)
  t.match(empty.stderr, /there is no state store under .*nothing-here at all\nRun the dataflow first/)
  t.equal(badName.code, 1)
  t.match(badName.stderr, /"\.\.\/counting" is not a dataflow name: it contains a path separator/)
  t.equal(noSub.code, 2, 'a missing subcommand is a usage error')
  t.match(noSub.stderr, /Name a state command: ls, dump, clear, snapshot, snapshots or restore\./)
})

t.test('state --help and each subcommand --help show examples', async (t) => {
  const subs = ['ls', 'dump', 'clear', 'snapshot', 'snapshots', 'restore']
  const [help, ...subHelps] = await Promise.all([runCli(['state', '--help']), ...subs.map((sub) => runCli(['state', sub, '--help']))])
  t.equal(help!.code, 0)
  subs.forEach((sub, i) => {
    t.match(help!.stdout, new RegExp(`dora-ts state ${sub} `), `state --help lists ${sub}`)
    t.equal(subHelps[i]!.code, 0)
    t.match(subHelps[i]!.stdout, new RegExp(`Examples:\\n +dora-ts state ${sub} `), `state ${sub} --help has an example`)
  })
})
