/**
 * DaemonClient against a supervisor that dies while a request waits for it. The torture suite
 * found `dora-ts destroy` waiting its whole 120 s after a SIGKILLed supervisor: the pid was
 * still alive when the CLI checked it, and the request went to a socket nobody would read. The
 * client now watches the pid while it waits. Here a real process plays the supervisor: it takes
 * the daemon's pid file, binds its control socket, reads the request and never answers; the test
 * SIGKILLs it once the request has arrived.
 */
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { DaemonClient } from '../../../runtime/daemon/client.js'
import { daemonPaths } from '../../../runtime/daemon/paths.js'
import { runRoot } from '../../../src/transport/run-dir.js'
import { shortRuntimeDir } from '../../e2e/fixtures/cli.js'
import { ROOT } from '../../fixtures/paths.js'

/** A silent supervisor: pid file + control socket, prints `ready`, then `got` for each request. */
const SILENT_SUPERVISOR = `
import { Router } from 'zeromq'
import { tryAcquirePidFile } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'transport', 'pid-file.js')).href)}
const [pidFile, endpoint] = process.argv.slice(1)
if (!tryAcquirePidFile(pidFile).acquired) throw new Error('pid file taken')
const router = new Router({ linger: 0 })
await router.bind(endpoint)
console.log('ready')
for await (const _ of router) console.log('got')
`

t.test('a request to a supervisor SIGKILLed before it answers ends as not running, not after the request timeout', async (t) => {
  // The daemon's paths come from the environment: a private runtime root of this test's own.
  process.env['DORA_TS_RUNTIME_DIR'] = shortRuntimeDir(t)
  delete process.env['DORA_TS_SUPERVISOR']
  mkdirSync(runRoot(), { mode: 0o700 })
  const paths = daemonPaths()
  mkdirSync(paths.dir, { mode: 0o700 })

  const child = spawn(process.execPath, ['--input-type=module', '-e', SILENT_SUPERVISOR, paths.pidFile, paths.controlEndpoint], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const lines: string[] = []
  let heard: (() => void) | undefined
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter((l) => l !== ''))
    heard?.()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const line = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (lines.includes(text)) resolve()
      }
      heard = check
      void exited.then(() => reject(new Error(`the silent supervisor exited before it printed "${text}"`)))
      check()
    })

  await line('ready')
  const client = DaemonClient.connect(paths)
  t.teardown(() => client.close())
  t.equal(client.pid, child.pid, 'the client found the supervisor through its pid file')
  // Long enough that the old behaviour (wait for the timeout) fails the assertion below.
  const request = client.request('destroy', {}, { timeoutMs: 60_000 })
  request.catch(() => {})
  await line('got')
  child.kill('SIGKILL')
  await exited
  await t.rejects(request, { code: 'DORA_DAEMON_NOT_RUNNING', message: new RegExp(`pid ${child.pid}\\) ended before it answered "destroy"`) })
})
