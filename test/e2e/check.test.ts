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
  t.match(ops.stderr, /1 problem in the sources of its operators and nodes:\n.*op\.ts:2:\d+: operator "filter": /)
  t.notMatch(ops.stderr, /please report/)
  const exe = await runCli(['check', join(dir, 'exe.yml')])
  t.equal(exe.code, 1)
  t.match(exe.stderr, /node "tool": `path` .*node\.bin is not executable[\s\S]*chmod \+x/)
})

t.test("check compiles custom nodes too, and has python3 parse a Python node's file without running it", async (t) => {
  const dir = t.testdir({
    'camera.mjs': "import { Node } from 'dora-ts'\nconst node = await Node.connect(\nfor await (const e of node.events()) {}\n",
    'planner.ts': 'const goal: number = (1\nconsole.log(goal)\n',
    'detector.py': 'import sys\n\ndef load(:\n    pass\n',
    // Parsed, never run: its import of a module nobody installed is no syntax error.
    'fine.py': 'import a_module_nobody_installed\nprint("ran")\n',
    'bad.yml': 'nodes:\n  - id: camera\n    path: ./camera.mjs\n  - id: planner\n    path: ./planner.ts\n  - id: detector\n    path: ./detector.py\n',
    'good.yml': 'nodes:\n  - id: fine\n    path: ./fine.py\n',
  })
  const bad = await runCli(['check', join(dir, 'bad.yml')])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /3 problems in the sources of its operators and nodes:/)
  t.match(bad.stderr, /camera\.mjs:3:1: node "camera": Unexpected "for"/)
  t.match(bad.stderr, /planner\.ts:2:1: node "planner": Expected "\)" but found "console"/)
  t.match(bad.stderr, /detector\.py:3: node "detector": SyntaxError: /)
  t.notMatch(bad.stderr, /\n\s+at \S+ \(/, 'no stack trace')
  const good = await runCli(['check', join(dir, 'good.yml')])
  t.equal(good.code, 0, good.stderr)
  t.notMatch(good.stdout + good.stderr, /ran/, 'the Python file was parsed, not run')
  const noPython = await runCli(['check', join(dir, 'good.yml')], { env: { PATH: join(dir, 'no-such-bin') } })
  t.equal(noPython.code, 1)
  t.match(noPython.stderr, /fine\.py: node "fine": python3 is not on PATH, and dora-ts runs \.py nodes with it/)
})
