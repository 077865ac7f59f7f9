/**
 * The CLI's small promises, each a defect a newcomer hit (issue 14): stdin for `kvs put`,
 * `kvs ls` that does not flood or crash on a closed pipe, non-UTF-8 arguments refused, KVS
 * namespace typos caught, unknown commands with a did-you-mean, a fast `--version`. No
 * dataflow runs here: every case is one short CLI call against its own KVS directory.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, runCli, shortRuntimeDir, type CliResult } from './fixtures/cli.js'
import { KvsStore } from '../../src/store/kvs/store.js'

function kvsEnv(t: Test): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = join(t.testdir({}), 'kvs')
  return { dir, env: { DORA_TS_KVS_DIR: dir } }
}

/** Run `script` in sh, where `$NODE "$CLI"` runs the CLI; for pipes and raw bytes. */
function sh(script: string, env: NodeJS.ProcessEnv, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { env: { ...process.env, NO_COLOR: '1', ...env, NODE: process.execPath, CLI } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end(stdin ?? '')
  })
}

t.test('kvs put KEY - and --file - read stdin (a lone - was stored as an empty value)', async (t) => {
  const { env } = kvsEnv(t)
  const dash = await sh('"$NODE" "$CLI" kvs put speed - -n robot', env, '1.5')
  t.equal(dash.code, 0, dash.stderr)
  const fileDash = await sh('"$NODE" "$CLI" kvs put name --file - -n robot', env, 'robot one')
  t.equal(fileDash.code, 0, fileDash.stderr)
  t.equal((await runCli(['kvs', 'get', 'speed', '-n', 'robot'], { env })).stdout, '1.5\n')
  t.equal((await runCli(['kvs', 'get', 'name', '-n', 'robot', '--raw'], { env })).stdout, 'robot one', '--raw prints the exact bytes')
})

t.test('kvs ls cuts long values short and survives a closed pipe (| head)', async (t) => {
  const { dir, env } = kvsEnv(t)
  const store = KvsStore.open({ dir })
  const ns = store.namespace('big')
  for (let i = 0; i < 3000; i++) ns.write(`key/${String(i).padStart(5, '0')}`, Buffer.from('x'.repeat(1000)))
  store.close()

  const head = await sh('"$NODE" "$CLI" kvs ls -n big 2>"$ERR" | head -n 2', { ...env, ERR: join(dir, '..', 'err.txt') })
  const lines = head.stdout.split('\n')
  t.match(lines[0], /^key\/00000\tx{80}\.\.\. \(1000 bytes\)$/, 'the value is cut at 80 characters with its size')
  t.match(lines[1], /^key\/00001\t/)
  t.notMatch(head.stdout + head.stderr, /EPIPE|Error|at /, 'no stack trace when the reader stops early')
  t.equal(readFileSync(join(dir, '..', 'err.txt'), 'utf8'), '')
})

t.test('arguments that are not UTF-8 are refused, not silently altered', async (t) => {
  const { env } = kvsEnv(t)
  const r = await sh(`"$NODE" "$CLI" kvs put k "$(printf 'a\\377b')" -n robot`, env)
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, /argument 4 .* is not valid UTF-8 text[\s\S]*--file/)
  t.notMatch(r.stderr, /please report/)
})

t.test('a mistyped KVS namespace is caught; kvs namespaces lists them', async (t) => {
  const { env } = kvsEnv(t)
  t.equal((await runCli(['kvs', 'put', 'a', '1', '-n', 'robot'], { env })).code, 0)
  const typo = await runCli(['kvs', 'ls', '-n', 'robto'], { env })
  t.equal(typo.code, 1)
  t.match(typo.stderr, /KVS namespace "robto" does not exist \(did you mean "robot"\?\)/)
  const created = await runCli(['kvs', 'put', 'b', '2', '-n', 'robto'], { env })
  t.equal(created.code, 0, 'a write may create a namespace')
  t.match(created.stderr, /creating KVS namespace "robto" \(did you mean "robot"\?\)/, 'but says so')
  const list = await runCli(['kvs', 'namespaces'], { env })
  t.equal(list.stdout, 'robot\nrobto\n')
})

t.test('unknown commands get a did-you-mean and exit 2, even with --help', async (t) => {
  const validate = await runCli(['validate', '--help'])
  t.equal(validate.code, 2)
  t.equal(validate.stdout, '', 'no general help on a typo')
  t.match(validate.stderr, /unknown command "validate" \(did you mean "check"\?\)/)
  const typo = await runCli(['chek', 'dataflow.yml'])
  t.equal(typo.code, 2)
  t.match(typo.stderr, /unknown command "chek" \(did you mean "check"\?\)/)
})

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(CLI, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string }
  const r = await runCli(['--version'])
  t.equal(r.code, 0)
  t.equal(r.stdout, `${pkg.version}\n`)
})

t.test('kill --signal takes a number as kill(1) does (--signal 9 was refused)', async (t) => {
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  const nine = await runCli(['kill', 'robot', 'lidar', '--signal', '9'], { env })
  t.equal(nine.code, 1)
  t.notMatch(nine.stderr, /is not a signal/, 'accepted')
  t.match(nine.stderr, /no dataflow is running: neither a dora-ts supervisor nor a foreground dora-ts run/, 'and it got as far as looking for the dataflow')
  const bad = await runCli(['kill', 'robot', 'lidar', '--signal', '999'], { env })
  t.match(bad.stderr, /--signal 999 is not a signal/)
})
