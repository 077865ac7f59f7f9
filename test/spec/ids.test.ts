import t from 'tap'
import { dataIdProblem, nodeIdProblem } from '../../src/spec/ids.js'

t.test('node ids follow dora: [A-Za-z0-9_.-]+, no leading dot, not "dora"', async (t) => {
  for (const ok of ['lidar', 'obstacle-filter', 'a.b_c-1', 'A9', 'dora2', 'my.dora']) t.equal(nodeIdProblem(ok), undefined, ok)
  t.match(nodeIdProblem(''), /empty/)
  t.match(nodeIdProblem('dora'), /reserved/)
  t.match(nodeIdProblem('.hidden'), /start with "\."/)
  t.match(nodeIdProblem('a/b'), /"\/"/)
  t.match(nodeIdProblem('my node'), /letters, digits/)
  t.match(nodeIdProblem('café'), /letters, digits/)
})

t.test('input and output ids only exclude "/" and whitespace', async (t) => {
  for (const ok of ['scan', 'image:raw', 'dora', 'x.y']) t.equal(dataIdProblem(ok), undefined, ok)
  t.match(dataIdProblem(''), /empty/)
  t.match(dataIdProblem('a/b'), /"\/"/)
  t.match(dataIdProblem('a b'), /whitespace/)
})
