import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DURATION_PATTERN, parseDuration } from '../../src/spec/duration.js'
import { nodeIdProblem } from '../../src/spec/ids.js'
import { ID_PATTERN, INPUT_KEYS, NODE_KEYS, OPERATOR_KEYS, ROOT_KEYS, type JsonSchema, type JsonValue, type KeyInfo } from '../../src/spec/keys.js'
import { buildDataflowSchema, SOURCE_PATTERN } from '../../src/spec/schema.js'
import { parseOk } from './fixtures/expect.js'
import { ROOT } from '../fixtures/paths.js'

const schemaFile = join(ROOT, 'dataflow.schema.json')
const built = buildDataflowSchema()

// `DORA_WRITE_SCHEMA=1 npx tap test/spec/schema.test.ts` regenerates the file after a key change.
if (process.env.DORA_WRITE_SCHEMA === '1') writeFileSync(schemaFile, `${JSON.stringify(built, null, 2)}\n`)

const onDisk = JSON.parse(readFileSync(schemaFile, 'utf8')) as JsonSchema
const defs = built.$defs as Record<string, JsonSchema>
const props = (schema: JsonValue | undefined): Record<string, JsonSchema> => (schema as { properties: Record<string, JsonSchema> }).properties

t.test('dataflow.schema.json is valid JSON and is exactly the generated schema', async (t) => {
  t.same(onDisk, built, 'run `DORA_WRITE_SCHEMA=1 npx tap test/spec/schema.test.ts` to regenerate dataflow.schema.json')
  t.equal(onDisk.$schema, 'https://json-schema.org/draft/2020-12/schema')
})

t.test('every level lists exactly the keys of the validator table, each with a description', async (t) => {
  const levels: Array<[string, JsonValue | undefined, Readonly<Record<string, KeyInfo>>]> = [
    ['root', built, ROOT_KEYS],
    ['node', defs.node, NODE_KEYS],
    ['operator', defs.operator, OPERATOR_KEYS],
    ['listed operator', defs.listedOperator, OPERATOR_KEYS],
    ['input', (defs.inputs?.additionalProperties as { oneOf: JsonSchema[] }).oneOf[1], INPUT_KEYS],
  ]
  for (const [level, schema, table] of levels) {
    const properties = props(schema)
    t.same(Object.keys(properties).sort(), Object.keys(table).sort(), `${level} keys`)
    t.equal((schema as JsonSchema).additionalProperties, false, `${level} rejects other keys`)
    for (const [key, info] of Object.entries(table)) {
      const prop = properties[key] as JsonSchema
      t.ok(typeof prop.description === 'string' && prop.description.length > 0, `${level}.${key} description`)
      t.equal(prop.deprecated === true && prop.not !== undefined, info.unsupported !== undefined, `${level}.${key} flagged iff unsupported`)
    }
  }
  t.same(built.required, ['nodes'])
})

t.test('every $ref points at a definition and every pattern compiles', async (t) => {
  const refs: string[] = []
  const patterns: string[] = []
  const walk = (v: JsonValue): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === '$ref' && typeof child === 'string') refs.push(child)
        if (k === 'pattern' && typeof child === 'string') patterns.push(child)
        walk(child)
      }
    }
  }
  walk(built)
  t.ok(refs.length > 5)
  for (const ref of refs) t.ok(ref.startsWith('#/$defs/') && defs[ref.slice('#/$defs/'.length)] !== undefined, ref)
  for (const p of patterns) t.doesNotThrow(() => new RegExp(p, 'u'), p)
})

t.test('the schema patterns agree with the validator', async (t) => {
  const source = new RegExp(SOURCE_PATTERN, 'u')
  const graph =
    'nodes:\n  - id: a\n    path: ./a.ts\n    outputs: [b]\n  - id: p\n    operators:\n      - id: o\n        typescript: ./o.ts\n        outputs: [b]\n  - id: r\n    path: ./r.ts\n    inputs:\n      x: '
  // The schema cannot know node names or reject a zero interval, but must never reject a source
  // the validator accepts, and rejects what has the wrong shape.
  const cases: Array<[string, boolean]> = [
    ['a/b', true],
    ['p/o/b', true],
    ['dora/timer/millis/10', true],
    ['dora/timer/hz/2.5', true],
    ['dora/timer/secs/0', true],
    ['dora/timer/weeks/1', false],
    ['dora/clock/x', false],
    ['a', false],
    ['a/b/c/d', false],
    ['a//b', false],
  ]
  for (const [s, schemaAccepts] of cases) {
    t.equal(source.test(s), schemaAccepts, `schema on source ${s}`)
    let valid = true
    try {
      parseOk(`${graph}${s}\n`)
    } catch {
      valid = false
    }
    if (valid) t.ok(schemaAccepts, `validator accepts ${s}, so must the schema`)
  }
  const duration = new RegExp(DURATION_PATTERN, 'u')
  for (const d of ['500ms', '2s', '1.5s', '1m', '1h', '10us', '2', 'fast', '1d', '-1s']) {
    t.equal(duration.test(d), parseDuration(d) !== undefined, `duration ${d}`)
  }
  const id = new RegExp(ID_PATTERN, 'u')
  for (const s of ['lidar', 'a.b-c_d', 'dora', '.x', 'a/b', 'my node', 'dora2', '']) {
    t.equal(id.test(s), nodeIdProblem(s) === undefined, `id ${JSON.stringify(s)}`)
  }
})
