import t from 'tap'
import * as spec from '../../src/spec/index.js'

t.test('the spec entry point exports the loader, the errors and the schema builder', async (t) => {
  for (const name of ['loadDataflow', 'parseDataflow', 'buildDataflowSchema', 'parseTimer', 'parseDuration', 'splitShellWords', 'createSpecError']) {
    t.type((spec as Record<string, unknown>)[name], 'function', name)
  }
  t.type(spec.SpecErrors, 'function')
  t.type(spec.SpecError, 'function')
  t.equal(spec.DEFAULT_QUEUE_SIZE, 10)
  t.equal(spec.DEFAULT_MAX_REDELIVERIES, 3)
  t.equal(spec.DEFAULT_HEALTH_CHECK_INTERVAL, 5)
  t.equal(spec.DEFAULT_DURABILITY, 'process')
  const parsed = spec.parseDataflow('nodes:\n  - id: a\n    path: ./a.ts\n', '/tmp/flow.yml', { checkFiles: false })
  t.equal(parsed.name, 'flow')
})
