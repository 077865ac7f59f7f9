import t from 'tap'
import { LineCounter, parseDocument, Scalar, type YAMLMap, type YAMLSeq } from 'yaml'
import { Positions } from '../../src/spec/positions.js'

const text = 'nodes:\n  - id: lidar\n    path: ./lidar.ts\n'

t.test('positions of nodes, pairs and offsets are 1-based line and column', async (t) => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  const positions = new Positions('/abs/dataflow.yml', lineCounter)
  const nodes = (doc.contents as YAMLMap).items[0]?.value as YAMLSeq
  const node = nodes.items[0] as YAMLMap
  const pathPair = node.items[1]
  t.same(positions.of(node), { file: '/abs/dataflow.yml', line: 2, column: 5 })
  t.same(positions.of(pathPair), { file: '/abs/dataflow.yml', line: 3, column: 5 }, 'a pair is at its key')
  t.same(positions.of(pathPair?.value as Scalar), { file: '/abs/dataflow.yml', line: 3, column: 11 })
  t.same(positions.ofOffset(0), { file: '/abs/dataflow.yml', line: 1, column: 1 })
})

t.test('unparsed nodes fall back to the given position or the file start', async (t) => {
  const lineCounter = new LineCounter()
  parseDocument('a: 1\n', { lineCounter })
  const positions = new Positions('/abs/x.yml', lineCounter)
  const made = new Scalar('made in code')
  const fallback = { file: '/abs/x.yml', line: 4, column: 2 }
  t.same(positions.of(made), { file: '/abs/x.yml', line: 1, column: 1 })
  t.same(positions.of(made, fallback), fallback)
  t.same(positions.of(null), { file: '/abs/x.yml', line: 1, column: 1 })
  t.same(positions.of(undefined, fallback), fallback)
  t.equal(positions.of(fallback), fallback, 'a position is its own position')
})

t.test('an empty text has line 1 column 1', async (t) => {
  const lineCounter = new LineCounter()
  t.same(new Positions('/abs/x.yml', lineCounter).ofOffset(0), { file: '/abs/x.yml', line: 1, column: 1 })
})
