/** Run directories: private, short enough for socket paths, removed once, swept when their supervisor died. */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DoraError } from '../../src/errors.js'
import { createRunDir, isAlive, RunDirError, runRoot, sweepStaleRunDirs } from '../../src/transport/run-dir.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'

const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!

t.test('a run directory is private to the user and holds the node endpoint', async (t) => {
  const root = join(shortRuntimeDir(t), 'root')
  const dir = createRunDir(root)
  t.match(dir.path, new RegExp(`^${root}/run-${process.pid}-[0-9a-f]{8}$`))
  t.equal(dir.nodeEndpoint, `ipc://${join(dir.path, 'nodes.sock')}`)
  t.equal(statSync(root).mode & 0o777, 0o700, 'the root is 0700')
  t.equal(statSync(dir.path).mode & 0o777, 0o700, 'the run directory is 0700')
  t.not(createRunDir(root).path, dir.path, 'two runs of one process get two directories')
  writeFileSync(join(dir.path, 'nodes.sock'), '')
  dir.remove()
  t.notOk(existsSync(dir.path), 'removed with what it holds')
  dir.remove()
  t.pass('a second remove() is a no-op')
})

t.test('a root too deep for a Unix socket path is refused with a hint, and leaves nothing behind', async (t) => {
  const root = join(t.testdir({}), 'x'.repeat(120))
  const err = t.throws(() => createRunDir(root)) as unknown
  t.ok(err instanceof RunDirError && err instanceof DoraError)
  t.match(err, { code: 'DORA_RUN_DIR', message: /too long for a Unix socket/, hint: /DORA_TS_RUNTIME_DIR/ })
})

t.test('a root that cannot be created is a RunDirError naming it', async (t) => {
  const file = join(t.testdir({ 'a-file': '' }), 'a-file')
  t.throws(() => createRunDir(join(file, 'root')), {
    code: 'DORA_RUN_DIR',
    message: new RegExp(`cannot create the runtime directory ${file}/root: ${file} is a file, not a folder`),
  })
})

t.test('sweeping removes the run directories of dead processes only', async (t) => {
  const root = t.testdir({})
  const dead = join(root, `run-${deadPid()}-0badc0de`)
  const live = join(root, `run-${process.pid}-00c0ffee`)
  const other = join(root, 'not-a-run-dir')
  const file = join(root, `run-${deadPid()}-0000beef`)
  for (const dir of [dead, live, other]) mkdirSync(dir)
  writeFileSync(file, 'a file with a run-like name')
  t.same(sweepStaleRunDirs(root), [dead])
  t.notOk(existsSync(dead))
  t.ok(existsSync(live) && existsSync(other) && existsSync(file), 'a live run, a foreign folder and a file stay')
  t.same(sweepStaleRunDirs(join(root, 'missing')), [], 'a missing root has nothing to sweep')
})

t.test('creating a run directory sweeps the stale ones first', async (t) => {
  const root = join(shortRuntimeDir(t), 'root')
  mkdirSync(root)
  const stale = join(root, `run-${deadPid()}-12345678`)
  mkdirSync(stale)
  createRunDir(root).remove()
  t.notOk(existsSync(stale))
})

t.test('the root honours DORA_TS_RUNTIME_DIR, then XDG_RUNTIME_DIR, and is per user', async (t) => {
  const saved = { dora: process.env['DORA_TS_RUNTIME_DIR'], xdg: process.env['XDG_RUNTIME_DIR'] }
  t.teardown(() => {
    for (const [key, value] of [
      ['DORA_TS_RUNTIME_DIR', saved.dora],
      ['XDG_RUNTIME_DIR', saved.xdg],
    ] as const) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  })
  process.env['DORA_TS_RUNTIME_DIR'] = '/custom'
  process.env['XDG_RUNTIME_DIR'] = '/run/user/1'
  t.equal(runRoot(), `/custom/dora-ts-${process.getuid!()}`)
  delete process.env['DORA_TS_RUNTIME_DIR']
  t.equal(runRoot(), `/run/user/1/dora-ts-${process.getuid!()}`)
})

t.test('isAlive tells a running process from a finished one', async (t) => {
  t.ok(isAlive(process.pid))
  t.notOk(isAlive(deadPid()))
})
