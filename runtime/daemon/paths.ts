/**
 * Where the supervisor daemon keeps its control socket, pid file and logs. Sockets and the pid
 * file live in the user's private runtime directory (mode 0700, see run-dir.ts); logs live in a
 * persistent per-user directory so `dora-ts logs` works after a run, or the daemon, is gone.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { runRoot } from '../../src/transport/run-dir.js'

export interface DaemonPaths {
  /** Private directory of the daemon (inside the 0700 runtime root). */
  dir: string
  /** `ipc://` endpoint of the control socket. */
  controlEndpoint: string
  controlSocket: string
  pidFile: string
  /** Root of per-run logs: `<logsRoot>/<dataflow>/<run>/<node>.log`. */
  logsRoot: string
  /** The daemon's own stdout/stderr. */
  daemonLog: string
}

export function daemonPaths(): DaemonPaths {
  const dir = join(runRoot(), 'daemon')
  const stateHome = process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state')
  const logsRoot = process.env['DORA_TS_LOG_DIR'] ?? join(stateHome, 'dora-ts', 'logs')
  const controlSocket = join(dir, 'control.sock')
  return {
    dir,
    controlEndpoint: process.env['DORA_TS_SUPERVISOR'] ?? `ipc://${controlSocket}`,
    controlSocket,
    pidFile: join(dir, 'daemon.pid'),
    logsRoot,
    daemonLog: join(logsRoot, 'daemon.log'),
  }
}
