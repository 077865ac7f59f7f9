/**
 * The one line a node's fatal exception becomes in the run's report
 * (src/transport/crash-note.ts): its name, first message line, our code, and the first place in
 * the program's own code; and the note file, written by a real dying process and taken once.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeUncaught, takeCrashNote } from '../../src/transport/crash-note.js'
import { ROOT } from '../fixtures/paths.js'

/** An error whose stack is `frames` (as V8 writes them) under its first line. */
function errorWith(message: string, frames: string[], name = 'TypeError'): Error {
  const err = new Error(message)
  err.name = name
  err.stack = [`${name}: ${message}`, ...frames.map((f) => `    at ${f}`)].join('\n')
  return err
}

t.test('the first frame in the program, past Node, packages and the SDK, relative to the working folder', (t) => {
  const err = errorWith('x is not a function', [
    `Node.send (${join(ROOT, 'dist', 'node-sdk', 'bundle.js')}:812:11)`,
    `Object.encode (${join(ROOT, 'src', 'protocol', 'node', 'codec.ts')}:40:3)`,
    'process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    '/robot/node_modules/some-driver/index.js:9:1',
    `async ${pathToFileURL('/robot/nodes/camera.mjs').href}:43:12`,
    '/robot/nodes/main.mjs:1:1',
  ])
  t.equal(describeUncaught(err, '/robot'), 'TypeError: x is not a function (at ./nodes/camera.mjs:43:12)')
  t.equal(describeUncaught(err, '/elsewhere'), 'TypeError: x is not a function (at /robot/nodes/camera.mjs:43:12)', 'outside the folder: absolute')
  t.end()
})

t.test("the repository's examples are the program's code, though they live in the package", (t) => {
  const example = join(ROOT, 'examples', 'robot', 'controller.ts')
  t.equal(describeUncaught(errorWith('boom', [`<anonymous> (${example}:43:12)`]), ROOT), 'TypeError: boom (at ./examples/robot/controller.ts:43:12)')
  t.end()
})

t.test('our errors carry their code; the first line of a message only; no frame, no place', (t) => {
  const err = errorWith('cannot open the KVS in /ro/kvs: read-only\nmore detail', [], 'KvsOpenError')
  Object.assign(err, { code: 'DORA_KVS_OPEN' })
  t.equal(describeUncaught(err), 'KvsOpenError: cannot open the KVS in /ro/kvs: read-only [DORA_KVS_OPEN]')
  const system = Object.assign(errorWith('no such file', []), { code: 'ENOENT' })
  t.equal(describeUncaught(system), 'TypeError: no such file', "a code that is not ours is Node's, already in its message")
  t.end()
})

t.test('a thrown value that is not an Error, and a message too long for a report', (t) => {
  t.equal(describeUncaught('lost the arm'), 'uncaught value: lost the arm')
  t.equal(describeUncaught({ toString: () => 'an object' }), 'uncaught value: an object')
  const long = describeUncaught(new Error('x'.repeat(2000)))
  t.equal(long.length, 500)
  t.ok(long.endsWith('...'))
  t.end()
})

/** The exit status of a node process that notes its fatal errors in `path`, then runs `program`. */
function runNoting(path: string, program: string): number | null {
  const module = pathToFileURL(join(ROOT, 'dist', 'src', 'transport', 'crash-note.js')).href
  const script = `const { noteFatalExceptions } = await import(${JSON.stringify(module)})\nnoteFatalExceptions(${JSON.stringify(path)})\n${program}`
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 }).status
}

const THROW_LATER = "setTimeout(() => { throw new SyntaxError('bad calibration') }, 1)"

t.test('a process that dies of an uncaught exception leaves its note; one that handles it leaves the note of its own exit', (t) => {
  const dir = t.testdir({})
  const fatal = join(dir, 'fatal@crash')
  t.equal(runNoting(fatal, THROW_LATER), 1, "Node's own handling is unchanged: exit code 1")
  t.match(takeCrashNote(fatal), /^SyntaxError: bad calibration \(at /)
  t.notOk(existsSync(fatal), 'taken: read and deleted')
  t.equal(takeCrashNote(fatal), undefined, 'a second take finds nothing')
  const handled = join(dir, 'handled@crash')
  t.equal(runNoting(handled, `process.on('uncaughtException', () => process.exit(3))\n${THROW_LATER}`), 3)
  const note = takeCrashNote(handled)
  t.match(note, /^process\.exit\(3\) called \(at /, 'handled by the program: its process.exit() is the note')
  t.notMatch(note, /bad calibration/, 'not the exception it handled')
  writeFileSync(join(dir, 'empty@crash'), '\n')
  t.equal(takeCrashNote(join(dir, 'empty@crash')), undefined, 'an empty note is no note')
  t.end()
})

t.test('an exit with process.exitCode set, or with code 0, leaves no note', (t) => {
  const dir = t.testdir({})
  const exitCode = join(dir, 'exit-code@crash')
  t.equal(runNoting(exitCode, 'process.exitCode = 4'), 4)
  t.notOk(existsSync(exitCode), 'process.exitCode: no call to name')
  const clean = join(dir, 'clean@crash')
  t.equal(runNoting(clean, 'process.exit(0)'), 0)
  t.notOk(existsSync(clean), 'process.exit(0): not a failure')
  t.end()
})
