/**
 * Small CLI defects a newcomer hit (issue 14, defect 12): `up --tcp` on a running supervisor
 * ignored the port silently; a closed DORA_TS_SUPERVISOR port made every command wait its full
 * request timeout. One supervisor serves the file.
 */
import t from 'tap'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { alive, runCli, shortRuntimeDir, type CliResult } from './fixtures/cli.js'
import { readPidFile } from '../../src/transport/pid-file.js'

const runtimeDir = shortRuntimeDir(t)
const env = { DORA_TS_RUNTIME_DIR: runtimeDir, DORA_TS_LOG_DIR: join(runtimeDir, 'logs'), XDG_CONFIG_HOME: join(runtimeDir, 'config') }
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra } })

t.teardown(async () => {
  const pid = readPidFile(join(runtimeDir, `dora-ts-${process.getuid!()}`, 'daemon', 'daemon.pid'))
  await cli(['destroy'])
  if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL')
})

/** A TCP port nothing listens on: bound by us, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('up --tcp on a running supervisor says the port was not applied and exits 1 (it was ignored)', async (t) => {
  const up = await cli(['up'])
  t.equal(up.code, 0, up.stderr)
  const port = await closedPort()
  const again = await cli(['up', '--tcp', String(port)])
  t.equal(again.code, 1, again.stderr)
  t.match(
    again.stderr,
    new RegExp(`the supervisor is already running \\(pid \\d+\\); --tcp ${port} was not applied[\\s\\S]*dora-ts destroy[\\s\\S]*dora-ts up --tcp ${port}`),
  )
  const plain = await cli(['up'])
  t.equal(plain.code, 0, 'a plain up on a running supervisor is still fine')
  t.match(plain.stderr, /already running/)
})

t.test('a closed DORA_TS_SUPERVISOR port fails at once with what to check (it waited 10 s)', async (t) => {
  t.equal((await cli(['keys'])).code, 0)
  const port = await closedPort()
  const list = await cli(['list'], { DORA_TS_SUPERVISOR: `tcp://127.0.0.1:${port}` })
  t.equal(list.code, 1)
  t.match(list.stderr, new RegExp(`no dora-ts supervisor answers at tcp://127\\.0\\.0\\.1:${port} \\(DORA_TS_SUPERVISOR\\): ECONNREFUSED`))
  t.match(list.stderr, /dora-ts up --tcp PORT/)
  t.notMatch(list.stderr, /did not answer within/, 'not the request timeout')
})
