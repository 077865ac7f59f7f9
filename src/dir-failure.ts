/**
 * Why a folder could not be made, in words a user can act on; the nearest part of a path that
 * exists. Node's `mkdirSync(path, { recursive: true })` reports a parent on a read-only file
 * system as ENOENT for the path itself ("no such file or directory, mkdir
 * '/opt/robot/.dora-ts/state/pipeline'"): it gives the first error it met, not the one that
 * stopped it. A robot's root file system is often read-only, and the state folder sits beside
 * the dataflow by default, so this looks at the nearest part of the path that exists instead.
 *
 * @module
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { errorMessage } from './errors.js'

/**
 * Why `path` could not be made (a mkdir with parents threw `err`): the nearest part of the path
 * that exists is on a read-only file system, not writable by this user, or not a folder;
 * otherwise `err`'s own message.
 *
 * @example
 * ```ts
 * mkdirFailure('/opt/robot/.dora-ts/state', err) // '/opt/robot is on a read-only file system'
 * ```
 */
export function mkdirFailure(path: string, err: unknown): string {
  const nearest = nearestExisting(path)
  if (nearest === undefined) return errorMessage(err)
  const { path: existing, stats } = nearest
  if (!stats.isDirectory()) return `${existing} is a file, not a folder`
  try {
    accessSync(existing, constants.W_OK)
  } catch (accessErr) {
    const code = (accessErr as NodeJS.ErrnoException).code
    if (code === 'EROFS') return `${existing} is on a read-only file system`
    if (code === 'EACCES' || code === 'EPERM') return `${existing} is not writable by this user`
  }
  return errorMessage(err)
}

/** `path` itself, or the nearest folder above it, whichever exists first, with its stats. */
export function nearestExisting(path: string): { path: string; stats: Stats } | undefined {
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      return { path: at, stats: statSync(at) }
    } catch {
      if (dirname(at) === at) return undefined
    }
  }
}
