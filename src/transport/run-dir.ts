/**
 * Per-run directories for `ipc://` endpoints. Each run gets its own directory, mode 0700, so
 * only the user who started the supervisor can connect to its sockets. Directories of runs
 * whose supervisor died (even by SIGKILL) are swept the next time a run starts.
 */
import { mkdirSync, readdirSync, rmSync, statSync, chmodSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { DoraError, registerErrorClass } from '../errors.js'
import { InsecurePathError } from '../security/errors.js'
import { ensurePrivateDir, checkPrivateDir } from '../security/private-path.js'
import { mkdirFailure } from '../dir-failure.js'

/** Unix socket paths are limited to 107 bytes (sun_path); we stay well under. */
const MAX_SOCKET_PATH = 100

export class RunDirError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_RUN_DIR', message, options)
  }
}
registerErrorClass(RunDirError)

/** How {@link ensurePrivateDir} names the runtime directory and says what to do. */
export function runtimeDirCheck(root: string): { what: string; hint: string } {
  return {
    what: 'runtime directory',
    hint: `Remove ${root} if you can (or ask an administrator: another user made it), or set DORA_TS_RUNTIME_DIR to a directory of yours; dora-ts then creates its own, mode 0700.`,
  }
}

/**
 * Refuse to use a runtime directory another user owns, or a symlink, before connecting to a
 * socket in it (a fake supervisor there would receive our commands). A missing one is fine:
 * nothing runs.
 */
export function checkRunRoot(root: string = runRoot()): void {
  checkPrivateDir(root, runtimeDirCheck(root))
}

/** The directory that holds every run directory of this user. */
export function runRoot(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : userInfo().username
  const base = process.env['DORA_TS_RUNTIME_DIR'] ?? process.env['XDG_RUNTIME_DIR'] ?? tmpdir()
  return join(base, `dora-ts-${uid}`)
}

export interface RunDir {
  path: string
  /** `ipc://` endpoint the supervisor binds for its custom nodes. */
  nodeEndpoint: string
  /** Remove the directory and its sockets. Idempotent. */
  remove(): void
}

/** Create a fresh private run directory for the calling process. */
export function createRunDir(root: string = runRoot()): RunDir {
  try {
    // Created 0700, or checked (ours, not a symlink) and set to 0700: another user may have
    // pre-created it in a shared /tmp to plant a socket of their own.
    ensurePrivateDir(root, runtimeDirCheck(root))
  } catch (cause) {
    if (cause instanceof InsecurePathError) throw cause
    throw new RunDirError(`cannot create the runtime directory ${root}: ${mkdirFailure(root, cause)}`, {
      hint: 'Set DORA_TS_RUNTIME_DIR to a writable directory on a local filesystem.',
      cause,
    })
  }
  sweepStaleRunDirs(root)
  const path = join(root, `run-${process.pid}-${randomBytes(4).toString('hex')}`)
  mkdirSync(path, { mode: 0o700 })
  chmodSync(path, 0o700)
  const socket = join(path, 'nodes.sock')
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    rmSync(path, { recursive: true, force: true })
    throw new RunDirError(`the socket path ${socket} is too long for a Unix socket (over ${MAX_SOCKET_PATH} bytes)`, {
      hint: 'Set DORA_TS_RUNTIME_DIR to a shorter directory, e.g. /tmp.',
    })
  }
  let removed = false
  return {
    path,
    nodeEndpoint: `ipc://${socket}`,
    remove() {
      if (removed) return
      removed = true
      rmSync(path, { recursive: true, force: true })
    },
  }
}

/** Remove run directories whose owning process no longer exists. */
export function sweepStaleRunDirs(root: string = runRoot()): string[] {
  const removed: string[] = []
  let entries: string[]
  try {
    entries = readdirSync(root)
  } catch {
    return removed
  }
  for (const name of entries) {
    const match = /^run-(\d+)-[0-9a-f]+$/.exec(name)
    if (match === null) continue
    const pid = Number(match[1])
    if (isAlive(pid)) continue
    const dir = join(root, name)
    try {
      if (!statSync(dir).isDirectory()) continue
      rmSync(dir, { recursive: true, force: true })
      removed.push(dir)
    } catch {
      // Another supervisor swept it first: nothing to do.
    }
  }
  return removed
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
