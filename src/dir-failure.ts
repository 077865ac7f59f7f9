/**
 * Why a folder could not be made, in words a user can act on. Node's `mkdirSync(path,
 * { recursive: true })` reports a parent on a read-only file system as ENOENT for the path
 * itself ("no such file or directory, mkdir '/opt/robot/.dora-ts/state/pipeline'"): it gives
 * the first error it met, not the one that stopped it. A robot's root file system is often
 * read-only, and the state folder sits beside the dataflow by default, so this looks at the
 * nearest part of the path that exists instead.
 *
 * @module
 */
import { accessSync, constants, statSync } from 'node:fs'
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
  let existing = resolve(path)
  let stats = statOrUndefined(existing)
  while (stats === undefined && dirname(existing) !== existing) {
    existing = dirname(existing)
    stats = statOrUndefined(existing)
  }
  if (stats === undefined) return errorMessage(err)
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

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}
