import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDataflow } from '../../../src/spec/load.js'
import { ROOT } from '../../fixtures/paths.js'
import { commonJsPackage, scaffoldFiles, scaffoldNameProblem, writeScaffold } from '../../../runtime/tools/scaffold.js'

t.test('a dataflow scaffold is a valid dataflow whose files are all there', async (t) => {
  for (const lang of ['ts', 'js'] as const) {
    const files = scaffoldFiles('dataflow', 'demo', lang)
    const ext = lang === 'ts' ? 'ts' : 'mjs'
    t.same(
      files.map((f) => f.path),
      ['dataflow.yml', `source.${ext}`, `transform.${ext}`, `sink.${ext}`, 'README.md', 'package.json', '.gitignore'].map((f) => join('demo', f)),
    )
    const pkg = JSON.parse(files.find((f) => f.path.endsWith('package.json'))!.text) as {
      type: string
      dependencies: Record<string, string>
      allowScripts: Record<string, boolean>
    }
    t.equal(pkg.type, 'module', 'the project makes its files ES modules')
    t.match(pkg.dependencies['dora-ts'], /^\^\d+\.\d+\.\d+/, 'and depends on this dora-ts')
    // npm 12 skips dependency install scripts not approved in allowScripts: the native ones of
    // dora-ts are, and each entry is a package here that has one (the list must not rot).
    t.ok(pkg.allowScripts['zeromq'] === true && pkg.allowScripts['lmdb'] === true, 'it approves the install scripts of zeromq and lmdb')
    for (const dep of Object.keys(pkg.allowScripts)) {
      const { scripts = {} } = JSON.parse(readFileSync(join(ROOT, 'node_modules', dep, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
      t.ok(
        ['preinstall', 'install', 'postinstall'].some((s) => s in scripts),
        `${dep} has an install script`,
      )
    }
    const dir = t.testdir(Object.fromEntries(files.map((f) => [f.path.slice('demo/'.length), f.text])))
    const spec = parseDataflow(files[0]!.text, join(dir, 'dataflow.yml'))
    t.equal(spec.name, 'demo')
    t.same(
      spec.nodes.map((n) => [n.id, n.kind]),
      [
        ['source', 'custom'],
        ['transform', 'operators'],
        ['sink', 'custom'],
      ],
    )
    const transform = files.find((f) => f.path.includes('transform'))!.text
    t.match(transform, /restoreState\(state, ctx\)/)
    t.match(transform, /ctx\.saveState\('total'/)
    if (lang === 'js') t.notMatch(transform, /interface |<number>|<Reading>/, 'no TypeScript in the JavaScript scaffold')
  }
})

t.test('operator and node scaffolds are one file named after them', async (t) => {
  t.same(
    scaffoldFiles('operator', 'filter', 'ts').map((f) => f.path),
    ['filter.ts'],
  )
  t.same(
    scaffoldFiles('node', 'cam', 'js').map((f) => f.path),
    ['cam.mjs'],
  )
  t.match(scaffoldFiles('operator', 'filter', 'js')[0]!.text, /javascript: \.\/filter\.mjs/, 'the usage comment names the file')
  t.match(scaffoldFiles('node', 'cam', 'ts')[0]!.text, /path: \.\/cam\.ts/)
})

t.test('writeScaffold writes everything or nothing, and never overwrites', async (t) => {
  const dir = t.testdir({ 'b.txt': 'mine' })
  t.throws(
    () =>
      writeScaffold(dir, [
        { path: 'a.txt', text: 'a' },
        { path: 'b.txt', text: 'b' },
      ]),
    { code: 'DORA_CLI_FILE_EXISTS', message: /b\.txt already exists/ },
  )
  t.same(readdirSync(dir), ['b.txt'], 'a.txt was not written either')
  t.equal(readFileSync(join(dir, 'b.txt'), 'utf8'), 'mine')
  const written = writeScaffold(dir, [{ path: join('sub', 'c.txt'), text: 'c' }])
  t.same(written, [join(dir, 'sub', 'c.txt')])
  t.throws(() => writeScaffold(dir, [{ path: join('sub', 'd.txt'), text: 'd' }], 'sub'), {
    code: 'DORA_CLI_FILE_EXISTS',
    message: /sub already exists and is not an empty folder/,
  })
  t.doesNotThrow(() => writeScaffold(t.testdir({ empty: {} }), [{ path: join('empty', 'x'), text: '' }], 'empty'), 'an empty folder is fine')
})

t.test('names follow the node id rule', async (t) => {
  t.equal(scaffoldNameProblem('my-robot_2.v1'), undefined)
  t.match(scaffoldNameProblem('a/b'), /must not contain "\/"/)
  t.match(scaffoldNameProblem('.hidden'), /must not start with "."/)
  t.match(scaffoldNameProblem('two words'), /may only contain/)
  t.match(scaffoldNameProblem(''), /is empty/)
})

t.test('commonJsPackage finds a package.json that would load .ts files as CommonJS', async (t) => {
  const dir = t.testdir({ esm: { 'package.json': '{"type":"module"}', deep: {} }, cjs: { 'package.json': '{"name":"x"}' }, broken: { 'package.json': '{' } })
  t.equal(commonJsPackage(join(dir, 'esm', 'deep')), undefined)
  t.equal(commonJsPackage(join(dir, 'cjs')), join(dir, 'cjs', 'package.json'))
  t.equal(commonJsPackage(join(dir, 'broken')), join(dir, 'broken', 'package.json'))
  t.equal(commonJsPackage('/'), 'none')
})
