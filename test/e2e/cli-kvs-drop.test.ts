/**
 * `dora-ts kvs drop-namespace` end to end (issue 14, defect 7): while a dataflow runs, its
 * custom node (direct LMDB handles) and its operator (the supervisor's KVS thread) read the
 * dropped namespace empty, never crash, and see it again once it is written; the command names
 * the processes that have the KVS open; unknown names and a missing --yes are clear errors.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { runCli, shortRuntimeDir, startCli, type CliResult } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

/** The KVS in `dir` (made by the test's one t.testdir call: a second call would wipe the first). */
function isolated(t: Test, dir: string): NodeJS.ProcessEnv {
  return { DORA_TS_KVS_DIR: join(dir, 'kvs'), DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
}

const kvs = (env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> => runCli(['kvs', ...args], { env })

t.test('a live dataflow reads a dropped namespace empty, never crashes, and sees it written again', async (t) => {
  const dir = t.testdir({
    'dataflow.yml': `name: prober
kvs_namespace: probe-ns
nodes:
  - id: probe-node
    path: ${fixture('kvs-probe-node.mjs')}
    inputs: { tick: dora/timer/millis/20 }
  - id: probe-op
    operator:
      javascript: ${fixture('kvs-probe-op.mjs')}
      inputs: { tick: dora/timer/millis/20 }
`,
  })
  const env = isolated(t, dir)
  t.equal((await kvs(env, 'put', '-n', 'probe-ns', 'probe', '1')).code, 0)
  const run = startCli(['run', join(dir, 'dataflow.yml')], { env })
  t.teardown(() => run.child.kill('SIGKILL'))
  await run.waitFor(/\[probe-node\] node read 1\n/)
  await run.waitFor(/\[probe-op\] op read 1\n/)

  const drop = await kvs(env, 'drop-namespace', 'probe-ns', '--yes')
  t.equal(drop.code, 0, drop.stderr)
  t.match(drop.stderr, /dropped KVS namespace "probe-ns": 1 key deleted/)
  t.match(drop.stderr, /other process(es)? had the KVS open: .*node "probe-node" of dataflow run/, 'names the custom node that holds it')
  t.equal((await kvs(env, 'namespaces')).stdout, '', 'no longer listed')

  await run.waitFor(/\[probe-node\] node read none\n/)
  await run.waitFor(/\[probe-op\] op read none\n/)
  t.equal((await kvs(env, 'put', '-n', 'probe-ns', 'probe', '2')).code, 0)
  await run.waitFor(/\[probe-node\] node read 2\n/)
  await run.waitFor(/\[probe-op\] op read 2\n/)

  run.child.kill('SIGINT')
  const exited = await run.exited
  t.equal(exited.code, 0, `no node or operator failed: ${exited.stderr}`)
  t.notMatch(run.output().stdout + exited.stderr, /crashed|DORA_KVS/)
})

t.test('drop-namespace errors: unknown name, no --yes off a terminal, a bad name, no name or two', async (t) => {
  const env = isolated(t, t.testdir({}))
  t.equal((await kvs(env, 'put', '-n', 'robot', 'k', 'v')).code, 0)
  const unknown = await kvs(env, 'drop-namespace', 'robto', '--yes')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /KVS namespace "robto" does not exist \(did you mean "robot"\?\); nothing dropped[\s\S]*namespaces in .*: robot/)
  t.notMatch(unknown.stderr, /please report|\n {4}at /, 'no stack trace')
  const unasked = await kvs(env, 'drop-namespace', 'robot')
  t.equal(unasked.code, 1)
  t.match(unasked.stderr, /refusing to drop KVS namespace "robot" without confirmation[\s\S]*--yes/)
  t.equal((await kvs(env, 'namespaces')).stdout, 'robot\n', 'nothing dropped')
  const bad = await kvs(env, 'drop-namespace', '', '--yes')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /DORA_KVS_BAD_NAMESPACE|namespace/)
  const none = await kvs(env, 'drop-namespace', '--yes')
  t.equal(none.code, 1)
  t.match(none.stderr, /kvs drop-namespace needs the namespace to drop[\s\S]*dora-ts kvs drop-namespace NAME/)
  const two = await kvs(env, 'drop-namespace', 'robot', '-n', 'other', '--yes')
  t.equal(two.code, 1)
  t.match(two.stderr, /got two namespaces: "robot" and -n "other"/)
  t.equal((await kvs(env, 'namespaces')).stdout, 'robot\n', 'still nothing dropped')
  const help = await kvs(env, 'drop-namespace', '--help')
  t.notMatch(help.stdout, /--namespace/, "its help shows the argument, not the other commands' --namespace")
  const json = await kvs(env, 'drop-namespace', 'robot', '--yes', '--json')
  t.equal(json.code, 0, json.stderr)
  t.same(JSON.parse(json.stdout), { namespace: 'robot', keys: 1, freed: true, holders: [] })
  t.equal((await kvs(env, 'namespaces')).stdout, '')
  t.equal((await kvs(env, 'put', '-n', 'second', 'k', 'v')).code, 0)
  const byOption = await kvs(env, 'drop-namespace', '-n', 'second', '--yes')
  t.equal(byOption.code, 0, byOption.stderr)
  t.match(byOption.stderr, /dropped KVS namespace "second"/, '-n names it as in the other kvs commands')
})
