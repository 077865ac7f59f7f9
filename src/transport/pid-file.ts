/**
 * Exclusive pid files: who owns a resource (a state directory, the supervisor daemon), such
 * that a file left by a process that died, even by SIGKILL, is taken over rather than
 * blocking forever. Creation uses O_EXCL, so of two processes racing only one wins.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { isAlive } from './run-dir.js'

export type PidFileResult = { acquired: true; release(): void } | { acquired: false; ownerPid: number }

export function tryAcquirePidFile(file: string): PidFileResult {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      let released = false
      return {
        acquired: true,
        release() {
          if (released) return
          released = true
          // Only remove it if it is still ours (a stale-lock takeover may have replaced it).
          if (readPidFile(file) === process.pid) rmSync(file, { force: true })
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = readPidFile(file)
    if (owner !== undefined && isAlive(owner)) return { acquired: false, ownerPid: owner }
    // Left behind by a process that died (or half-written by one): take it over.
    rmSync(file, { force: true })
  }
  const owner = readPidFile(file)
  return { acquired: false, ownerPid: owner ?? 0 }
}

/** The pid in a pid file, or undefined when it is missing or unreadable. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
