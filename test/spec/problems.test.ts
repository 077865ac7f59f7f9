import t from 'tap'
import { LineCounter, parseDocument, type YAMLMap } from 'yaml'
import { SpecErrors } from '../../src/spec/errors.js'
import { Positions } from '../../src/spec/positions.js'
import { Problems } from '../../src/spec/problems.js'

t.test('problems are positioned from YAML nodes and thrown together', async (t) => {
  const lineCounter = new LineCounter()
  const doc = parseDocument('a: 1\nb: 2\n', { lineCounter })
  const problems = new Problems(new Positions('/abs/dataflow.yml', lineCounter))
  t.doesNotThrow(() => problems.throwIfAny(), 'nothing to throw yet')
  const b = (doc.contents as YAMLMap).items[1]
  problems.add('DORA_SPEC_UNKNOWN_KEY', b, { nodeId: 'n' }, 'unknown key `b`', 'remove it')
  problems.add('DORA_SPEC_INVALID_VALUE', { file: '/abs/dataflow.yml', line: 1, column: 4 }, {}, 'bad a')
  t.equal(problems.count, 2)
  const [first, second] = problems.errors
  t.same([first?.line, first?.column, first?.nodeId, first?.hint], [2, 1, 'n', 'remove it'])
  t.same([second?.line, second?.column, second?.nodeId], [1, 4, undefined])
  const thrown = t.throws(() => problems.throwIfAny()) as SpecErrors
  t.ok(thrown instanceof SpecErrors)
  t.same(
    thrown.errors.map((e) => e.line),
    [1, 2],
    'sorted by position',
  )
})
