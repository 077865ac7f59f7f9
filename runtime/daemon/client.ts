/**
 * The CLI's side of the control plane to the daemon (a {@link ControlClient}).
 * Before connecting it checks the pid file, so "no supervisor" is a clear error at once rather
 * than a hang, and a pid file or socket left by a dead daemon is cleaned up on the way.
 */
import { existsSync, rmSync } from 'node:fs'
import { livePidFileOwner } from '../../src/transport/pid-file.js'
import { ControlClient } from '../control/client.js'
import { DaemonNotRunningError } from './errors.js'
import { daemonPaths, type DaemonPaths } from './paths.js'
import { curveClientOptions } from '../../src/security/curve-keys.js'
import { checkPrivateDir } from '../../src/security/private-path.js'
import { checkRunRoot } from '../../src/transport/run-dir.js'

export const UP_HINT = 'Start one with dora-ts up (or pass --auto-up to dora-ts start).'

/** The pid of the running daemon, cleaning up the leftovers of a dead one. */
export function runningDaemonPid(paths: DaemonPaths = daemonPaths()): number | undefined {
  const pid = livePidFileOwner(paths.pidFile)
  if (pid !== undefined) return pid
  // A dead daemon's pid file and socket: remove them so nothing waits on them.
  if (existsSync(paths.pidFile) || existsSync(paths.controlSocket)) {
    rmSync(paths.pidFile, { force: true })
    rmSync(paths.controlSocket, { force: true })
  }
  return undefined
}

/** The CLI's connection to the supervisor daemon. */
export class DaemonClient extends ControlClient {
  /** Connect to the running daemon; throws DaemonNotRunningError when there is none. */
  static connect(paths: DaemonPaths = daemonPaths()): DaemonClient {
    const remote = process.env['DORA_TS_SUPERVISOR'] !== undefined
    // Before trusting a pid file or a socket: is the directory ours? (issue 13: a pre-created
    // /tmp/dora-ts-<uid> let another user's fake supervisor receive our `start`.)
    if (!remote) {
      checkRunRoot()
      checkPrivateDir(paths.dir, { what: 'daemon directory' })
    }
    const pid = remote ? undefined : runningDaemonPid(paths)
    if (!remote && pid === undefined) {
      throw new DaemonNotRunningError('no dora-ts supervisor is running', { hint: UP_HINT })
    }
    const who = `the supervisor${pid === undefined ? '' : ` (pid ${pid})`}`
    if (!paths.controlEndpoint.startsWith('tcp://')) return new DaemonClient(paths.controlEndpoint, who, pid)
    // TCP: authenticated with CURVE; an unknown key gets no answer at all, hence the hint.
    return new DaemonClient(
      paths.controlEndpoint,
      who,
      pid,
      "Over TCP this also happens when the supervisor does not allow this CLI: on its machine run dora-ts keys allow <this CLI's client public key> (dora-ts keys shows it), and check DORA_TS_SUPERVISOR_KEY.",
      curveClientOptions(),
    )
  }
}
