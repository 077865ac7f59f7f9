/** `oom_score_adj:` on custom nodes: an integer from -1000 to 1000, unset by default, refused on operators. */
import t from 'tap'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

t.test('oom_score_adj is an integer on a custom node, unset (the supervisor decides) by default', async (t) => {
  const spec = parseOk('nodes:\n  - id: camera\n    path: ./camera.mjs\n    oom_score_adj: -200\n  - id: planner\n    path: ./planner.mjs\n')
  t.same(
    spec.nodes.map((n) => (n.kind === 'custom' ? n.oomScoreAdj : null)),
    [-200, undefined],
  )
})

t.test("oom_score_adj outside the kernel's -1000..1000 is refused with the range", async (t) => {
  for (const value of ['1001', '-1001', '0.5', 'high']) {
    const text = `nodes:\n  - id: camera\n    path: ./camera.mjs\n    oom_score_adj: ${value}\n`
    const problems = problemsIn(text)
    t.ok(
      problems.some((e) => e.line === 4 && e.message.includes('an integer from -1000 to 1000')),
      `${value}: ${problems.map((e) => e.message).join(' | ')}`,
    )
  }
})

t.test('oom_score_adj on an operator node is refused with what to use instead', async (t) => {
  const text = 'nodes:\n  - id: op\n    oom_score_adj: 500\n    operator:\n      javascript: ./op.mjs\n'
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_CONFLICTING_KEYS',
    text,
    needle: 'oom_score_adj',
    nodeId: 'op',
    says: ['`oom_score_adj` is for custom nodes', "the supervisor's process"],
    hints: ['max_memory_mb'],
  })
})
