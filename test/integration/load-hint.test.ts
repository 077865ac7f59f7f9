/**
 * A node or operator that cannot load because of the project around it is told what to change
 * (src/spec/load-hint.ts): an ES module under a package.json without `"type": "module"` (what
 * `npm init` writes), and a file outside any project with dora-ts installed. Real projects in
 * the system's temp directory (outside this repository's package.json), dora-ts installed in
 * them as npm links a local package, real node processes and operator workers.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ROOT } from '../fixtures/paths.js'
import { dump, startInProcess } from './fixtures/in-process.js'

/** This repository: what a project's node_modules/dora-ts links to (from dist/test/ or, under tap's TypeScript loader, test/). */
const REPO = ROOT

const JS_NODE = `import { Node } from 'dora-ts'
const node = await Node.connect()
console.log('js-node connected')
for await (const event of node.events()) if (event.type === 'stop') break
await node.close()
`
const TS_NODE = `import { Node } from 'dora-ts'
const node: Node = await Node.connect()
console.log('ts-node connected')
for await (const event of node.events()) if (event.type === 'stop') break
await node.close()
`
const JS_OPERATOR = `import { defineOperator } from 'dora-ts'
let first = true
export default defineOperator({ onInput() { if (first) console.log('operator got an input'); first = false } })
`
const FLOW = `nodes:
  - id: js-node
    path: ./node.js
    inputs:
      tick: dora/timer/millis/50
  - id: ts-node
    path: ./node.ts
    inputs:
      tick: dora/timer/millis/50
  - id: js-operator
    operator:
      javascript: ./operator.js
      inputs:
        tick: dora/timer/millis/50
`

/** A project in the temp directory with `files`; removed after the test. */
function project(t: Test, files: Record<string, string>, options: { installed: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dora-load-hint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  if (options.installed) {
    mkdirSync(join(dir, 'node_modules'))
    symlinkSync(REPO, join(dir, 'node_modules', 'dora-ts'))
  }
  return dir
}

async function errorsOf(t: Test, dir: string, yaml: string): Promise<Map<string, string | undefined>> {
  const flow = await startInProcess(t, yaml, { dir })
  const result = await flow.done
  t.notOk(result.ok, dump(flow.logs))
  return new Map(result.units.map((unit) => [unit.unit, unit.error]))
}

/** The package.json `npm init -y` writes (npm 10 and later). */
const NPM_INIT = JSON.stringify({ name: 'my-robot', version: '1.0.0', main: 'index.js', license: 'ISC', type: 'commonjs' })

/** Asserts `error` ends its first clause with `advice` and the extension to rename the file to. */
function advises(t: Test, error: string | undefined, advice: string, ext: string): void {
  t.ok(error?.includes(`${advice}, or name the file ${ext}`), `advises: ${advice}`, { error })
}

t.test('ES modules in a project from `npm init` are told to make its type "module"', async (t) => {
  const dir = project(t, { 'package.json': NPM_INIT, 'node.js': JS_NODE, 'node.ts': TS_NODE, 'operator.js': JS_OPERATOR }, { installed: true })
  const errors = await errorsOf(t, dir, FLOW)
  const advice = `an ES module that Node loads as CommonJS, as ${join(dir, 'package.json')} says "type": "commonjs" (\`npm init\` writes that): make it "module"`
  t.match(errors.get('js-node'), /^exited with code 1: \S+node\.js is /)
  advises(t, errors.get('js-node'), advice, '.mjs')
  t.match(errors.get('ts-node'), /^exited with code 1: \S+node\.ts is /)
  advises(t, errors.get('ts-node'), advice, '.mts')
  t.match(errors.get('js-operator'), /^failed to load \S+operator\.js: .*; it is /)
  advises(t, errors.get('js-operator'), advice, '.mjs')
  t.notMatch(errors.get('js-operator'), /\n/, 'one line: not the loader stack')
})

t.test('a .ts node under a package.json without a type is told to add one', async (t) => {
  // Node's syntax detection loads a .js file with imports as an ES module here; tsx does not.
  const dir = project(t, { 'package.json': '{ "name": "my-robot" }\n', 'node.ts': TS_NODE }, { installed: true })
  const errors = await errorsOf(t, dir, 'nodes:\n  - id: ts-node\n    path: ./node.ts\n    inputs:\n      tick: dora/timer/millis/50\n')
  const advice = `an ES module that Node loads as CommonJS, as ${join(dir, 'package.json')} does not say "type": "module": add that there`
  advises(t, errors.get('ts-node'), advice, '.mts')
})

t.test('the same project with "type": "module" runs, and nothing is hinted', async (t) => {
  const dir = project(
    t,
    { 'package.json': '{ "name": "my-robot", "type": "module" }\n', 'node.js': JS_NODE, 'node.ts': TS_NODE, 'operator.js': JS_OPERATOR },
    { installed: true },
  )
  const flow = await startInProcess(t, FLOW, { dir })
  await Promise.all(['js-node connected', 'ts-node connected', 'operator got an input'].map((line) => flow.waitForLine(new RegExp(line))))
  flow.run.stop()
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.notOk(
    flow.logs.some((l) => /loads as CommonJS|not in a project/.test(l.text)),
    dump(flow.logs),
  )
})

t.test('a file outside any project with dora-ts installed is told to install it', async (t) => {
  const dir = project(t, { 'node.mjs': JS_NODE, 'operator.mjs': JS_OPERATOR }, { installed: false })
  const errors = await errorsOf(
    t,
    dir,
    `nodes:
  - id: node
    path: ./node.mjs
    inputs:
      tick: dora/timer/millis/50
  - id: operator
    operator:
      javascript: ./operator.mjs
      inputs:
        tick: dora/timer/millis/50
`,
  )
  const install = `not in a project with dora-ts installed: run \`npm install ${REPO}\``
  t.match(errors.get('node'), /^exited with code 1: \S+node\.mjs is /)
  t.ok(errors.get('node')?.includes(install), `the node advises: ${install}`, { error: errors.get('node') })
  t.match(errors.get('operator'), /^failed to load \S+operator\.mjs: Cannot find \w+ 'dora-ts'.*; it is /)
  t.ok(errors.get('operator')?.includes(install), `the operator advises: ${install}`, { error: errors.get('operator') })
})
