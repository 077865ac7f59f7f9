/** `connect_timeout:` on custom nodes (issue 14, defect 9): parsed as a duration, 10 s by default, refused on operators. */
import t from 'tap'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

t.test('connect_timeout is a duration on a custom node, 10 s by default', async (t) => {
  const spec = parseOk('nodes:\n  - id: slow\n    path: ./slow.mjs\n    connect_timeout: 1m\n  - id: quick\n    path: ./quick.mjs\n')
  t.same(
    spec.nodes.map((n) => (n.kind === 'custom' ? n.connectTimeout : undefined)),
    [60, 10],
  )
})

t.test('connect_timeout on an operator node is refused with what to use instead', async (t) => {
  const text = 'nodes:\n  - id: op\n    connect_timeout: 5s\n    operator:\n      javascript: ./op.mjs\n'
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_CONFLICTING_KEYS',
    text,
    needle: 'connect_timeout',
    nodeId: 'op',
    says: ['`connect_timeout` is for custom nodes'],
    hints: ['health_check_timeout'],
  })
})

t.test('a connect_timeout that is not a duration is refused', async (t) => {
  const text = 'nodes:\n  - id: slow\n    path: ./slow.mjs\n    connect_timeout: soon\n'
  t.ok(problemsIn(text).some((e) => e.message.includes('connect_timeout') || e.line === 4))
})
