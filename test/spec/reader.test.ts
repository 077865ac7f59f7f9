import t from 'tap'
import { LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml'
import { Positions } from '../../src/spec/positions.js'
import { Problems } from '../../src/spec/problems.js'
import { Reader, type Field } from '../../src/spec/reader.js'
import { INPUT_KEYS } from '../../src/spec/keys.js'

function setup(text: string) {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false })
  const problems = new Problems(new Positions('/abs/dataflow.yml', lineCounter))
  const reader = new Reader(doc, problems)
  const map = doc.contents as YAMLMap
  const field = (name: string): Field => {
    const pair = map.items.find((p) => (p.key as { value?: unknown }).value === name)
    if (pair === undefined) throw new Error(`no ${name}`)
    return { name, key: pair.key as Node, value: reader.deref(pair.value), pair }
  }
  return { reader, problems, map, field }
}

t.test('describe names the type of a value for messages', async (t) => {
  const { reader, field } = setup('a: x\nb: 1\nc: true\nd:\ne: [1]\nf: {}\n')
  t.same(
    ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => reader.describe(field(k).value)),
    ['the string "x"', 'the number 1', 'the boolean true', 'an empty value', 'a list', 'a mapping'],
  )
  t.equal(reader.describe(null), 'nothing')
})

t.test('typed reads return the value or record one positioned problem', async (t) => {
  const { reader, problems, field } = setup('s: text\nn: 3\nneg: -2\nd: 2s\np: drop_oldest\nl: [a]\ne: { A: 1, B: yes }\n')
  t.equal(reader.string(field('s'), {}), 'text')
  t.equal(reader.integer(field('n'), {}, 1), 3)
  t.equal(reader.duration(field('d'), {}, true), 2)
  t.equal(reader.oneOf(field('p'), {}, ['drop_oldest', 'backpressure'] as const), 'drop_oldest')
  t.equal(reader.list(field('l'), {}, 'a list')?.items.length, 1)
  t.same(reader.env(field('e'), {}), { A: '1', B: 'yes' })
  t.equal(problems.count, 0)
  t.equal(reader.string(undefined, {}), undefined, 'absent keys are not problems')
  t.equal(reader.integer(field('neg'), { nodeId: 'x' }, 0), undefined)
  t.equal(problems.count, 1)
  t.match(problems.errors[0]?.message, /^\/abs\/dataflow\.yml:3:6: node "x": `neg` must be a non-negative integer, got the number -2$/)
})

t.test('fields sorts keys into known, unknown and unsupported', async (t) => {
  const { reader, problems, map } = setup('source: a/b\nqueue_sise: 1\nqueue_size: 2\nsource: c/d\n')
  const { fields, rejected } = reader.fields(map, INPUT_KEYS, 'input', {})
  t.same(Object.keys(fields), ['source', 'queue_size'])
  t.same(rejected, ['queue_sise'])
  t.same(
    problems.errors.map((e) => e.code),
    ['DORA_SPEC_UNKNOWN_KEY', 'DORA_SPEC_DUPLICATE_KEY'],
  )
})

t.test('an alias reads as the anchored value', async (t) => {
  const { reader, field } = setup('a: &x hello\nb: *x\n')
  t.equal(reader.string(field('b'), {}), 'hello')
})
