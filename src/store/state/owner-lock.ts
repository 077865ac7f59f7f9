/**
 * One dataflow run per state directory at a time. LMDB itself allows many processes, but two
 * supervisors running the same dataflow would interleave commits of the same operators and
 * break "restore = last completed event". The owner writes its pid to `owner.pid`; a pid file
 * left by a process that no longer exists (a SIGKILLed supervisor) is taken over.
 *
 * The CLI also takes the lock, for a moment, while it reads a store no run owns (no other
 * process may open a store while a run commits into it: runtime/state/service.ts says why), so
 * a starting run waits a little for the lock: {@link acquireOwnerLockWaiting}.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { livePidFileEntry, tryAcquirePidFile } from '../../transport/pid-file.js'
import { StateInUseError, StateOpenError, stateErrorFrom } from './errors.js'
import { mkdirFailure } from '../../dir-failure.js'
import { classifyLmdbError } from '../lmdb/errors.js'

export interface OwnerLock {
  release(): void
}

export const OWNER_FILE = 'owner.pid'

/** Who holds the lock: a run (owner of the store while it lives) or a CLI command for a moment. */
export type OwnerRole = 'run' | 'cli'

/**
 * Take the owner lock of the store in `dir`. A `cli` holder (a `dora-ts state` command) is
 * marked as such in the file, so that nobody reports the store "in use by a running dataflow"
 * while a command reads it.
 */
export function acquireOwnerLock(dir: string, role: OwnerRole = 'run'): OwnerLock {
  let result
  try {
    // 0700, parents included: a new `--state-dir` (or `.dora-ts/state`) is as private as the
    // stores in it, whose names say what runs on the robot (issue 13). Existing folders keep
    // their mode: they are the user's.
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    result = tryAcquirePidFile(join(dir, OWNER_FILE), role === 'cli' ? 'cli' : '')
  } catch (err) {
    // A full disk says so, with what to do (a run on a full disk fails here first).
    // (No `dir` for the classification: only ENOSPC/EDQUOT count, not an EIO near full.)
    if (classifyLmdbError(err) === 'disk-full') throw stateErrorFrom(err, { dir, action: 'open' })
    throw new StateOpenError(`cannot make or lock the state store in ${dir}: ${mkdirFailure(dir, err)}`, {
      dir,
      cause: err,
      hint: 'Keep the state on a disk this user can write: dora-ts run --state-dir <folder>, or state_dir: in the dataflow YAML.',
    })
  }
  if (!result.acquired) {
    throw new StateInUseError(`the state store in ${dir} is in use by another dora-ts process (pid ${result.ownerPid})`, {
      dir,
      hint: 'Stop that dataflow first, or run this one with another --state-dir or dataflow name.',
    })
  }
  return result
}

/** The live holder of the owner lock of `dir`, if any: its pid and role. */
export function liveOwnerOf(dir: string): { pid: number; role: OwnerRole } | undefined {
  const file = join(dir, OWNER_FILE)
  const owner = livePidFileEntry(file)
  if (owner === undefined) return undefined
  return { pid: owner.pid, role: owner.tag === 'cli' ? 'cli' : 'run' }
}

/** How long {@link acquireOwnerLockWaiting} waits by default: a CLI read takes well under this. */
export const OWNER_LOCK_WAIT_MS = 3_000

/** {@link acquireOwnerLock}, retrying for up to `waitMs` while another process holds the lock. */
export async function acquireOwnerLockWaiting(dir: string, waitMs = OWNER_LOCK_WAIT_MS, role: OwnerRole = 'run'): Promise<OwnerLock> {
  const deadline = performance.now() + waitMs
  for (;;) {
    try {
      return acquireOwnerLock(dir, role)
    } catch (err) {
      if (!(err instanceof StateInUseError) || performance.now() >= deadline) throw err
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}
