/**
 * Writes the README's error table from the one table of codes in src/error-codes.ts, so the
 * docs list every code the code can raise, with the same meaning, and nothing else.
 *
 * `npm run gen:errors` rewrites the lines between `<!-- error-table:start -->` and
 * `<!-- error-table:end -->` in README.md; the prose around them is left alone.
 * `node dist/scripts/gen-error-table.js --check` only reports (exit 1) when the README is stale;
 * test/scripts/gen-error-table.test.ts makes the same check.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ERROR_CODES, type ErrorCodeInfo } from '../src/error-codes.js'
import { errorMessage } from '../src/errors.js'

export const TABLE_START = '<!-- error-table:start -->'
export const TABLE_END = '<!-- error-table:end -->'
/** What to run when the README's table is stale. */
export const REGENERATE_COMMAND = 'npm run gen:errors'

/** The Markdown table: one row per code, in the table's order. */
export function renderErrorTable(table: Readonly<Record<string, ErrorCodeInfo>> = ERROR_CODES): string {
  const rows = Object.entries(table).map(([code, info]) => `| \`${code}\` | \`${info.className}\` | ${cell(info.doc)} |`)
  return ['| code | class | meaning |', '|---|---|---|', ...rows].join('\n')
}

/**
 * `readme` with the text between the markers replaced by {@link renderErrorTable}.
 *
 * @throws Error when the markers are missing or out of order: the table has no place.
 */
export function withErrorTable(readme: string, table: Readonly<Record<string, ErrorCodeInfo>> = ERROR_CODES): string {
  const start = readme.indexOf(TABLE_START)
  const end = readme.indexOf(TABLE_END)
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`the README has no ${TABLE_START} ... ${TABLE_END} markers around its error table`)
  }
  // The generated table sits on its own lines between the two marker lines.
  return `${readme.slice(0, start + TABLE_START.length)}\n${renderErrorTable(table)}\n${readme.slice(end)}`
}

/** A table cell: a `|` would end it, a newline would end the row. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}

// `node dist/scripts/gen-error-table.js [--check] [README]`, from the package root.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const check = args.includes('--check')
  const file = resolve(args.find((a) => a !== '--check') ?? 'README.md')
  try {
    const before = readFileSync(file, 'utf8')
    const after = withErrorTable(before)
    if (before === after) {
      console.log(`${file}: the error table is up to date`)
    } else if (check) {
      console.error(`${file}: the error table differs from src/error-codes.ts; run ${REGENERATE_COMMAND}`)
      process.exitCode = 1
    } else {
      writeFileSync(file, after)
      console.log(`${file}: error table rewritten from src/error-codes.ts (${Object.keys(ERROR_CODES).length} codes)`)
    }
  } catch (err) {
    console.error(errorMessage(err))
    process.exitCode = 1
  }
}
