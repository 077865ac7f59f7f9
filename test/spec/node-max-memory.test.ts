/** `max_memory_mb:` on custom nodes: a positive integer, unset by default; beside `operator:` it is refused with where it goes. */
import t from 'tap'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

t.test('max_memory_mb is a number of MiB on a custom node, unset (no limit) by default', async (t) => {
  const spec = parseOk('nodes:\n  - id: camera\n    path: ./camera.mjs\n    max_memory_mb: 512\n  - id: planner\n    path: ./planner.mjs\n')
  t.same(
    spec.nodes.map((n) => (n.kind === 'custom' ? n.maxMemoryMb : null)),
    [512, undefined],
  )
})

t.test('max_memory_mb that is not a positive integer is refused on its line', async (t) => {
  for (const value of ['0', '-5', '0.5', 'lots']) {
    const text = `nodes:\n  - id: camera\n    path: ./camera.mjs\n    max_memory_mb: ${value}\n`
    const problems = problemsIn(text)
    t.ok(
      problems.some((e) => e.line === 4 && e.message.includes('max_memory_mb')),
      `${value}: ${problems.map((e) => e.message).join(' | ')}`,
    )
  }
})

t.test('max_memory_mb beside operator: is refused with where an operator’s limit goes', async (t) => {
  const text = 'nodes:\n  - id: op\n    max_memory_mb: 256\n    operator:\n      javascript: ./op.mjs\n'
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_CONFLICTING_KEYS',
    text,
    needle: 'max_memory_mb',
    nodeId: 'op',
    says: ['`max_memory_mb` beside `operator:` is for custom nodes'],
    hints: ['under `operator:`'],
  })
  // Under the operator, it is the operator's own.
  const spec = parseOk('nodes:\n  - id: op\n    operator:\n      javascript: ./op.mjs\n      max_memory_mb: 256\n')
  const node = spec.nodes[0]
  t.equal(node?.kind === 'operators' ? node.operators[0]?.maxMemoryMb : null, 256)
})

t.test('max_memory_mb below what the node holds when it starts is noted on its line, by how the node is run', async (t) => {
  const spec = parseOk(
    'nodes:\n' +
      '  - id: camera\n    path: ./camera.mjs\n    max_memory_mb: 40\n' +
      '  - id: planner\n    path: ./planner.ts\n    max_memory_mb: 80\n' +
      '  - id: detector\n    path: ./detector.py\n    max_memory_mb: 8\n' +
      '  - id: driver\n    path: ./driver\n    max_memory_mb: 8\n' +
      '  - id: roomy\n    path: ./roomy.ts\n    max_memory_mb: 100\n',
  )
  const notes = spec.notes ?? []
  t.equal(notes.length, 3, `a note each for camera, planner and detector, none for the executable or the roomy one:\n${notes.join('\n')}`)
  t.match(
    notes[0],
    /:4:\d+ \(node "camera"\): max_memory_mb 40 is below what the node holds when it starts \(a Node\.js node .*\): it would be killed at every start; give it at least 64/,
  )
  t.match(notes[1], /:7:\d+ \(node "planner"\): max_memory_mb 80 .*TypeScript.*at least 100/)
  t.match(notes[2], /:10:\d+ \(node "detector"\): max_memory_mb 8 .*python3.*at least 16/)
})
