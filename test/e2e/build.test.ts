/**
 * `dora-ts build` through the real CLI: each node's `build:` command runs through a real shell,
 * in YAML order, in the dataflow file's folder, with the node's env; a node whose program is
 * what its build makes is taken before it exists; the first build that fails ends the build,
 * named with its node, its line and its exit, and the nodes after it are not built.
 */
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './fixtures/cli.js'

t.test('build runs each build: command in order, in the dataflow folder, with the node env', async (t) => {
  const dir = t.testdir({
    'robot.yml': `env:
  ROBOT: rover
nodes:
  - id: driver
    path: ./out/driver
    build: mkdir -p out && echo "$ROBOT $PORT" > out/driver && echo "built the driver"
    env:
      PORT: /dev/ttyUSB0
  - id: planner
    path: ./planner.mjs
  - id: viewer
    path: ./viewer.mjs
    build: echo viewer >> order.txt; echo "viewer warns" >&2
`,
    'planner.mjs': '',
    'viewer.mjs': '',
  })
  const before = await runCli(['check', join(dir, 'robot.yml')])
  t.equal(before.code, 1, 'before its build, the driver is missing')
  t.match(before.stderr, /node "driver": `path` [\s\S]*run `dora-ts build robot\.yml` first/, 'and check says to build it')
  // From another folder: the commands run in the dataflow's.
  const result = await runCli(['build', join(dir, 'robot.yml')], { cwd: join(dir, '..') })
  t.equal(result.code, 0, result.stderr)
  t.equal(readFileSync(join(dir, 'out', 'driver'), 'utf8'), 'rover /dev/ttyUSB0\n', "the driver's build ran in the folder, with the dataflow's env and its own")
  t.equal(readFileSync(join(dir, 'order.txt'), 'utf8'), 'viewer\n')
  t.match(result.stdout, /\[driver\] built the driver\n/, "a build's output is printed as its node's")
  t.match(result.stdout, /\[viewer\] viewer warns\n/, 'its stderr too')
  t.match(result.stderr, /building node "driver": mkdir -p out[\s\S]*built node "driver" in [\d.]+ s[\s\S]*building node "viewer"/)
  t.notMatch(result.stderr, /planner/, 'a node without build: is not mentioned')
  t.match(result.stderr, /robot\.yml: built 2 nodes; run it with `dora-ts run /)
})

t.test('the first build that fails ends the build with its node, line and exit; the next are not built', async (t) => {
  const dir = t.testdir({
    'robot.yml': `nodes:
  - id: first
    path: ./first.sh
    build: touch first-built
  - id: broken
    path: ./broken.sh
    build: echo "cargo failed, no such crate" >&2; exit 101
  - id: last
    path: ./last.sh
    build: touch last-built
`,
  })
  const result = await runCli(['build', join(dir, 'robot.yml')])
  t.equal(result.code, 1)
  t.ok(existsSync(join(dir, 'first-built')), 'the node before it was built')
  t.notOk(existsSync(join(dir, 'last-built')), 'the node after it was not')
  t.match(result.stdout, /\[broken\] cargo failed, no such crate/)
  t.match(result.stderr, /error: \S*robot\.yml:5: node "broken": its build command exited with code 101: echo "cargo failed, no such crate" >&2; exit 101\n/)
  t.match(result.stderr, /fix the build, then run `dora-ts build /)
  t.notMatch(result.stderr, /\n\s+at \S+ \(/, 'no stack trace')
})

t.test('a dataflow without build: commands has nothing to build; run and check take build: and never run it', async (t) => {
  const dir = t.testdir({
    'plain.yml': 'nodes:\n  - id: a\n    path: ./a.mjs\n',
    'built.yml': 'nodes:\n  - id: a\n    path: ./a.mjs\n    build: touch was-built\n',
    'a.mjs': '',
  })
  const plain = await runCli(['build', join(dir, 'plain.yml')])
  t.equal(plain.code, 0, plain.stderr)
  t.match(plain.stderr, /plain\.yml: no node has a build: command; nothing to build/)
  const check = await runCli(['check', join(dir, 'built.yml')])
  t.equal(check.code, 0, check.stderr)
  t.notOk(existsSync(join(dir, 'was-built')), 'check did not build')
})
