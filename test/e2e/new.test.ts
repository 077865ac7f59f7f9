/**
 * `dora-ts new` through the real CLI: the scaffolds pass `check`, run as they are (the sink
 * prints what the operator made of the source's readings), type-check under strict settings,
 * and nothing existing is ever overwritten. A new dataflow is its own npm project depending
 * on dora-ts; here its node_modules/dora-ts is a link to this checkout, standing in for `npm
 * install` (package.test.ts does the real install of the packed package).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, runCli, shortRuntimeDir } from './fixtures/cli.js'

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/** Type-check `files` with the repository's strict settings; returns tsc's output ('' when clean). */
function typecheck(files: string[]): string {
  const args = ['--noEmit', '--strict', '--noUncheckedIndexedAccess', '--noUnusedLocals', '--noUnusedParameters', '--noImplicitReturns']
  args.push('--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2023', '--types', 'node', '--skipLibCheck')
  // --ignoreConfig: TypeScript 6 refuses files on the command line below a tsconfig.json.
  const result = spawnSync(process.execPath, [TSC, '--ignoreConfig', ...args, ...files], { encoding: 'utf8' })
  return result.status === 0 ? '' : `${result.stdout}${result.stderr}`
}

for (const lang of ['ts', 'js'] as const) {
  t.test(`new dataflow --lang ${lang} scaffolds a dataflow that checks and runs as it is`, async (t) => {
    const dir = t.testdir()
    const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
    const created = await runCli(['new', 'dataflow', 'demo', '--dir', dir, ...(lang === 'js' ? ['--lang', 'js'] : [])])
    t.equal(created.code, 0, created.stderr)
    const ext = lang === 'ts' ? 'ts' : 'mjs'
    t.same(readdirSync(join(dir, 'demo')).sort(), [
      '.gitignore',
      'README.md',
      'dataflow.yml',
      'package.json',
      `sink.${ext}`,
      `source.${ext}`,
      `transform.${ext}`,
    ])
    t.match(created.stderr, /created .*demo\/dataflow\.yml/)
    // dora-ts is not on the registry: the next step installs this copy (a plain npm install is E404).
    t.ok(created.stderr.includes(`&& npm install ${ROOT.replace(/\/$/, '')} && npx dora-ts run dataflow.yml`), created.stderr)
    t.match(created.stderr, /next: cd .*demo && npm install /)
    const pkg = JSON.parse(readFileSync(join(dir, 'demo', 'package.json'), 'utf8')) as { type: string; dependencies: Record<string, string> }
    t.equal(pkg.type, 'module', 'its files are ES modules')
    t.match(pkg.dependencies['dora-ts'], /^\^\d+\.\d+\.\d+/, 'it depends on dora-ts')
    // What `npm install` would do.
    mkdirSync(join(dir, 'demo', 'node_modules'))
    symlinkSync(ROOT, join(dir, 'demo', 'node_modules', 'dora-ts'), 'dir')
    t.notMatch(created.stderr, /CommonJS/, 'no module-format warning inside an ESM package')
    t.match(readFileSync(join(dir, 'demo', 'README.md'), 'utf8'), /^# demo\n\nA dora-ts dataflow: a timer-driven source node/)

    const yml = join(dir, 'demo', 'dataflow.yml')
    const check = await runCli(['check', yml])
    t.equal(check.code, 0, check.stderr)
    t.match(check.stderr, /is valid: 3 nodes \(2 custom, 1 operator\)/)

    const run = await runCli(['run', yml, '--stop-after', '3s'], { env })
    t.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
    t.match(run.stdout, /\[sink\] received scaled: \{"count":1,"scaled":\d+,"average":\d+\}/, 'the sink printed what the operator made of a reading')
    t.match(run.stdout, /\[source\] stopping \(manual\) after \d+ readings/)
    t.match(run.stderr, /dataflow finished \(stop-after\): 3 nodes ended cleanly/)

    if (lang === 'ts') {
      // The operator's state carries over to the next run.
      const again = await runCli(['run', yml, '--stop-after', '2s'], { env })
      t.equal(again.code, 0, again.stderr)
      t.match(again.stdout, /\[transform\] restored: [1-9]\d* readings so far/)
      t.equal(
        typecheck(['source', 'transform', 'sink'].map((f) => join(dir, 'demo', `${f}.ts`))),
        '',
        'the TypeScript scaffold type-checks under strict settings',
      )
    }
  })
}

t.test('new operator and new node scaffold skeletons that run in a dataflow as they are', async (t) => {
  const dir = t.testdir()
  const op = await runCli(['new', 'operator', 'filter', '--dir', dir])
  t.equal(op.code, 0, op.stderr)
  t.match(op.stderr, /created .*filter\.ts/)
  const node = await runCli(['new', 'node', 'printer', '--dir', dir])
  t.equal(node.code, 0, node.stderr)
  const jsNode = await runCli(['new', 'node', 'logger.mjs', '--dir', dir])
  t.equal(jsNode.code, 0, 'a name with an extension picks the language')
  t.ok(existsSync(join(dir, 'logger.mjs')))

  const operatorText = readFileSync(join(dir, 'filter.ts'), 'utf8')
  t.match(operatorText, /defineOperator/)
  t.match(operatorText, /restoreState\(state, ctx\)/)
  t.match(operatorText, /ctx\.saveState\('count'/)
  t.match(readFileSync(join(dir, 'printer.ts'), 'utf8'), /await Node\.connect\(\)[\s\S]*case 'input':[\s\S]*case 'stop':/)
  t.equal(typecheck([join(dir, 'filter.ts'), join(dir, 'printer.ts')]), '', 'both type-check under strict settings')

  writeFileSync(
    join(dir, 'dataflow.yml'),
    `nodes:
  - id: filter
    operator:
      typescript: ./filter.ts
      inputs:
        tick: dora/timer/millis/200
      outputs: [result]
  - id: printer
    path: ./printer.ts
    inputs:
      result: filter/result
    outputs: [out]
  - id: logger
    path: ./logger.mjs
    inputs:
      out: printer/out
`,
  )
  const run = await runCli(['run', join(dir, 'dataflow.yml'), '--stop-after', '2500ms'], { env: { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) } })
  t.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
  t.match(run.stdout, /\[printer\] input result: \d+ bytes \(#1\)/)
  t.match(run.stdout, /\[logger\] input out: \d+ bytes \(#1\)/)
  t.match(run.stdout, /\[filter\] stopping \(manual\) after \d+ inputs/)
  t.match(run.stdout, /\[printer\] stopping \(manual\)/)
})

t.test('new refuses to overwrite anything, and says so in one paragraph', async (t) => {
  const dir = t.testdir({ 'filter.ts': '// mine\n', demo: { 'notes.txt': 'mine' } })
  const op = await runCli(['new', 'operator', 'filter', '--dir', dir])
  t.equal(op.code, 1)
  t.match(op.stderr, /error: .*filter\.ts already exists; dora-ts new does not overwrite files\nChoose another name/)
  t.equal(readFileSync(join(dir, 'filter.ts'), 'utf8'), '// mine\n', 'the file is untouched')

  const flow = await runCli(['new', 'dataflow', 'demo', '--dir', dir])
  t.equal(flow.code, 1)
  t.match(flow.stderr, /demo already exists and is not an empty folder/)
  t.same(readdirSync(join(dir, 'demo')), ['notes.txt'], 'nothing was added to the folder')
  t.notMatch(flow.stderr, /\n\s+at \S+ \(/, 'no stack trace')

  const badName = await runCli(['new', 'node', 'a/b', '--dir', dir])
  t.equal(badName.code, 1)
  t.match(badName.stderr, /"a\/b" cannot name a new node: the name must not contain "\/"/)
  const conflict = await runCli(['new', 'node', 'x.ts', '--lang', 'js', '--dir', dir])
  t.equal(conflict.code, 1)
  t.match(conflict.stderr, /ends in \.ts but --lang is js/)
  const kind = await runCli(['new', 'widget', 'x', '--dir', dir])
  t.equal(kind.code, 2, 'an unknown kind is a usage error')
  t.match(kind.stderr, /Choices: "dataflow", "operator", "node"/)

  const help = await runCli(['new', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Examples:[\s\S]*dora-ts new dataflow my-robot/)
})

t.test('new warns when .ts files would load as CommonJS there', async (t) => {
  const dir = t.testdir({ 'package.json': '{ "name": "legacy" }' })
  const result = await runCli(['new', 'node', 'cam', '--dir', dir])
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /note: .*package\.json does not set "type": "module"/)
  const js = await runCli(['new', 'node', 'cam2', '--lang', 'js', '--dir', dir])
  t.notMatch(js.stderr, /note:/, '.mjs files are ES modules anywhere')
})
