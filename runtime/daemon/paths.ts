/**
 * Where the supervisor daemon keeps its control socket, pid file and logs. Sockets and the pid
 * file live in the user's private runtime directory (mode 0700, see run-dir.ts); logs live in a
 * persistent per-user directory so `dora-ts logs` works after a run, or the daemon, is gone.
 */
import { join } from 'node:path'
import { mkdirFailure } from '../../src/dir-failure.js'
import { stateHome } from '../../src/state-home.js'
import { InsecurePathError } from '../../src/security/errors.js'
import { ensurePrivateDir } from '../../src/security/private-path.js'
import { runRoot } from '../../src/transport/run-dir.js'
import { LogDirError } from './errors.js'

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
  const explicit = process.env['DORA_TS_LOG_DIR']
  const logsRoot = explicit !== undefined && explicit !== '' ? explicit : join(stateHome(), 'dora-ts', 'logs')
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

/**
 * Make sure the log folder `logsRoot` is there and this user's alone (ensurePrivateDir);
 * throws LogDirError saying why when it cannot be made, InsecurePathError when it is not ours.
 */
export function ensureLogsRoot(logsRoot: string): void {
  const elsewhere = 'set DORA_TS_LOG_DIR (or XDG_STATE_HOME) to a folder of yours'
  try {
    ensurePrivateDir(logsRoot, { what: 'log directory', hint: `Remove ${logsRoot} or ${elsewhere}.` })
  } catch (err) {
    if (err instanceof InsecurePathError) throw err
    throw new LogDirError(`cannot make the log directory ${logsRoot}: ${mkdirFailure(logsRoot, err)}`, {
      hint: `Give dora-ts a writable place for its logs: ${elsewhere}.`,
      cause: err,
    })
  }
}
