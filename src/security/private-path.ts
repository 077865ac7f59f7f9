/**
 * Directories and files only this user may read: created with their mode set explicitly (mkdir
 * and open masks the mode with the umask, and keep the mode of what already exists), and
 * checked before use, so a directory another user pre-created (world-writable /tmp) or a state
 * folder left 0755 by an older version is never trusted as it is.
 *
 * @module
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { InsecurePathError } from './errors.js'

export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600

function myUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Why `path` (which exists) cannot be trusted as this user's private directory, or undefined.
 * Mode bits for group/others are not a reason here: {@link ensurePrivateDir} fixes those on a
 * directory we own.
 */
function untrustedDirReason(st: Stats): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link'
  if (!st.isDirectory()) return 'is not a directory'
  const uid = myUid()
  if (uid !== undefined && st.uid !== uid) return `is owned by uid ${st.uid}, not by you (uid ${uid})`
  return undefined
}

/**
 * Make sure `path` is a directory only this user can use: create it (and missing parents)
 * mode 0700, or check an existing one is ours and not a symlink, then set its mode to 0700.
 * Throws {@link InsecurePathError} naming the path and the fix otherwise.
 *
 * @example
 * ensurePrivateDir(join(runtimeBase, `dora-ts-${uid}`), { what: 'runtime directory', hint: 'Set DORA_TS_RUNTIME_DIR.' })
 */
export function ensurePrivateDir(path: string, options: { what?: string; hint?: string; followSymlink?: boolean } = {}): void {
  const what = options.what ?? 'private directory'
  // A store directory may be a symlink the user made (to another disk): its target is checked.
  // A runtime directory may not: in a shared /tmp a symlink is how it would be hijacked.
  const statOf = (p: string): Stats | undefined =>
    options.followSymlink === true && lstatOrUndefined(p)?.isSymbolicLink() === true ? statSync(p) : lstatOrUndefined(p)
  let st = statOf(path)
  if (st === undefined) {
    mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE })
    st = lstatSync(path)
  }
  const reason = untrustedDirReason(st)
  if (reason !== undefined) {
    throw new InsecurePathError(`the ${what} ${path} ${reason}, so dora-ts will not use it (another user could read or replace what is in it)`, {
      hint: options.hint ?? `Remove ${path} (or point dora-ts elsewhere) and run the command again; dora-ts creates it with mode 0700.`,
    })
  }
  // Ours but writable by others: someone else may have planted an entry (a socket, a pid file)
  // while it was open. Refuse what is not ours; then close it.
  if ((st.mode & 0o022) !== 0) {
    const uid = myUid()
    for (const entry of readdirSync(path)) {
      const est = lstatSync(join(path, entry))
      if (uid !== undefined && est.uid !== uid) {
        throw new InsecurePathError(`the ${what} ${path} was writable by other users and holds ${entry}, owned by uid ${est.uid}, so dora-ts will not use it`, {
          hint: options.hint ?? `Remove ${path} and run the command again; dora-ts creates it with mode 0700.`,
        })
      }
    }
  }
  // Ours: whatever the umask or an older version left, only we may use it.
  if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(path, PRIVATE_DIR_MODE)
}

/**
 * Check, without creating or changing anything, that `path` (if it exists) is a directory of
 * this user and not a symlink; throws {@link InsecurePathError} otherwise. For readers, such as
 * a CLI about to connect to a socket inside it.
 */
export function checkPrivateDir(path: string, options: { what?: string; hint?: string } = {}): void {
  const st = lstatOrUndefined(path)
  if (st === undefined) return
  const reason = untrustedDirReason(st)
  if (reason === undefined && (st.mode & 0o022) === 0) return
  throw new InsecurePathError(`the ${options.what ?? 'private directory'} ${path} ${reason ?? 'can be written by other users'}, so dora-ts will not use it`, {
    hint: options.hint ?? `Remove ${path} and run the command again; dora-ts creates it with mode 0700.`,
  })
}

/** Run `fs`; undefined (instead of throwing) when what it works on is gone (ENOENT). */
function ignoringGone<T>(fs: () => T): (T extends void ? true : T) | undefined {
  try {
    const result = fs()
    return (result === undefined ? true : result) as T extends void ? true : T
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Make a store directory and the files in it private (0700 / 0600), e.g. an LMDB environment
 * created before files were private, or under a permissive umask. Entries owned by someone
 * else are refused with {@link InsecurePathError}: we cannot fix them and must not trust them.
 * Returns the paths whose mode it changed (the caller may log them).
 */
export function makeTreePrivate(dir: string, options: { what?: string } = {}): string[] {
  const fixed: string[] = []
  const lst = lstatOrUndefined(dir)
  // The top directory may be the user's own symlink (see ensurePrivateDir); entries may not.
  const st = lst?.isSymbolicLink() === true ? statSync(dir) : lst
  if (st === undefined) return fixed
  const what = options.what ?? 'store directory'
  const reason = untrustedDirReason(st)
  if (reason !== undefined) {
    throw new InsecurePathError(`the ${what} ${dir} ${reason}, so dora-ts will not open it`, {
      hint: `Move it aside and let dora-ts create a fresh one, or choose another directory.`,
    })
  }
  // Other processes of the store create and remove entries meanwhile (the open lock's
  // `open.lock.<pid>.tmp` and `open.lock.takeover`): one that is gone was nobody's to fix.
  if ((st.mode & 0o077) !== 0 && ignoringGone(() => chmodSync(dir, PRIVATE_DIR_MODE))) fixed.push(dir)
  for (const entry of ignoringGone(() => readdirSync(dir, { withFileTypes: true })) ?? []) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      fixed.push(...makeTreePrivate(path, options))
      continue
    }
    if (!entry.isFile()) continue
    const fst = lstatOrUndefined(path)
    if (fst === undefined) continue
    const uid = myUid()
    if (uid !== undefined && fst.uid !== uid) {
      throw new InsecurePathError(`the file ${path} in the ${what} is owned by uid ${fst.uid}, not by you (uid ${uid}), so dora-ts will not open it`, {
        hint: 'Move the directory aside and let dora-ts create a fresh one.',
      })
    }
    if ((fst.mode & 0o077) !== 0 && ignoringGone(() => chmodSync(path, PRIVATE_FILE_MODE))) fixed.push(path)
  }
  return fixed
}

/**
 * Prepare the directory of an LMDB store (state or KVS) before opening it: created 0700, or
 * checked as ours and closed to 0700, with files left readable by others (an older dora-ts, a
 * loose umask) set to 0600 and a one-line notice on stderr saying so. lmdb-js then creates its
 * files with `permissionsMode` {@link PRIVATE_FILE_MODE}.
 */
export function prepareStoreDir(dir: string, what = 'store directory'): void {
  ensurePrivateDir(dir, { what, followSymlink: true, hint: `Move ${dir} aside, or choose a directory of yours; dora-ts creates it with mode 0700.` })
  const fixed = makeTreePrivate(dir, { what })
  if (fixed.length > 0) {
    process.stderr.write(`dora-ts: ${dir} was readable by other users; made ${fixed.length} file${fixed.length === 1 ? '' : 's'} private (0600)\n`)
  }
}

/**
 * Spread into lmdb-js `open()` options so data.mdb and lock.mdb are created 0600 (lmdb-js's
 * default is 0664). `permissionsMode` is read by lmdb-js's env.cpp but missing from its types,
 * hence the plain `object`.
 */
export const LMDB_PRIVATE_FILES: object = { permissionsMode: PRIVATE_FILE_MODE }
