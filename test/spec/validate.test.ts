/**
 * The validator (src/spec/validate.ts) on values: the types and ranges of node, operator, input
 * and root values, the shape of the document, and what aliases, numeric keys and empty values
 * read as. Keys are in validate-keys.test.ts, ids in validate-ids.test.ts.
 */
import t from 'tap'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

t.test('values of the wrong type or range are DORA_SPEC_INVALID_VALUE naming key and expected type', async (t) => {
  // [the node's extra line, where the problem points, what the message says]
  const cases: Array<[string, string, string]> = [
    ['args: [a, b]', '[a, b]', '`args` must be a string, got a list'],
    ["args: '\"unterminated'", "'\"unterminated'", '`args` cannot be split into words: unterminated double quote'],
    ['env: [A]', '[A]', '`env` must be a mapping of variable names to values, got a list'],
    ['env: { A: }', 'A:', '`env` variable `A` must be a string, number or boolean, got an empty value'],
    ['env: { A: [1] }', '[1]', 'got a list'],
    ['name: 5', '5', '`name` must be a string, got the number 5'],
    ['inputs: [a]', '[a]', '`inputs` must be a mapping of input ids to sources, got a list'],
    ['inputs: { x: 5 }', '5', 'input "x" must be a source string or a mapping with `source`, got the number 5'],
    ['inputs: { x: }', 'x:', 'input "x" must be a source string or a mapping with `source`, got an empty value'],
    ['inputs: { x: { source: 5 } }', '5', '`source` must be a non-empty string, got the number 5'],
    // queue_size: 0 is dora's and read as 1 (test/spec/dora-porting.test.ts); below 0 is wrong.
    ['inputs: { x: { source: n/b, queue_size: -1 } }', '-1', '`queue_size` must be a non-negative integer, got the number -1'],
    ['inputs: { x: { source: n/b, queue_size: 1.5 } }', '1.5', '`queue_size` must be a non-negative integer'],
    [
      'inputs: { x: { source: n/b, queue_policy: drop_olds } }',
      'drop_olds',
      '`queue_policy` must be one of drop_oldest, backpressure, got the string "drop_olds" (did you mean "drop_oldest"?)',
    ],
    ['inputs: { x: { source: n/b, input_timeout: 0 } }', '0 }', '`input_timeout` must be a positive duration, got the number 0'],
    ['restart_policy: sometimes', 'sometimes', '`restart_policy` must be one of never, on-failure, always'],
    ['restart_policy:', 'restart_policy', '`restart_policy` must be one of never, on-failure, always, got an empty value'],
    ['max_restarts: -1', '-1', '`max_restarts` must be a non-negative integer'],
    ['restart_delay: fast', 'fast', '`restart_delay` must be a non-negative duration, got the string "fast"'],
    ['restart_window: 0', '0', '`restart_window` must be a positive duration'],
    ['health_check_timeout: "2"', '"2"', '`health_check_timeout` must be a positive duration'],
    ['description: [x]', '[x]', '`description` must be a string'],
  ]
  for (const [line, needle, says] of cases) {
    const text = `nodes:\n  - id: n\n    path: ./n.ts\n    outputs: [b]\n    ${line}\n`
    const errors = problemsIn(text)
    t.equal(errors.length, 1, `${line}: ${errors.map((e) => e.message).join(' | ')}`)
    expectProblem(t, errors, {
      code: 'DORA_SPEC_INVALID_VALUE',
      text: text.replace(/^(?:.*\n){4}/, (m) => m.replace(/./g, ' ')),
      needle,
      nodeId: 'n',
      says: [says],
    })
  }
  const path = 'nodes:\n  - id: n\n    path: 5\n'
  expectProblem(t, problemsIn(path), {
    code: 'DORA_SPEC_INVALID_VALUE',
    text: path,
    needle: '5',
    nodeId: 'n',
    says: ['`path` must be a non-empty string, got the number 5'],
  })
  const entry = 'nodes:\n  - id: n\n    path: ./n.ts\n    outputs: [a, 1]\n'
  expectProblem(t, problemsIn(entry), {
    code: 'DORA_SPEC_INVALID_VALUE',
    text: entry,
    needle: '1]',
    nodeId: 'n',
    says: ['`outputs` entries must be strings, got the number 1'],
  })
  const outputs = 'nodes:\n  - id: n\n    path: ./n.ts\n    outputs: scan\n'
  expectProblem(t, problemsIn(outputs), {
    code: 'DORA_SPEC_INVALID_VALUE',
    text: outputs,
    needle: 'scan',
    nodeId: 'n',
    says: ['`outputs` must be a list of output ids, got the string "scan"'],
  })
  const source = 'nodes:\n  - id: n\n    path: ./n.ts\n    inputs: { x: { queue_size: 2 } }\n'
  expectProblem(t, problemsIn(source), {
    code: 'DORA_SPEC_MISSING_KEY',
    text: source,
    needle: '{ queue_size',
    nodeId: 'n',
    says: ['input "x" has no `source`'],
    hints: ['source: node/output'],
  })
})

t.test('operator-only keys are checked too', async (t) => {
  const text = `nodes:
  - id: o
    operator:
      typescript: ./o.ts
      timeout: -1
      max_redeliveries: many
      durability: disk
`
  const errors = problemsIn(text)
  t.equal(errors.length, 3)
  expectProblem(
    t,
    errors.filter((e) => e.line === 5),
    { code: 'DORA_SPEC_INVALID_VALUE', text, needle: '-1', nodeId: 'o', says: ['`timeout` must be a positive duration'], hints: ['"500ms"'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 6),
    { code: 'DORA_SPEC_INVALID_VALUE', text, needle: 'many', nodeId: 'o', says: ['`max_redeliveries` must be an integer >= 1'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 7),
    { code: 'DORA_SPEC_INVALID_VALUE', text, needle: 'disk', nodeId: 'o', says: ['`durability` must be one of process, power'] },
  )
})

t.test('root values are checked', async (t) => {
  const text = `name: [x]
env: { A: 1, ? [k] : v }
exit_when_nodes_finish: a
health_check_interval: 0
state_dir: 5
durability: powr
nodes:
  - id: a
    path: ./a.ts
`
  const errors = problemsIn(text)
  t.equal(errors.length, 6, errors.map((e) => e.message).join('\n'))
  t.ok(errors.every((e) => e.code === 'DORA_SPEC_INVALID_VALUE' && e.nodeId === undefined))
  t.match(errors.map((e) => e.message).join('\n'), /`durability` must be one of process, power, got the string "powr" \(did you mean "power"\?\)/)
  t.match(errors.map((e) => e.message).join('\n'), /`env` variable names must be non-empty strings, got a list/)
  t.match(errors.map((e) => e.message).join('\n'), /`exit_when_nodes_finish` must be a list of node ids/)
  const entries = problemsIn('exit_when_nodes_finish: [1]\nnodes:\n  - id: a\n    path: ./a.ts\n')
  t.match(entries[0]?.message, /`exit_when_nodes_finish` entries must be node ids, got the number 1/)
})

t.test('the document must be a mapping with a non-empty nodes list', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['', 'DORA_SPEC_MISSING_KEY', 'the dataflow is empty'],
    ['# only a comment\n', 'DORA_SPEC_MISSING_KEY', 'the dataflow is empty'],
    ['- a\n- b\n', 'DORA_SPEC_INVALID_VALUE', 'the dataflow must be a mapping, got a list'],
    ['name: x\n', 'DORA_SPEC_MISSING_KEY', 'the dataflow has no `nodes:` list'],
    ['nodes: []\n', 'DORA_SPEC_INVALID_VALUE', '`nodes` is empty'],
    ['nodes:\n', 'DORA_SPEC_INVALID_VALUE', '`nodes` must be a list of nodes, got an empty value'],
    ['nodes: { id: a }\n', 'DORA_SPEC_INVALID_VALUE', '`nodes` must be a list of nodes, got a mapping'],
    ['nodes:\n  - lidar\n', 'DORA_SPEC_INVALID_VALUE', 'each entry of `nodes` must be a mapping, got the string "lidar"'],
    ['nodes:\n  - id: p\n    operators: []\n', 'DORA_SPEC_INVALID_VALUE', '`operators` is empty'],
    ['nodes:\n  - id: p\n    operators: [x]\n', 'DORA_SPEC_INVALID_VALUE', 'each entry of `operators` must be a mapping'],
    ['nodes:\n  - id: p\n    operator: ./x.ts\n', 'DORA_SPEC_INVALID_VALUE', '`operator` must be a mapping, got the string "./x.ts"'],
    ['nodes:\n  - id: p\n    operators: ./x.ts\n', 'DORA_SPEC_INVALID_VALUE', '`operators` must be a list of operators'],
    ['nodes:\n  - id: 5\n    path: ./x.ts\n', 'DORA_SPEC_INVALID_VALUE', '`id` must be a string, got the number 5'],
    ['nodes:\n  - id: p\n    operator: { id: [1], typescript: ./x.ts }\n', 'DORA_SPEC_INVALID_VALUE', '`id` must be a string, got a list'],
    ['nodes:\n  - id: a\n    path: ./a.ts\n    ? [x]\n    : 1\n', 'DORA_SPEC_INVALID_VALUE', 'node keys must be strings, got a list'],
    ['nodes:\n  - id: a\n    path: ./a.ts\n    inputs: { ? [x] : a/b }\n', 'DORA_SPEC_INVALID_VALUE', 'input ids must be strings, got a list'],
    ['nodes:\n  - id: a\n    path: ./a.ts\n    inputs: { a/b: a/b }\n', 'DORA_SPEC_INVALID_ID', 'input id "a/b" must not contain "/"'],
    ['nodes:\n  - id: a\n    path: ./a.ts\n    outputs: ["my out"]\n', 'DORA_SPEC_INVALID_ID', 'output id "my out" must not contain whitespace'],
  ]
  for (const [text, code, says] of cases) {
    const errors = problemsIn(text)
    t.equal(errors.length, 1, `${JSON.stringify(text)}: ${errors.map((e) => e.message).join(' | ')}`)
    t.equal(errors[0]?.code, code, JSON.stringify(text))
    t.match(errors[0]?.message, says, JSON.stringify(text))
  }
})

t.test('aliases, numeric keys and empty inputs are read as their values', async (t) => {
  const spec = parseOk(`env: &common { A: 1 }
nodes:
  - id: a
    path: ./a.ts
    env: *common
    inputs:
    outputs: [x]
  - id: b
    path: ./b.ts
    inputs:
      1: a/x
      flow: { source: a/x }
`)
  t.same(spec.nodes[0]?.env, { A: '1' })
  const b = spec.nodes[1]
  t.same(b?.kind === 'custom' && b.inputs.map((i) => i.id), ['1', 'flow'])
  const a = spec.nodes[0]
  t.same(a?.kind === 'custom' && a.inputs, [])
})
