#!/usr/bin/env node
// Regenerates the TypeScript for every Cap'n Proto schema in src/protocol/schema/ into
// test/protocol/fixtures/generated/ (`common.capnp` -> `common.ts`): the output of `npx capnp-es src/protocol/schema/*.capnp -ots`, byte
// for byte, below a two-line header of ours (see HEADER).
//
//   node scripts/gen-capnp.mjs          write the generated files
//   node scripts/gen-capnp.mjs --check  generate into a temp dir and exit 1 if the committed
//                                       files differ (test/protocol/fixtures/generated.test.ts runs this)
//
// Needs the reference compiler `capnp` on PATH (Debian/Ubuntu: `apt-get install capnproto`).
// We call `capnp compile -o-` ourselves and hand its CodeGeneratorRequest to capnp-es's
// `compileAll`, instead of running the capnp-es CLI, so the output does not depend on the
// working directory and no shell parses the file names.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileAll } from 'capnp-es/compiler'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const schemaDir = join(root, 'src', 'protocol', 'schema')
// The generated classes are reference code for the tests (the runtime uses its own codec).
const outDir = join(root, 'test', 'protocol', 'fixtures', 'generated')
const check = process.argv.includes('--check')

const schemas = readdirSync(schemaDir)
  .filter((f) => f.endsWith('.capnp'))
  .sort()
if (schemas.length === 0) fail(`no .capnp files in ${relative(root, schemaDir)}`)

const compiled = spawnSync('capnp', ['compile', '-o-', `--src-prefix=${schemaDir}`, `-I${schemaDir}`, ...schemas.map((f) => join(schemaDir, f))], {
  cwd: root,
  maxBuffer: 64 << 20,
})
if (compiled.error !== undefined) {
  const notFound = /** @type {NodeJS.ErrnoException} */ (compiled.error).code === 'ENOENT'
  fail(
    notFound
      ? "the Cap'n Proto compiler `capnp` is not on PATH: install it with `apt-get install capnproto` (or your OS's capnproto package)"
      : `could not run capnp: ${compiled.error.message}`,
  )
}
if (compiled.status !== 0) fail(`capnp compile failed:\n${compiled.stderr.toString()}`)

const { files } = await compileAll(compiled.stdout, { ts: true })

// capnp-es imports every top-level type of an imported schema (`import { KeyValue, LogLevel,
// ... } from "./common.js"`), and the ones a file does not use fail our `noUnusedLocals`. The
// code is otherwise clean under our strict settings; @ts-nocheck only silences errors inside
// these files, their exported types still check every caller.
/** @param {string} schema */
const HEADER = (schema) =>
  `// @ts-nocheck -- generated from ${schema} by scripts/gen-capnp.mjs (npm run gen:capnp); do not edit.\n` +
  '// (nocheck: capnp-es imports all types of imported schemas, unused ones fail noUnusedLocals.)\n'

/** @type {Map<string, string>} generated file name (relative to test/protocol/fixtures/generated) -> content */
const outputs = new Map()
for (const [name, content] of files) {
  const file = basename(name)
  // The same re-indentation the capnp-es CLI applies when it writes files (it halves the
  // TypeScript printer's four-space indent), so our output matches `capnp-es -ots`.
  const body = content.replace(/^\s+/gm, (match) => ' '.repeat(match.length / 2))
  outputs.set(file, HEADER(file.replace(/\.ts$/, '.capnp')) + body)
}
for (const schema of schemas) {
  const expected = schema.replace(/\.capnp$/, '.ts')
  if (!outputs.has(expected)) fail(`capnp-es produced no ${expected} for ${schema}`)
}

if (!check) {
  for (const [name, content] of outputs) {
    writeFileSync(join(outDir, name), content)
    console.log(`[gen-capnp] wrote ${relative(root, join(outDir, name))}`)
  }
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'dora-gen-capnp-'))
  const stale = []
  try {
    for (const [name, content] of outputs) {
      writeFileSync(join(tmp, name), content)
      const committed = join(outDir, name)
      if (!existsSync(committed)) stale.push(`${relative(root, committed)} is missing`)
      else if (readFileSync(committed, 'utf8') !== readFileSync(join(tmp, name), 'utf8'))
        stale.push(`${relative(root, committed)} differs from what its schema generates`)
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  if (stale.length > 0) {
    fail(`generated Cap'n Proto code is stale:\n  ${stale.join('\n  ')}\nrun \`npm run gen:capnp\` and commit the result`)
  }
  console.log(`[gen-capnp] ${outputs.size} generated files are up to date`)
}

/** @param {string} message */
function fail(message) {
  console.error(`[gen-capnp] ${message}`)
  process.exit(1)
}
