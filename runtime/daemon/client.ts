/**
 * The CLI's side of the control plane: a DEALER socket to the daemon's control endpoint.
 * Before connecting it checks the pid file, so "no supervisor" is a clear error at once rather
 * than a hang, and a pid file or socket left by a dead daemon is cleaned up on the way.
 */
import { existsSync, rmSync } from 'node:fs'
import { Dealer } from 'zeromq'
import { DoraError } from '../../src/errors.js'
import { decodeControlReply, encodeControlRequest } from '../../src/protocol/control-codec.js'
import { readPidFile } from '../../src/transport/pid-file.js'
import { isAlive } from '../../src/transport/run-dir.js'
import { DaemonNotRunningError, DaemonUnresponsiveError } from './errors.js'
import { daemonPaths, type DaemonPaths } from './paths.js'

export const UP_HINT = 'Start one with dora-ts up (or pass --auto-up to dora-ts start).'

/** The pid of the running daemon, cleaning up the leftovers of a dead one. */
export function runningDaemonPid(paths: DaemonPaths = daemonPaths()): number | undefined {
  const pid = readPidFile(paths.pidFile)
  if (pid !== undefined && isAlive(pid)) return pid
  // A dead daemon's pid file and socket: remove them so nothing waits on them.
  if (existsSync(paths.pidFile) || existsSync(paths.controlSocket)) {
    rmSync(paths.pidFile, { force: true })
    rmSync(paths.controlSocket, { force: true })
  }
  return undefined
}

export class DaemonClient {
  readonly pid: number | undefined
  readonly #socket: Dealer
  readonly #endpoint: string
  #nextId = 1n

  private constructor(socket: Dealer, endpoint: string, pid: number | undefined) {
    this.#socket = socket
    this.#endpoint = endpoint
    this.pid = pid
  }

  /** Connect to the running daemon; throws DaemonNotRunningError when there is none. */
  static connect(paths: DaemonPaths = daemonPaths()): DaemonClient {
    const remote = process.env['DORA_TS_SUPERVISOR'] !== undefined
    const pid = remote ? undefined : runningDaemonPid(paths)
    if (!remote && pid === undefined) {
      throw new DaemonNotRunningError('no dora-ts supervisor is running', { hint: UP_HINT })
    }
    const socket = new Dealer({ linger: 0 })
    socket.connect(paths.controlEndpoint)
    return new DaemonClient(socket, paths.controlEndpoint, pid)
  }

  /** Send one command and wait for its reply (at most `timeoutMs`). */
  async request<T>(command: string, body: object = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.#nextId++
    await this.#socket.send(encodeControlRequest({ id, command, body: JSON.stringify(body) }))
    const deadline = setTimeout(() => this.#socket.close(), timeoutMs)
    try {
      for (;;) {
        let frames: Buffer[]
        try {
          frames = await this.#socket.receive()
        } catch {
          throw new DaemonUnresponsiveError(`the supervisor${this.pid === undefined ? '' : ` (pid ${this.pid})`} did not answer "${command}" within ${timeoutMs / 1000} s on ${this.#endpoint}`, {
            hint: 'It may be busy or hung: check dora-ts logs, or restart it with dora-ts destroy and dora-ts up.',
          })
        }
        const reply = decodeControlReply(frames[0]!)
        if (reply.id !== id) continue
        if (reply.type === 'ok') return JSON.parse(reply.body) as T
        if (reply.type === 'error') {
          throw new DoraError(reply.code, reply.message, { hint: reply.hint === '' ? undefined : reply.hint })
        }
        throw new DaemonUnresponsiveError(`the supervisor answered "${command}" with a reply this CLI does not understand`, {
          hint: 'The CLI and the supervisor may be different dora-ts versions: run dora-ts destroy, then dora-ts up.',
        })
      }
    } finally {
      clearTimeout(deadline)
    }
  }

  close(): void {
    if (!this.#socket.closed) this.#socket.close()
  }
}
