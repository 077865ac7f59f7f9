/**
 * Start the daemon in the background (`dora-ts up`): a detached `dora-ts daemon` process that
 * survives the terminal closing, with its output in the daemon log. Waits until it answers.
 */
import { spawn } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { ensurePrivateDir } from '../../src/security/private-path.js'
import { runRoot, runtimeDirCheck } from '../../src/transport/run-dir.js'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { DaemonClient, runningDaemonPid } from './client.js'
import { DaemonUnresponsiveError } from './errors.js'
import { daemonPaths } from './paths.js'

const CLI_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js')

export interface UpResult {
  pid: number
  alreadyRunning: boolean
}

export async function launchDaemon(options: { tcp?: string | undefined; timeoutMs?: number } = {}): Promise<UpResult> {
  const paths = daemonPaths()
  // Refuse here, in the user's terminal, a runtime directory we cannot trust (the daemon would
  // refuse it too, but only in its log).
  ensurePrivateDir(runRoot(), runtimeDirCheck(runRoot()))
  const running = runningDaemonPid(paths)
  if (running !== undefined) return { pid: running, alreadyRunning: true }
  ensurePrivateDir(paths.logsRoot, { what: 'log directory', hint: `Remove ${paths.logsRoot} or set DORA_TS_LOG_DIR to a directory of yours.` })
  const out = openSync(paths.daemonLog, 'a', 0o600)
  const args = [CLI_MAIN, 'daemon', ...(options.tcp === undefined ? [] : ['--tcp', options.tcp])]
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out], env: process.env })
  closeSync(out)
  child.unref()
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  while (Date.now() < deadline) {
    const pid = runningDaemonPid(paths)
    if (pid !== undefined) {
      const client = DaemonClient.connect(paths)
      try {
        const pong = await client.request<{ pid: number }>('ping', {}, { timeoutMs: 2000 })
        return { pid: pong.pid, alreadyRunning: pong.pid !== child.pid }
      } catch {
        // Bound but not answering yet: try again.
      } finally {
        client.close()
      }
    }
    const code = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 100))])
    // Our daemon lost the race to another `up`, or failed: the other one may be running.
    if (code !== 'wait' && runningDaemonPid(paths) === undefined) {
      throw new DaemonUnresponsiveError(`the supervisor exited with code ${code} while starting`, { hint: `See ${paths.daemonLog}.` })
    }
  }
  throw new DaemonUnresponsiveError(`the supervisor did not answer within ${(options.timeoutMs ?? 10_000) / 1000} s of starting`, {
    hint: `See ${paths.daemonLog}.`,
  })
}
