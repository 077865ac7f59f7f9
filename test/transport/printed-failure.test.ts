/**
 * The error a program's stderr ends with, in one line with its place: read off what real
 * processes print as they die (node on a syntax error and on an uncaught exception, tsx on
 * TypeScript it cannot compile, python3 on a traceback), and nothing made up from output that
 * does not end with one.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { printedFailure } from '../../src/transport/printed-failure.js'

/**
 * What running `command` in `cwd` printed on stderr, by lines; it must fail. Without tap's
 * NODE_OPTIONS: its TypeScript loader would compile the .ts file before tsx does.
 */
function stderrOf(t: Test, cwd: string, command: string, args: string[]): string[] {
  const { NODE_OPTIONS: _tap, ...env } = process.env
  const run = spawnSync(command, args, { cwd, encoding: 'utf8', env })
  t.not(run.status, 0, `${command} ${args.join(' ')} failed, as it should`)
  return run.stderr.split('\n')
}

t.test("node's block for a syntax error: the message, and the line V8 placed it on", async (t) => {
  const dir = t.testdir({ 'camera.mjs': 'const frames = [1, 2\nconsole.log(frames)\n' })
  const summary = printedFailure(stderrOf(t, dir, process.execPath, ['camera.mjs']), dir)
  t.match(summary, /^SyntaxError: .+ \(at \.\/camera\.mjs:\d\)$/)
})

t.test("node's block for an uncaught exception: the message and the program's first frame", async (t) => {
  const dir = t.testdir({ 'driver.mjs': 'function open(port) {\n  throw new RangeError(`no device on ${port}`)\n}\nopen("/dev/ttyUSB0")\n' })
  const summary = printedFailure(stderrOf(t, dir, process.execPath, ['driver.mjs']), dir)
  t.equal(summary, 'RangeError: no device on /dev/ttyUSB0 (at ./driver.mjs:2:9)')
})

t.test("node's error with a code, a module that is not installed", async (t) => {
  const dir = t.testdir({ 'lidar.mjs': "import 'serialport-not-installed'\n" })
  const summary = printedFailure(stderrOf(t, dir, process.execPath, ['lidar.mjs']), dir)
  t.match(summary, /^Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package 'serialport-not-installed' imported from /)
})

t.test("tsx's block for TypeScript it cannot compile: esbuild's message and place", async (t) => {
  const dir = t.testdir({ 'planner.ts': 'const goal: number = (1\nconsole.log(goal)\n' })
  const summary = printedFailure(stderrOf(t, dir, process.execPath, ['--import', 'tsx', 'planner.ts']), dir)
  t.equal(summary, 'SyntaxError: Expected ")" but found "console" (at ./planner.ts:2:0)')
})

t.test("python's traceback: the exception, at the program's last frame (not the library's)", async (t) => {
  const dir = t.testdir({
    'detector.py': 'import json\n\n\ndef config():\n    return json.loads("{")\n\n\nconfig()\n',
    'broken.py': 'def f(:\n    pass\n',
  })
  t.match(
    printedFailure(stderrOf(t, dir, 'python3', ['detector.py']), dir),
    /^json\.decoder\.JSONDecodeError: Expecting property name .* \(at \.\/detector\.py:5\)$/,
  )
  t.equal(printedFailure(stderrOf(t, dir, 'python3', ['broken.py']), dir), 'SyntaxError: invalid syntax (at ./broken.py:1)')
})

t.test('output that does not end with an error gives none', async (t) => {
  t.equal(printedFailure([], '/'), undefined, 'nothing printed')
  t.equal(
    printedFailure(['Error: the lidar timed out, retrying', 'giving up after 3 tries', ''], '/'),
    undefined,
    'an error the program logged and went on from',
  )
  t.equal(
    printedFailure(['TypeError: x is not a function', '    at f (/robot/a.mjs:1:1)', 'recovered; exiting with 2'], '/'),
    undefined,
    'a stack the program printed itself, then more',
  )
  t.equal(printedFailure(['  indented', 'Shutdown'], '/'), undefined, 'a last word after an indented line, without a traceback frame')
})

t.test('a place outside the working directory stays absolute', async (t) => {
  const lines = [
    'file:///opt/robot/camera.mjs:7',
    'x(',
    '^',
    '',
    "SyntaxError: Unexpected token ')'",
    '    at compileSourceTextModule (node:internal/modules/esm/utils:346:16)',
    '',
    'Node.js v20.20.2',
  ]
  t.equal(printedFailure(lines, '/home/me'), "SyntaxError: Unexpected token ')' (at /opt/robot/camera.mjs:7)")
})
