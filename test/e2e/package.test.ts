/**
 * dora-ts as a package other projects depend on (issue 14): `npm pack` makes a tarball with
 * the built code and nothing of the repository's tests; a project scaffolded by `dora-ts new
 * dataflow` installs it with npm (from the shared cache, else the npm registry: the only
 * network this needs) and its dataflow runs with `npx dora-ts` from the project's own
 * node_modules, its operators and nodes importing 'dora-ts' as a user's would.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, runCli, shortRuntimeDir, type CliResult } from './fixtures/cli.js'

/** Run a command to completion and collect its output. */
function exec(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

t.test('the packed package installs into a scaffolded project, whose dataflow runs with npx dora-ts', async (t) => {
  // Outside the repository: no package self-reference, no parent node_modules to fall back on.
  const work = mkdtempSync(join(tmpdir(), 'dora-ts-package-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))

  // dist/ is built before the tests (npm test); --ignore-scripts skips `prepare`'s second build.
  const pack = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)
  t.equal(pack.code, 0, pack.stderr)
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = info!.files.map((f) => f.path)
  t.ok(files.includes('dist/runtime/cli/main.js'), 'the CLI is in the package')
  t.ok(files.includes('dist/node-sdk/index.d.ts'), 'the SDK types are in the package')
  t.ok(files.includes('dist/node-sdk/bundle.js'), "the SDK's bundle, which nodes import, is in the package")
  t.same(
    files.filter((f) => /^(test|bench|scripts|examples|src|runtime|node-sdk)\//.test(f) || f.startsWith('dist/bench') || f.startsWith('dist/scripts')),
    [],
    'no sources, tests or benchmarks',
  )
  const tarball = join(work, info!.filename)

  const created = await runCli(['new', 'dataflow', 'robot', '--dir', work])
  t.equal(created.code, 0, created.stderr)
  const project = join(work, 'robot')
  const install = await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project)
  t.equal(install.code, 0, `npm install: ${install.stderr}`)
  t.ok(readdirSync(join(project, 'node_modules', '.bin')).includes('dora-ts'), 'the dora-ts command is installed')
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  t.ok(pkg.dependencies['dora-ts'] !== undefined, 'the project depends on dora-ts')

  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  const version = await exec('npx', ['--no-install', 'dora-ts', '--version'], project, env)
  t.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version)
  const run = await exec('npx', ['--no-install', 'dora-ts', 'run', 'dataflow.yml', '--stop-after', '3s'], project, env)
  t.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
  t.match(run.stdout, /\[sink\] received scaled: \{"count":1,/, 'the operator and the nodes import the installed dora-ts')
  t.notMatch(run.stderr, /Cannot find module|Top-level await/)
})
