import t from 'tap'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

t.test('unknown keys at every level are DORA_SPEC_UNKNOWN_KEY with a did-you-mean', async (t) => {
  const text = `nodess:
  - id: a
nodes:
  - id: lidar
    path: ./lidar.ts
    ouputs: [scan]
  - id: p
    operators:
      - id: op1
        typescript: ./op1.ts
        input: {}
        inputs:
          scan: { source: lidar/scan, queue_sise: 3 }
`
  const errors = problemsIn(text)
  t.equal(errors.length, 4, `no cascade from the typo in outputs:\n${errors.map((e) => e.message).join('\n')}`)
  expectProblem(
    t,
    errors.filter((e) => e.line === 1),
    {
      code: 'DORA_SPEC_UNKNOWN_KEY',
      text,
      needle: 'nodess',
      says: ['unknown dataflow key `nodess` (did you mean "nodes"?)'],
      hints: ['dataflow keys are: name, nodes, env'],
    },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 6),
    { code: 'DORA_SPEC_UNKNOWN_KEY', text, needle: 'ouputs', nodeId: 'lidar', says: ['unknown node key `ouputs` (did you mean "outputs"?)'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 11),
    { code: 'DORA_SPEC_UNKNOWN_KEY', text, needle: 'input:', nodeId: 'p', operatorId: 'op1', says: ['(did you mean "inputs"?)'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 13),
    {
      code: 'DORA_SPEC_UNKNOWN_KEY',
      text,
      needle: 'queue_sise',
      nodeId: 'p',
      operatorId: 'op1',
      says: ['unknown input key `queue_sise` (did you mean "queue_size"?)'],
    },
  )
})

t.test('dora keys not supported yet are DORA_SPEC_NOT_SUPPORTED with a hint', async (t) => {
  const text = `deploy: { machine: a }
_unstable_debug: {}
nodes:
  - id: cam
    path: ./cam.py
    build: pip install -e .
    git: https://example.com/x.git
    send_stdout_as: log
    min_log_level: info
  - id: op
    operator:
      python: ./op.py
  - id: lib
    operator:
      shared-library: ./libop
  - id: legacy
    custom:
      source: ./x
`
  const errors = problemsIn(text)
  t.ok(
    errors.every((e) => e.code === 'DORA_SPEC_NOT_SUPPORTED'),
    errors.map((e) => `${e.code} ${e.message}`).join('\n'),
  )
  t.equal(errors.length, 9, 'no "missing path" on top of the rejected keys')
  expectProblem(
    t,
    errors.filter((e) => e.line === 1),
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'deploy', says: ['dataflow key `deploy` is not supported yet'], hints: ['this machine'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 6),
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'build', nodeId: 'cam', says: ['node key `build` is not supported yet'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 12),
    {
      code: 'DORA_SPEC_NOT_SUPPORTED',
      text,
      needle: 'python',
      nodeId: 'op',
      says: ['operator key `python` is not supported yet'],
      hints: [
        'dora-ts runs TypeScript/JavaScript operators only and has no Python SDK yet (a Python custom node could not connect either): port the operator to TypeScript with defineOperator, or keep this dataflow on dora-rs',
      ],
    },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 15),
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'shared-library', nodeId: 'lib' },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 17),
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'custom', nodeId: 'legacy', hints: ['`path:`'] },
  )
})

t.test('duplicates are DORA_SPEC_DUPLICATE_ID at the second one, naming the first line', async (t) => {
  const text = `nodes:
  - id: lidar
    path: ./lidar.ts
    outputs: [scan, image, scan]
    inputs:
      tick: dora/timer/millis/10
      tick: dora/timer/millis/20
  - id: p
    operators:
      - id: op1
        typescript: ./a.ts
      - id: op1
        typescript: ./b.ts
  - id: lidar
    path: ./other.ts
`
  const errors = problemsIn(text)
  t.equal(errors.length, 4, errors.map((e) => e.message).join('\n'))
  expectProblem(
    t,
    errors.filter((e) => e.line === 4),
    { code: 'DORA_SPEC_DUPLICATE_ID', text, needle: 'scan]', nodeId: 'lidar', says: ['output "scan" is listed twice (first on line 4)'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 7),
    { code: 'DORA_SPEC_DUPLICATE_ID', text, needle: 'tick', nth: 1, nodeId: 'lidar', says: ['input "tick" is defined twice (first on line 6)'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 12),
    {
      code: 'DORA_SPEC_DUPLICATE_ID',
      text,
      needle: 'op1',
      nth: 1,
      nodeId: 'p',
      operatorId: 'op1',
      says: ['operator id "op1" is already used in this node on line 10'],
    },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 14),
    {
      code: 'DORA_SPEC_DUPLICATE_ID',
      text,
      needle: 'lidar\n    path: ./other',
      nodeId: 'lidar',
      says: ['node id "lidar" is already used by the node on line 2'],
      hints: ['unique'],
    },
  )
})

t.test('a key repeated in one mapping is DORA_SPEC_DUPLICATE_KEY', async (t) => {
  const text = `nodes:
  - id: a
    path: ./a.ts
    path: ./b.ts
env:
  X: 1
  X: 2
`
  const errors = problemsIn(text)
  t.equal(errors.length, 2)
  expectProblem(
    t,
    errors.filter((e) => e.line === 4),
    { code: 'DORA_SPEC_DUPLICATE_KEY', text, needle: 'path', nth: 1, nodeId: 'a', says: ['key `path` appears twice in this node (first on line 3)'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 7),
    { code: 'DORA_SPEC_DUPLICATE_KEY', text, needle: 'X: 2', says: ['`env` variable `X` is set twice (first on line 6)'] },
  )
})

t.test('bad node and operator ids are DORA_SPEC_INVALID_ID; a missing id is DORA_SPEC_MISSING_KEY', async (t) => {
  const text = `nodes:
  - id: my node
    path: ./a.ts
  - id: .hidden
    path: ./a.ts
  - id: dora
    path: ./a.ts
  - id: a/b
    path: ./a.ts
  - path: ./a.ts
  - id: p
    operators:
      - typescript: ./a.ts
      - id: bad op
        typescript: ./a.ts
`
  const errors = problemsIn(text)
  t.equal(errors.length, 7, errors.map((e) => e.message).join('\n'))
  expectProblem(
    t,
    errors.filter((e) => e.line === 2),
    { code: 'DORA_SPEC_INVALID_ID', text, needle: 'my node', nodeId: 'my node', says: ['may only contain'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 4),
    { code: 'DORA_SPEC_INVALID_ID', text, needle: '.hidden', nodeId: '.hidden', says: ['must not start with "."'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 6),
    { code: 'DORA_SPEC_INVALID_ID', text, needle: 'dora', nodeId: 'dora', says: ['reserved'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 8),
    { code: 'DORA_SPEC_INVALID_ID', text, needle: 'a/b', nodeId: 'a/b', says: ['"/"'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 10),
    { code: 'DORA_SPEC_MISSING_KEY', text, needle: 'path: ./a.ts', nth: 4, says: ['the node has no `id`'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 13),
    { code: 'DORA_SPEC_MISSING_KEY', text, needle: 'typescript: ./a.ts', nodeId: 'p', says: ['the operator has no `id`'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.line === 14),
    { code: 'DORA_SPEC_INVALID_ID', text, needle: 'bad op', nodeId: 'p', operatorId: 'bad op', says: ['operator id "bad op"'] },
  )
})

t.test('a node needs exactly one of path, operator, operators', async (t) => {
  const text = `nodes:
  - id: both
    path: ./a.ts
    operator:
      typescript: ./a.ts
  - id: two-kinds
    operator:
      typescript: ./a.ts
    operators: []
  - id: none
    outputs: [x]
`
  const errors = problemsIn(text)
  t.equal(errors.length, 3, errors.map((e) => e.message).join('\n'))
  expectProblem(t, errors, {
    code: 'DORA_SPEC_PATH_AND_OPERATOR',
    text,
    needle: 'operator:',
    nodeId: 'both',
    says: ['the node has both `path` and `operator`'],
    hints: ['split it into two nodes'],
  })
  expectProblem(t, errors, { code: 'DORA_SPEC_CONFLICTING_KEYS', text, needle: 'operators:', nodeId: 'two-kinds', says: ['both `operator` and `operators`'] })
  expectProblem(t, errors, {
    code: 'DORA_SPEC_MISSING_KEY',
    text,
    needle: 'id: none',
    nodeId: 'none',
    says: ['none of `path`, `operator` or `operators`'],
    hints: ['`path:`'],
  })
})

t.test('an operator needs exactly one typescript or javascript module of the right kind', async (t) => {
  const text = `nodes:
  - id: both
    operator:
      typescript: ./a.ts
      javascript: ./a.js
  - id: none
    operator:
      outputs: [x]
  - id: wrong-ts
    operator:
      typescript: ./a.js
  - id: wrong-js
    operator:
      javascript: ./a.ts
  - id: ok
    operators:
      - id: m
        typescript: ./a.mts
      - id: c
        javascript: ./a.cjs
`
  const errors = problemsIn(text)
  t.equal(errors.length, 4, errors.map((e) => e.message).join('\n'))
  expectProblem(t, errors, { code: 'DORA_SPEC_CONFLICTING_KEYS', text, needle: 'javascript', nodeId: 'both' })
  expectProblem(t, errors, { code: 'DORA_SPEC_MISSING_KEY', text, needle: 'outputs: [x]', nodeId: 'none', says: ['no `typescript` or `javascript` module'] })
  const wrong = errors.filter((e) => e.code === 'DORA_SPEC_INVALID_VALUE')
  expectProblem(t, wrong.slice(0, 1), {
    code: 'DORA_SPEC_INVALID_VALUE',
    text,
    needle: './a.js',
    nth: 1,
    nodeId: 'wrong-ts',
    says: ['must end in .ts, .mts or .cts'],
    hints: ['`javascript:`'],
  })
  expectProblem(t, wrong.slice(1), {
    code: 'DORA_SPEC_INVALID_VALUE',
    text,
    needle: './a.ts',
    nth: 1,
    nodeId: 'wrong-js',
    says: ['must end in .js, .mjs or .cjs'],
  })
})

t.test('custom-node keys on an operator node are DORA_SPEC_CONFLICTING_KEYS', async (t) => {
  const text = `nodes:
  - id: op
    inputs: { x: a/b }
    operator:
      typescript: ./a.ts
`
  const errors = problemsIn(text)
  expectProblem(t, errors, {
    code: 'DORA_SPEC_CONFLICTING_KEYS',
    text,
    needle: 'inputs',
    nodeId: 'op',
    says: ['`inputs` is for custom nodes'],
    hints: ['move `inputs:` inside the operator'],
  })
})

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

t.test('a single operator may carry a dora-style id, which does not change the node id', async (t) => {
  const spec = parseOk(`nodes:
  - id: node
    operator:
      id: op
      name: My operator
      description: does things
      typescript: ./o.ts
      outputs: [x]
  - id: reader
    path: ./r.ts
    inputs: { x: node/x }
`)
  const node = spec.nodes[0]
  t.equal(node?.kind === 'operators' && node.operators[0]?.id, 'node')
})
