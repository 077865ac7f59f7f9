/** `dora-ts check` through the real CLI: valid files pass, mistakes name file, line and node. */
import t from 'tap'
import { join } from 'node:path'
import { ROOT, runCli } from './fixtures/cli.js'

t.test('check accepts the default dataflow and the examples', async (t) => {
  for (const file of ['dataflow.yml', 'examples/pipeline/dataflow.yml', 'examples/perception/dataflow.yml']) {
    const result = await runCli(['check', file], { cwd: ROOT })
    t.equal(result.code, 0, result.stderr)
    t.match(result.stderr, new RegExp(`${file.replace(/[./]/g, '\\$&')} is valid: \\d+ nodes`))
  }
})

t.test('check reports every mistake with file:line:column and the node, without a stack trace', async (t) => {
  const dir = t.testdir({
    'node.mjs': '',
    'bad.yml': `nodes:
  - id: camera
    path: ./node.mjs
    outputs: [image]
  - id: detector
    path: ./node.mjs
    inputs:
      image: camera/imgae
      tick: dora/timer/millis/0
    ouputs: [boxes]
`,
  })
  const result = await runCli(['check', join(dir, 'bad.yml')])
  t.equal(result.code, 1)
  t.match(result.stderr, /bad\.yml:8:\d+: node "detector": input "image" reads from "camera\/imgae".*its outputs are: image/s)
  t.match(result.stderr, /bad\.yml:9:\d+.*timer/s)
  t.match(result.stderr, /bad\.yml:10:\d+: node "detector": unknown node key `ouputs` \(did you mean "outputs"\?\)/)
  t.notMatch(result.stderr, /\n\s+at \S+ \(/, 'no stack trace')
})

t.test('check on a missing file and on broken YAML gives one clear error', async (t) => {
  const missing = await runCli(['check', 'no-such-dataflow.yml'], { cwd: ROOT })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no-such-dataflow\.yml/)
  const dir = t.testdir({ 'broken.yml': 'nodes:\n  - id: a\n    path: [unclosed\n' })
  const broken = await runCli(['check', join(dir, 'broken.yml')])
  t.equal(broken.code, 1)
  t.match(broken.stderr, /broken\.yml:\d+:\d+/)
})

t.test('check compiles the operators (a syntax error used to pass) and checks the executable bit', async (t) => {
  const dir = t.testdir({
    'op.ts': 'export default {\n  onInput(: number) {}\n}\n',
    'node.bin': 'echo hi\n',
    'ops.yml': 'nodes:\n  - id: filter\n    operator:\n      typescript: ./op.ts\n',
    'exe.yml': 'nodes:\n  - id: tool\n    path: ./node.bin\n',
  })
  const ops = await runCli(['check', join(dir, 'ops.yml')])
  t.equal(ops.code, 1)
  t.match(ops.stderr, /1 syntax error in operators:\n.*op\.ts:2:\d+: operator "filter": /)
  t.notMatch(ops.stderr, /please report/)
  const exe = await runCli(['check', join(dir, 'exe.yml')])
  t.equal(exe.code, 1)
  t.match(exe.stderr, /node "tool": `path` .*node\.bin is not executable[\s\S]*chmod \+x/)
})
