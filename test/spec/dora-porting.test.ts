/**
 * Dataflows written for dora-rs 1.0 that `check` used to refuse (issue 14): dora's bool
 * `exit_when_nodes_finish`, an empty `outputs:`, `queue_size: 0`, the keys dora-ts does not
 * support yet, and operator keys written at node level.
 */
import t from 'tap'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadDataflow } from '../../src/spec/load.js'
import { runtimeOf, shebangOf } from '../../src/spec/files.js'
import { parseOk, problemsIn } from './fixtures/expect.js'

t.test('exit_when_nodes_finish: true means every custom node; false means the default', async (t) => {
  const yaml = (value: string) => `exit_when_nodes_finish: ${value}
nodes:
  - { id: a, path: ./a.mjs }
  - { id: b, path: ./b.mjs }
  - { id: op, operator: { javascript: ./op.mjs } }
`
  t.same(parseOk(yaml('true')).exitWhenNodesFinish, ['a', 'b'])
  t.same(parseOk(yaml('false')).exitWhenNodesFinish, [])
  t.same(parseOk(yaml('[b]')).exitWhenNodesFinish, ['b'])
})

t.test('an empty outputs: is an empty list, like an empty inputs:', async (t) => {
  const spec = parseOk('nodes:\n  - id: a\n    path: ./a.mjs\n    inputs:\n    outputs:\n')
  const node = spec.nodes[0]
  t.equal(node?.kind, 'custom')
  if (node?.kind === 'custom') t.same(node.outputs, [])
})

t.test('queue_size: 0 is read as 1, with a note naming the line', async (t) => {
  const spec = parseOk(
    'nodes:\n  - id: a\n    path: ./a.mjs\n    outputs: [x]\n  - id: b\n    path: ./b.mjs\n    inputs:\n      x: { source: a/x, queue_size: 0 }\n',
  )
  const node = spec.nodes[1]
  if (node?.kind === 'custom') t.equal(node.inputs[0]?.queueSize, 1)
  t.equal(spec.notes?.length, 1)
  t.match(spec.notes?.[0], /dataflow\.yml:8:\d+ \(node "b"\): input "x" has queue_size 0, read as 1/)
  t.match(
    problemsIn('nodes:\n  - id: b\n    path: ./b.mjs\n    inputs:\n      x: { source: dora/timer/millis/10, queue_size: -1 }\n')[0]?.message,
    /queue_size/,
  )
})

t.test("dora's typed-message, ROS 2 and module keys are 'not supported yet' with what to do", async (t) => {
  for (const key of ['output_types', 'input_types', 'ros2', 'module', 'params', 'strict_types']) {
    const problems = problemsIn(`nodes:\n  - id: a\n    path: ./a.mjs\n    ${key}: {}\n`)
    t.equal(problems.length, 1, key)
    t.equal(problems[0]?.code, 'DORA_SPEC_NOT_SUPPORTED', key)
    t.match(problems[0]?.message, `node key \`${key}\` is not supported yet`, key)
    t.match(problems[0]?.hint, /remove/, key)
  }
  t.equal(problemsIn('strict_types: true\nnodes:\n  - { id: a, path: ./a.mjs }\n')[0]?.code, 'DORA_SPEC_NOT_SUPPORTED')
})

t.test('operator keys at node level say they belong under operator:', async (t) => {
  const problems = problemsIn('nodes:\n  - id: a\n    timeout: 1s\n    operator:\n      javascript: ./op.mjs\n')
  t.equal(problems.length, 1)
  t.match(problems[0]?.message, /unknown node key `timeout`/)
  t.match(problems[0]?.hint, /`timeout` is an operator key: indent it under `operator:`/)
  const input = problemsIn('nodes:\n  - id: a\n    path: ./a.mjs\n    queue_size: 3\n')
  t.match(input[0]?.hint, /`queue_size` is an input key: write the input in its long form/)
})

t.test('.py nodes run with python3; a script without the executable bit needs a #! line', async (t) => {
  t.equal(runtimeOf('/x/detect.py'), 'py')
  const dir = t.testdir({
    'with-shebang.sh': '#!/usr/bin/env bash\necho hi\n',
    'plain.bin': 'echo hi\n',
    'detect.py': 'print(1)\n',
  })
  t.same(shebangOf(join(dir, 'with-shebang.sh')), ['/usr/bin/env', 'bash'])
  t.equal(shebangOf(join(dir, 'plain.bin')), undefined)
  const yml = join(dir, 'dataflow.yml')
  writeFileSync(yml, 'nodes:\n  - { id: a, path: ./with-shebang.sh }\n  - { id: b, path: ./detect.py }\n')
  const ok = await loadDataflow(yml)
  t.equal(ok.nodes.length, 2, 'a script with #! and a .py file need no executable bit')
  writeFileSync(yml, 'nodes:\n  - { id: a, path: ./plain.bin }\n')
  chmodSync(join(dir, 'plain.bin'), 0o644)
  await t.rejects(loadDataflow(yml), { errors: [{ message: /`path` .*plain\.bin is not executable/, hint: /chmod \+x/ }] })
  chmodSync(join(dir, 'plain.bin'), 0o755)
  t.equal((await loadDataflow(yml)).nodes.length, 1, 'accepted once executable')
})
