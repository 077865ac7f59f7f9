/**
 * One dataflow run per state directory at a time. LMDB itself allows many processes, but two
 * supervisors running the same dataflow would interleave commits of the same operators and
 * break "restore = last completed event". The owner writes its pid to `owner.pid`; a pid file
 * left by a process that no longer exists (a SIGKILLed supervisor) is taken over.
 */
import { openSync, writeSync, closeSync, readFileSync, rmSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { isAlive } from '../transport/run-dir.js'
import { StateInUseError, StateOpenError } from './errors.js'

export interface OwnerLock {
  release(): void
}

export function acquireOwnerLock(dir: string): OwnerLock {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'owner.pid')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      let released = false
      return {
        release() {
          if (released) return
          released = true
          rmSync(file, { force: true })
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StateOpenError(`cannot lock the state store in ${dir}: ${(err as Error).message}`, { dir, cause: err })
      }
    }
    const owner = Number.parseInt(readFileSync(file, 'utf8').trim(), 10)
    if (Number.isInteger(owner) && isAlive(owner)) {
      throw new StateInUseError(`the state store in ${dir} is in use by another dora-ts process (pid ${owner})`, {
        dir,
        hint: 'Stop that dataflow first, or run this one with another --state-dir or dataflow name.',
      })
    }
    // Left behind by a process that died: take it over.
    rmSync(file, { force: true })
  }
  throw new StateOpenError(`cannot lock the state store in ${dir}: another process keeps taking the lock`, { dir })
}
