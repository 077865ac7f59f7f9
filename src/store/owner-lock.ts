/**
 * One dataflow run per state directory at a time. LMDB itself allows many processes, but two
 * supervisors running the same dataflow would interleave commits of the same operators and
 * break "restore = last completed event". The owner writes its pid to `owner.pid`; a pid file
 * left by a process that no longer exists (a SIGKILLed supervisor) is taken over.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tryAcquirePidFile } from '../transport/pid-file.js'
import { StateInUseError, StateOpenError } from './errors.js'

export interface OwnerLock {
  release(): void
}

export const OWNER_FILE = 'owner.pid'

export function acquireOwnerLock(dir: string): OwnerLock {
  let result
  try {
    mkdirSync(dir, { recursive: true })
    result = tryAcquirePidFile(join(dir, OWNER_FILE))
  } catch (err) {
    throw new StateOpenError(`cannot lock the state store in ${dir}: ${(err as Error).message}`, { dir, cause: err })
  }
  if (!result.acquired) {
    throw new StateInUseError(`the state store in ${dir} is in use by another dora-ts process (pid ${result.ownerPid})`, {
      dir,
      hint: 'Stop that dataflow first, or run this one with another --state-dir or dataflow name.',
    })
  }
  return result
}
