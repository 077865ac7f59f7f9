/** The tests' reader of the line files nodes append to: whole lines only, while a node may be mid-append. */
import t from 'tap'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { completeLines, readJsonl } from './fixtures/jsonl.js'

t.test('a line being appended is not read until its newline is there', async (t) => {
  const file = join(t.testdir({}), 'record.jsonl')
  t.same(readJsonl(file), [], 'nothing before the file exists')
  writeFileSync(file, '{"value":1}\n{"life":0,"from":"plus","value":12')
  t.same(readJsonl(file), [{ value: 1 }], 'the part of a line is left out, not parsed')
  appendFileSync(file, '3}\n')
  t.same(readJsonl(file), [{ value: 1 }, { life: 0, from: 'plus', value: 123 }], 'read whole once its newline is written')
  appendFileSync(file, '\n')
  t.same(completeLines(file), ['{"value":1}', '{"life":0,"from":"plus","value":123}'], 'empty lines are skipped')
})
