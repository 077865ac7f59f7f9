/**
 * The validator (src/spec/validate.ts) on keys: unknown, not yet supported, repeated and
 * conflicting keys, and the keys that make a node a custom node or an operator node and an
 * operator TypeScript or JavaScript.
 */
import t from 'tap'
import { expectProblem, problemsIn } from './fixtures/expect.js'

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
    branch: main
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
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'branch', nodeId: 'cam', says: ['node key `branch` is not supported yet'] },
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
