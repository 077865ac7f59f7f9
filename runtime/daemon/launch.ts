/**
 * Start the daemon in the background (`dora-ts up`): a detached `dora-ts daemon` process that
 * survives the terminal closing, with its output in the daemon log. Waits until it answers.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { ensurePrivateDir } from '../../src/security/private-path.js'
import { runRoot, runtimeDirCheck } from '../../src/transport/run-dir.js'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { DaemonClient, runningDaemonPid } from './client.js'
import { DaemonUnresponsiveError } from './errors.js'
import { daemonPaths, ensureLogsRoot } from './paths.js'
import { logMaxBytes, rotateIfFull } from './log-files.js'

const CLI_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js')

/** How long `up` waits for a new supervisor to answer: start-up is ~1 s, more on a loaded machine. */
export const DEFAULT_UP_TIMEOUT_MS = 30_000
/** How long a supervisor that did not come up gets to end on SIGTERM before SIGKILL. */
const GIVE_UP_TERM_MS = 2_000

export interface UpResult {
  pid: number
  alreadyRunning: boolean
}

export async function launchDaemon(options: { tcp?: string | undefined; timeoutMs?: number } = {}): Promise<UpResult> {
  const paths = daemonPaths()
  const timeoutMs = options.timeoutMs ?? DEFAULT_UP_TIMEOUT_MS
  // Refuse here, in the user's terminal, a runtime directory we cannot trust (the daemon would
  // refuse it too, but only in its log).
  ensurePrivateDir(runRoot(), runtimeDirCheck(runRoot()))
  const running = runningDaemonPid(paths)
  if (running !== undefined) return { pid: running, alreadyRunning: true }
  ensureLogsRoot(paths.logsRoot)
  // Appended to by every supervisor started here: bounded as a node's log is, at each start.
  rotateIfFull(paths.daemonLog, logMaxBytes())
  const out = openSync(paths.daemonLog, 'a', 0o600)
  const args = [CLI_MAIN, 'daemon', ...(options.tcp === undefined ? [] : ['--tcp', options.tcp])]
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out], env: process.env })
  closeSync(out)
  child.unref()
  let exitCode: number | null | undefined
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code
      resolve()
    })
    // It could not be started at all (no 'exit' follows): the loop below reports it.
    child.once('error', () => {
      exitCode ??= null
      resolve()
    })
  })
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const pid = runningDaemonPid(paths)
    if (pid !== undefined) {
      const client = DaemonClient.connect(paths)
      try {
        const pong = await client.request<{ pid: number }>('ping', {}, { timeoutMs: Math.min(2000, Math.max(100, deadline - performance.now())) })
        return { pid: pong.pid, alreadyRunning: pong.pid !== child.pid }
      } catch {
        // Bound but not answering yet: try again.
      } finally {
        client.close()
      }
    }
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 100))])
    // Our daemon lost the race to another `up`, or failed: the other one may be running.
    if (exitCode !== undefined && runningDaemonPid(paths) === undefined) {
      throw new DaemonUnresponsiveError(`the supervisor exited with code ${exitCode} while starting`, { hint: `See ${paths.daemonLog}.` })
    }
  }
  const seconds = timeoutMs / 1000
  if (exitCode !== undefined) {
    // Ours gave way to another supervisor, and that one does not answer.
    throw new DaemonUnresponsiveError(`the supervisor (pid ${runningDaemonPid(paths) ?? '?'}) did not answer within ${seconds} s`, {
      hint: `See ${paths.daemonLog}; if it is stuck, stop it with dora-ts destroy (or kill that pid) and run dora-ts up again.`,
    })
  }
  // Ours is still starting, or stuck. Left alone it would come up later with nobody knowing
  // (a torture run found one outliving everything after `up` had reported failure): stop it, so
  // a failed `up` leaves nothing behind and the next `up` starts clean.
  await stopProcessGroup(child, exited)
  throw new DaemonUnresponsiveError(`the supervisor (pid ${child.pid}) did not answer within ${seconds} s of starting, so it was stopped`, {
    hint: `See ${paths.daemonLog}. On a heavily loaded machine give it longer: dora-ts up --timeout ${Math.max(60, seconds * 2)}s.`,
  })
}

/** SIGTERM the detached child's process group, SIGKILL it if it lingers; resolves once it exited. */
async function stopProcessGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      // Detached, so the child leads its own group: the group takes anything it started too.
      process.kill(-child.pid!, signal)
    } catch {
      // Already gone.
    }
  }
  // Unreferenced when it was spawned (a supervisor outlives `up`): hold the loop open until it is gone.
  child.ref()
  signalGroup('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const lingering = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), GIVE_UP_TERM_MS)))])
  clearTimeout(timer)
  if (lingering) {
    signalGroup('SIGKILL')
    await exited
  }
}
