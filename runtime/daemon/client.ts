/**
 * The CLI's side of the control plane to the daemon (a {@link ControlClient}).
 * Before connecting it checks the pid file, so "no supervisor" is a clear error at once rather
 * than a hang, and a pid file or socket left by a dead daemon is cleaned up on the way.
 */
import { existsSync, rmSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import type { RequestOptions } from '../control/client.js'
import { livePidFileOwner } from '../../src/transport/pid-file.js'
import { ControlClient } from '../control/client.js'
import { DaemonNotRunningError } from './errors.js'
import { daemonPaths, type DaemonPaths } from './paths.js'
import { curveClientOptions } from '../../src/security/curve-keys.js'
import { checkPrivateDir } from '../../src/security/private-path.js'
import { checkRunRoot, isAlive } from '../../src/transport/run-dir.js'

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

/** How often a request to the local daemon checks that its process still exists. */
const PID_CHECK_MS = 200
/** After the daemon's process is gone, how long a reply it sent before may still take to be read. */
const DEATH_GRACE_MS = 500

/** How long the TCP probe of a remote supervisor may take before the request is tried anyway. */
const PROBE_TIMEOUT_MS = 3000

/**
 * Is anything listening at `tcp://host:port`? ZeroMQ retries a refused connection silently, so
 * a wrong port or a supervisor that is down looked like a busy one for the whole request
 * timeout (issue 14): a plain TCP connect says at once. Resolves to the error code when the
 * connection is refused or the host cannot be reached; undefined when it connects or the probe
 * is inconclusive (a timeout: the request then reports what it sees).
 */
export function probeTcp(endpoint: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const match = /^tcp:\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(endpoint)
  if (match === null) return Promise.resolve(undefined)
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: match[1]!, port: Number(match[2]) })
    const done = (result: string | undefined): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(undefined), timeoutMs)
    socket.once('connect', () => done(undefined))
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message))
  })
}

/**
 * A signal that aborts with `error()` once process `pid` is gone: checked every PID_CHECK_MS;
 * once it is gone, a reply already on its way still gets DEATH_GRACE_MS to be read. Call
 * `done` when the request settled.
 */
export function abortWhenGone(pid: number, error: () => Error): { signal: AbortSignal; done: () => void } {
  const gone = new AbortController()
  let grace: ReturnType<typeof setTimeout> | undefined
  const check = setInterval(() => {
    if (isAlive(pid) || grace !== undefined) return
    grace = setTimeout(() => gone.abort(error()), DEATH_GRACE_MS)
  }, PID_CHECK_MS)
  return {
    signal: gone.signal,
    done: () => {
      clearInterval(check)
      clearTimeout(grace)
    },
  }
}

/** The CLI's connection to the supervisor daemon. */
export class DaemonClient extends ControlClient {
  #probed: Promise<void> | undefined
  readonly #endpoint: string

  protected constructor(endpoint: string, who: string, pid: number | undefined, hint?: string, curve?: ReturnType<typeof curveClientOptions>) {
    super(endpoint, who, pid, hint, curve)
    this.#endpoint = endpoint
  }

  override request<T>(command: string, body: object = {}, options: RequestOptions = {}): Promise<T> {
    if (!this.#endpoint.startsWith('tcp://'))
      return this.pid === undefined ? super.request(command, body, options) : this.#whileAlive(this.pid, command, body, options)
    this.#probed ??= probeTcp(this.#endpoint).then((code) => {
      if (code === undefined) return
      throw new DaemonNotRunningError(`no dora-ts supervisor answers at ${this.#endpoint} (DORA_TS_SUPERVISOR): ${code}`, {
        hint: `Check the host and port in DORA_TS_SUPERVISOR, and that the supervisor there was started with dora-ts up --tcp PORT (add --host ADDRESS to listen beyond 127.0.0.1).`,
      })
    })
    return this.#probed.then(() => super.request(command, body, options))
  }

  /**
   * A request to the local daemon that ends as DORA_DAEMON_NOT_RUNNING once its process is gone:
   * a daemon SIGKILLed just before (still dying when the pid file was checked) never reads the
   * request, and `destroy` used to wait its whole 120 s for it.
   */
  #whileAlive<T>(pid: number, command: string, body: object, options: RequestOptions): Promise<T> {
    const gone = abortWhenGone(pid, () => new DaemonNotRunningError(`the supervisor (pid ${pid}) ended before it answered "${command}"`, { hint: UP_HINT }))
    const signal = options.signal === undefined ? gone.signal : AbortSignal.any([options.signal, gone.signal])
    return super.request<T>(command, body, { ...options, signal }).finally(gone.done)
  }

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
