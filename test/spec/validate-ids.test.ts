/**
 * The validator (src/spec/validate.ts) on ids: duplicate node, operator, input and output ids,
 * malformed and missing node and operator ids, and the dora-style id of a single operator.
 */
import t from 'tap'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

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
