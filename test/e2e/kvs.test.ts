/**
 * The shared KVS end to end: real custom nodes (child processes) and operators (worker
 * threads) of dataflows run by the built CLI, and the `dora-ts kvs` commands working while the
 * dataflow runs. Every test has its own KVS directory (DORA_TS_KVS_DIR or --kvs-dir).
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { printedPids, runCli, shortRuntimeDir, startCli, waitForExit, type CliResult } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

interface Env {
  kvsDir: string
  env: NodeJS.ProcessEnv
}

function isolated(t: Test): Env {
  const kvsDir = join(t.testdir({}), 'kvs')
  return { kvsDir, env: { DORA_TS_KVS_DIR: kvsDir, DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) } }
}

async function kvsCli(env: Env, ...args: string[]): Promise<CliResult> {
  return runCli(['kvs', ...args], { env: env.env })
}

async function kvsJson<T>(t: Test, env: Env, ...args: string[]): Promise<T> {
  const result = await kvsCli(env, ...args, '--json')
  t.equal(result.code, 0, `dora-ts kvs ${args.join(' ')}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

t.test('custom nodes and operators incrementing one shared counter concurrently lose no update', async (t) => {
  const env = isolated(t)
  const count = 300
  const dir = t.testdir({
    'dataflow.yml': `name: counters
nodes:
  - id: node-a
    path: ${fixture('kvs-counter-node.mjs')}
    env: { COUNT: ${count}, WAIT_FOR_TOTAL: ${5 * count} }
  - id: node-b
    path: ${fixture('kvs-counter-node.mjs')}
    env: { COUNT: ${count}, MODE: cas, WAIT_FOR_TOTAL: ${5 * count} }
  - id: node-c
    path: ${fixture('kvs-counter-node.mjs')}
    env: { COUNT: ${count}, WAIT_FOR_TOTAL: ${5 * count} }
  - id: ops
    env: { COUNT: ${count} }
    operators:
      - id: op-a
        javascript: ${fixture('kvs-counter-op.mjs')}
      - id: op-b
        javascript: ${fixture('kvs-counter-op.mjs')}
exit_when_nodes_finish: [node-a, node-b, node-c]
`,
  })
  // The path comes from --kvs-dir here (the other tests use DORA_TS_KVS_DIR).
  const run = await runCli(['run', join(dir, 'dataflow.yml'), '--kvs-dir', env.kvsDir], { env: { DORA_TS_RUNTIME_DIR: env.env['DORA_TS_RUNTIME_DIR'] } })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, new RegExp(`\\[node-a\\] node-a did ${count} increments in namespace counters`))
  t.match(run.stdout, new RegExp(`\\[ops/op-b\\] ops/op-b did ${count} increments in namespace counters`))
  const got = await kvsJson<{ found: boolean; json: number }>(t, env, 'get', 'hits', '-n', 'counters')
  t.equal(got.json, 5 * count, '3 custom nodes and 2 operators, each counted every increment')
})

t.test('a watching node sees writes from an operator and from the CLI; kvs_namespace picks the pool', async (t) => {
  const env = isolated(t)
  const dir = t.testdir({
    'dataflow.yml': `name: watched
kvs_namespace: shared-pool
nodes:
  - id: watcher
    path: ${fixture('kvs-watcher-node.mjs')}
  - id: writer
    operator:
      javascript: ${fixture('kvs-writer-op.mjs')}
      inputs:
        tick: dora/timer/millis/20
`,
  })
  const run = startCli(['run', join(dir, 'dataflow.yml')], { env: env.env })
  t.teardown(() => run.child.kill('SIGKILL'))
  await run.waitFor(/\[watcher\] watching namespace shared-pool/)
  await run.waitFor(/\[watcher\] change put settings\/tick \d+/)

  const put = await kvsCli(env, 'put', 'settings/speed', '2.5', '-n', 'shared-pool')
  t.equal(put.code, 0, put.stderr)
  await run.waitFor(/\[watcher\] change put settings\/speed 2\.5/)
  const rm = await kvsCli(env, 'rm', 'settings/speed', '-n', 'shared-pool')
  t.equal(rm.code, 0, rm.stderr)
  await run.waitFor(/\[watcher\] change delete settings\/speed/)

  // And the other way round: the CLI watches what the operator writes.
  const watched = await runCli(['kvs', 'watch', 'settings/', '-n', 'shared-pool', '--count', '2', '--json'], { env: env.env })
  t.equal(watched.code, 0, watched.stderr)
  const changes = watched.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; key: string; json: number })
  t.same(
    changes.map((c) => [c.type, c.key]),
    [
      ['put', 'settings/tick'],
      ['put', 'settings/tick'],
    ],
  )
  t.ok((changes[1]?.json ?? 0) > (changes[0]?.json ?? 0), 'in order')

  const ls = await kvsJson<Array<{ key: string }>>(t, env, 'ls', '-n', 'shared-pool')
  t.same(
    ls.map((e) => e.key),
    ['settings/tick'],
  )
  const other = await kvsCli(env, 'ls', '-n', 'watched')
  t.equal(other.code, 1, 'nothing landed in the namespace named after the dataflow: it does not exist')
  t.match(other.stderr, /KVS namespace "watched" does not exist[\s\S]*namespaces in .*: shared-pool/)

  run.child.kill('SIGINT')
  const exited = await run.exited
  t.equal(exited.code, 0, exited.stderr)
})

t.test('writes survive a SIGKILL of the supervisor', async (t) => {
  const env = isolated(t)
  const dir = t.testdir({
    'dataflow.yml': `name: survivor
nodes:
  - id: writer
    path: ${fixture('kvs-loop-node.mjs')}
`,
  })
  const run = startCli(['run', join(dir, 'dataflow.yml')], { env: env.env })
  t.teardown(() => run.child.kill('SIGKILL'))
  await run.waitFor(/\[writer\] wrote 2000\n/)
  const pids = printedPids(run.output().stdout)
  run.child.kill('SIGKILL')
  await run.exited
  t.same(await waitForExit(pids, 15_000), [], 'the node exits on its own once its supervisor is gone')
  const acked = Math.max(...[...run.output().stdout.matchAll(/\[writer\] wrote (\d+)/g)].map((m) => Number(m[1])))
  const entries = await kvsJson<Array<{ key: string; json: number }>>(t, env, 'ls', 'n/', '-n', 'survivor')
  const present = new Set(entries.map((e) => e.json))
  const missing = Array.from({ length: acked }, (_, i) => i + 1).filter((i) => !present.has(i))
  t.same(missing, [], `all ${acked} writes the node reported are there`)
})

t.test('dora-ts kvs: get/put/ls/rm with --json, --file, and clear errors', async (t) => {
  const env = isolated(t)
  const file = join(t.testdir({ 'map.bin': Buffer.from([0, 1, 2, 255]) }), 'map.bin')
  t.equal((await kvsCli(env, 'put', 'config/name', 'robot one', '-n', 'cli')).code, 0)
  t.same(await kvsJson(t, env, 'put', 'blob', '--file', file, '-n', 'cli'), { namespace: 'cli', key: 'blob', bytes: 4 })
  const get = await kvsCli(env, 'get', 'config/name', '-n', 'cli')
  t.equal(get.stdout, 'robot one\n', 'get prints the value and ends its line')
  t.same(await kvsJson(t, env, 'get', 'blob', '-n', 'cli'), { namespace: 'cli', key: 'blob', found: true, bytes: 4, base64: 'AAEC/w==' })
  const ls = await kvsCli(env, 'ls', '-n', 'cli')
  t.equal(ls.stdout, 'blob\t<4 bytes of binary>\nconfig/name\trobot one\n')

  const missing = await kvsCli(env, 'get', 'nope', '-n', 'cli', '--json')
  t.equal(missing.code, 1, 'a missing key exits 1')
  t.same(JSON.parse(missing.stdout), { namespace: 'cli', key: 'nope', found: false })
  t.same(await kvsJson(t, env, 'rm', 'blob', '-n', 'cli'), { namespace: 'cli', key: 'blob', removed: true })
  const rmAgain = await kvsCli(env, 'rm', 'blob', '-n', 'cli')
  t.equal(rmAgain.code, 1)
  t.match(rmAgain.stderr, /key "blob" not found in KVS namespace "cli"/)

  const noNamespace = await kvsCli(env, 'ls')
  t.equal(noNamespace.code, 1)
  t.match(noNamespace.stderr, /name the KVS namespace with --namespace[\s\S]*namespaces in .*: cli/)
  const badKey = await kvsCli(env, 'put', 'k'.repeat(600), 'v', '-n', 'cli')
  t.equal(badKey.code, 1)
  t.match(badKey.stderr, /is 600 UTF-8 bytes long, the limit is 511[\s\S]*use non-empty string keys/)
  t.notMatch(badKey.stderr, /please report/, 'a user error, not a bug')
  const both = await kvsCli(env, 'put', 'k', 'v', '--file', file, '-n', 'cli')
  t.equal(both.code, 1)
  t.match(both.stderr, /a value or --file, exactly one/)
  const elsewhere = await runCli(['kvs', 'ls', '-n', 'cli', '--kvs-dir', join(env.kvsDir, 'other')], { env: env.env })
  t.equal(elsewhere.stdout, '', '--kvs-dir picks another store')
})
