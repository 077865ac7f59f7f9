import t from 'tap'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { findOnPath, isBareCommand, isDirectory, isFile, resolveExecutable, resolveModule, runtimeOf } from '../../src/spec/files.js'

t.test('runtimeOf tells ts, js, py and executables apart by extension', async (t) => {
  t.same(['a.ts', 'a.mts', 'a.CTS', 'a.js', 'a.mjs', 'a.cjs', 'a.py', 'a', '/usr/bin/python3', 'a.d.ts'].map(runtimeOf), [
    'ts',
    'ts',
    'ts',
    'js',
    'js',
    'js',
    'py',
    'exe',
    'exe',
    'ts',
  ])
})

t.test('isBareCommand is a name without a directory part', async (t) => {
  t.ok(isBareCommand('python3'))
  t.ok(isBareCommand('node.py'))
  t.notOk(isBareCommand('./node.py'))
  t.notOk(isBareCommand('bin/node'))
  t.notOk(isBareCommand('/usr/bin/node'))
  t.notOk(isBareCommand('.hidden'))
  t.notOk(isBareCommand('a\\b'))
})

t.test('findOnPath finds executable files only', async (t) => {
  const dir = t.testdir({ one: { tool: '', plain: '' }, two: { tool: '' } })
  chmodSync(join(dir, 'one', 'tool'), 0o755)
  chmodSync(join(dir, 'two', 'tool'), 0o755)
  const PATH = [join(dir, 'missing'), join(dir, 'one'), join(dir, 'two')].join(':')
  t.equal(findOnPath('tool', { PATH }), join(dir, 'one', 'tool'), 'the first directory wins')
  t.equal(findOnPath('plain', { PATH }), undefined, 'not executable')
  t.equal(findOnPath('nothing', { PATH }), undefined)
  t.equal(findOnPath('tool', {}), undefined, 'no PATH at all')
  t.equal(findOnPath('one', { PATH: dir }), undefined, 'a directory is not a command')
})

t.test('resolveExecutable and resolveModule say why a file is missing', async (t) => {
  const dir = t.testdir({ 'node.py': '', sub: { 'x.ts': '' } })
  t.ok(isFile(join(dir, 'node.py')))
  t.notOk(isFile(join(dir, 'sub')))
  t.ok(isDirectory(join(dir, 'sub')))
  t.notOk(isDirectory(join(dir, 'node.py')))
  t.same(resolveExecutable('./node.py', dir), { found: true, path: join(dir, 'node.py') })
  t.same(resolveExecutable('node.py', dir), { found: true, path: join(dir, 'node.py') }, 'a bare name next to the YAML')
  t.same(resolveExecutable(join(dir, 'node.py'), '/elsewhere'), { found: true, path: join(dir, 'node.py') }, 'absolute paths stay')
  t.match(resolveExecutable('./sub', dir), { found: false, path: join(dir, 'sub'), reason: /is a directory/ })
  t.match(resolveExecutable('./nope', dir), { found: false, path: join(dir, 'nope'), reason: /does not exist/ })
  t.match(resolveExecutable('no-such-cmd-dora-ts', dir), { found: false, reason: /neither a file in .* nor a command on PATH/ })
  t.same(resolveModule('sub/x.ts', dir), { found: true, path: join(dir, 'sub', 'x.ts') })
  t.match(resolveModule('sub', dir), { found: false, reason: /is a directory/ })
  t.match(resolveModule('x.ts', dir), { found: false, reason: /does not exist/ })
})
