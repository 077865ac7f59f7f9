/**
 * dora-ts under a low open-file limit (`ulimit -n`, as a systemd unit's LimitNOFILE or a
 * container sets it), for real: each command runs in a shell that lowers its own limit first.
 * Before: a CLI under 64 printed EMFILE with a stack trace and "This is a bug"; a run of 80
 * custom nodes and 40 operators under 256 died of an unhandled 'error' event at its first
 * failed spawn, or of libzmq's abort on the next connection.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, ROOT } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'
import { sourceDir } from '../fixtures/paths.js'

const OUT_OF_FDS = join(sourceDir(import.meta.url), '..', 'runtime', 'supervisor', 'fixtures', 'out-of-fds.mjs')

interface Ran {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Run `node ...args` with its open-file limit lowered to `limit`; killed after `timeoutMs`. */
function underLimit(limit: number, args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', `ulimit -n ${limit} && exec "$@"`, 'sh', process.execPath, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Neither a stack trace nor the bug line: the message a user should get, and only that. */
function noStackTrace(t: Test, stderr: string): void {
  t.notMatch(stderr, /^\s+at /m, 'no stack trace')
  t.notMatch(stderr, /This is a bug/, 'not called a bug')
}

t.test('a command under a limit too low to load it says so, and how to raise it', async (t) => {
  const ran = await underLimit(64, [CLI, 'run', join(ROOT, 'dataflow.yml'), '--stop-after', '1s'])
  t.equal(ran.code, 1, ran.stderr)
  t.match(ran.stderr, /^error: dora-ts needs at least 128 open files, and this process may have 64 \(`ulimit -n`\)\n/)
  t.match(ran.stderr, /`ulimit -n 65536` in its shell.*`LimitNOFILE=65536` in a systemd unit/)
  noStackTrace(t, ran.stderr)
  const version = await underLimit(64, [CLI, '--version'])
  t.equal(version.code, 0, '--version still answers')
})

t.test('a dataflow bigger than the limit allows is refused before any node starts', async (t) => {
  const dir = t.testdir({})
  const nodes = Array.from({ length: 30 }, (_, i) => `  - id: sink${i}\n    path: ${fixture('sink.mjs')}\n`).join('')
  const operators = Array.from({ length: 20 }, (_, i) => `      - id: op${i}\n        javascript: ${fixture('counter.mjs')}\n`).join('')
  const file = join(dir, 'big.yml')
  writeFileSync(file, `nodes:\n${nodes}  - id: ops\n    operators:\n${operators}`)
  const ran = await underLimit(200, [CLI, 'run', file, '--state-dir', join(dir, 'state')])
  t.equal(ran.code, 1, ran.stderr)
  t.match(ran.stderr, /error: dataflow "big" was not started: its 30 custom node\(s\) and 20 operator\(s\) need about \d+ open files in the supervisor/)
  t.match(ran.stderr, /it may have 200 \(`ulimit -n`\)\nRaise the open-file limit/)
  t.notMatch(ran.stdout, /\[sink\d+\]/, 'no node ran')
  noStackTrace(t, ran.stderr)
})

t.test('a spawn through the reaper with no descriptor left fails as a spawn does, with EMFILE, and throws nothing', async (t) => {
  const ran = await underLimit(256, [OUT_OF_FDS, 'reaper'])
  t.equal(ran.code, 0, ran.stderr)
  t.same(JSON.parse(ran.stdout), { code: 'EMFILE' })
})

t.test('a node that cannot be started again for want of descriptors fails, the run says why once, and the supervisor lives', async (t) => {
  const ran = await underLimit(256, [OUT_OF_FDS, 'run', t.testdir({})])
  t.equal(ran.code, 0, `the process ended by itself: ${ran.stderr}`)
  const { result, logs } = JSON.parse(ran.stdout) as { result: { units: Array<{ unit: string; status: string; error: string }> }; logs: string[] }
  t.match(result.units, [{ unit: 'quits', status: 'failed', error: /^could not start .*quits\.sh: spawn \/bin\/sh EMFILE$/ }])
  const notices = logs.filter((l) => /ran out of file descriptors/.test(l))
  t.equal(notices.length, 1, 'said once')
  t.match(notices[0], /^the supervisor ran out of file descriptors \(limit 256, `ulimit -n`\): .*Raise the open-file limit/)
})
