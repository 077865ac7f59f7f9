import t from 'tap'
import { readFileSync } from 'node:fs'
import { REGENERATE_COMMAND, renderErrorTable, TABLE_END, TABLE_START, withErrorTable } from '../../scripts/gen-error-table.js'
import { ERROR_CODES } from '../../src/error-codes.js'

t.test("the README's error table is the one generated from src/error-codes.ts", async (t) => {
  const readme = readFileSync('README.md', 'utf8')
  const fresh = withErrorTable(readme) === readme
  t.ok(fresh, `README.md's error table differs from src/error-codes.ts: run \`${REGENERATE_COMMAND}\``)
})

t.test('the table has one row per code, in order, and escapes cell breakers', async (t) => {
  const lines = renderErrorTable().split('\n')
  t.equal(lines.length, 2 + Object.keys(ERROR_CODES).length)
  t.equal(lines[2], `| \`DORA_SPEC_INVALID\` | \`SpecErrors\` | ${ERROR_CODES.DORA_SPEC_INVALID.doc} |`)
  t.equal(renderErrorTable({ DORA_X: { className: 'X', module: 'x.ts', doc: 'a | b' } }).split('\n')[2], '| `DORA_X` | `X` | a \\| b |')
})

t.test('only the text between the markers is replaced', async (t) => {
  const table = { DORA_X: { className: 'X', module: 'x.ts', doc: 'x' } }
  const before = `# T\n\nprose before\n\n${TABLE_START}\n| old |\n${TABLE_END}\n\nprose after\n`
  const after = withErrorTable(before, table)
  t.equal(after, `# T\n\nprose before\n\n${TABLE_START}\n${renderErrorTable(table)}\n${TABLE_END}\n\nprose after\n`)
  t.equal(withErrorTable(after, table), after, 'idempotent')
  t.throws(() => withErrorTable('# no markers', table), /markers/)
  t.throws(() => withErrorTable(`${TABLE_END}\n${TABLE_START}`, table), /markers/)
})
