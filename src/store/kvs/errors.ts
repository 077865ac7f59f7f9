/**
 * Errors of the shared key-value store (KVS). Every failure is a {@link KvsError} subclass with
 * a stable `code`, a message that names the KVS directory (and the namespace and key, when
 * there is one), and a hint saying what to do. {@link kvsErrorFrom} turns whatever lmdb-js,
 * `node:fs` or the state store's preflight threw into the matching class, so no raw LMDB error
 * reaches a node or an operator.
 *
 * @module
 */

import { DoraError, errorCodes, errorMessage, registerErrorClass, type CodesStartingWith, type DoraErrorOptions } from '../../errors.js'
import { classifyLmdbError } from '../lmdb/errors.js'
import { mkdirFailure } from '../../dir-failure.js'

/** The code of each kind of KVS failure (rows of {@link ERROR_CODES}). */
export type KvsErrorCode = CodesStartingWith<'DORA_KVS_'>

/** Every {@link KvsErrorCode}, in the table's order, for tests. */
export const KVS_ERROR_CODES: readonly KvsErrorCode[] = errorCodes().filter((code): code is KvsErrorCode => code.startsWith('DORA_KVS_'))

/** Where a KVS failure happened: carried across threads and processes by {@link serializeError}. */
export type KvsErrorFields = {
  /** Absolute path of the KVS directory. */
  dir?: string | undefined
  /** The namespace the failure is about, if any. */
  namespace?: string | undefined
  /** The key the failure is about, if any. */
  key?: string | undefined
}

/** Options of every {@link KvsError} constructor. */
export interface KvsErrorOptions extends KvsErrorFields, DoraErrorOptions {}

/**
 * A failure of the shared KVS. The message always names the directory, e.g.
 * `cannot write key "pose" in KVS namespace "robot" (/home/me/.local/state/dora-ts/kvs): ...`.
 */
export abstract class KvsError extends DoraError {
  declare readonly code: KvsErrorCode
  /** Absolute path of the KVS directory ('' when rebuilt from a serialized error). */
  readonly dir: string
  readonly namespace: string | undefined
  readonly key: string | undefined

  constructor(code: KvsErrorCode, message: string, options: KvsErrorOptions = {}) {
    super(code, message, { hint: options.hint, cause: options.cause })
    this.dir = options.dir ?? ''
    this.namespace = options.namespace
    this.key = options.key
  }

  override get context(): KvsErrorFields {
    return { dir: this.dir, namespace: this.namespace, key: this.key }
  }

  /** Matches any KVS error, also one made in another realm (by its code prefix). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== KvsError) return super[Symbol.hasInstance](value)
    if (!DoraError[Symbol.hasInstance](value)) return false
    return (value as DoraError).code.startsWith('DORA_KVS_')
  }
}

/** The KVS cannot be opened: directory not creatable or not writable, bad options, not configured. */
export class KvsOpenError extends KvsError {
  declare readonly code: 'DORA_KVS_OPEN'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_OPEN', message, options)
  }
}
registerErrorClass(KvsOpenError)

/**
 * A write would create one namespace more than one KVS directory holds ({@link MAX_KVS_NAMESPACES}:
 * LMDB's named-database limit, two databases per namespace). It was a `DORA_KVS_OPEN` that did
 * not say what the limit was (issue 14).
 */
export class KvsTooManyNamespacesError extends KvsError {
  declare readonly code: 'DORA_KVS_TOO_MANY_NAMESPACES'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_TOO_MANY_NAMESPACES', message, options)
  }
}
registerErrorClass(KvsTooManyNamespacesError)

/** Most namespaces one KVS directory holds: LMDB's maxDbs (environment.ts) less `__meta__`, two databases each. */
export const MAX_KVS_NAMESPACES = 499

/** The KVS files are damaged: not an LMDB file, truncated, or a record that does not decode. */
export class KvsCorruptError extends KvsError {
  declare readonly code: 'DORA_KVS_CORRUPT'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_CORRUPT', message, options)
  }
}
registerErrorClass(KvsCorruptError)

/** The directory holds something that is not a dora-ts KVS of this version (operator state, ...). */
export class KvsLayoutError extends KvsError {
  declare readonly code: 'DORA_KVS_LAYOUT'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_LAYOUT', message, options)
  }
}
registerErrorClass(KvsLayoutError)

/** A key that is not a string, is empty, too long for LMDB (over 511 UTF-8 bytes) or not well-formed Unicode. */
export class KvsBadKeyError extends KvsError {
  declare readonly code: 'DORA_KVS_BAD_KEY'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_BAD_KEY', message, options)
  }
}
registerErrorClass(KvsBadKeyError)

/** A value that is not a Uint8Array, or an `update` function that returned something else (a Promise, ...). */
export class KvsBadValueError extends KvsError {
  declare readonly code: 'DORA_KVS_BAD_VALUE'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_BAD_VALUE', message, options)
  }
}
registerErrorClass(KvsBadValueError)

/** A namespace name that is empty, too long, or holds a NUL character. */
export class KvsBadNamespaceError extends KvsError {
  declare readonly code: 'DORA_KVS_BAD_NAMESPACE'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_BAD_NAMESPACE', message, options)
  }
}
registerErrorClass(KvsBadNamespaceError)

/** One value is over the KVS value limit (64 MiB), or could never fit in the map. */
export class KvsValueTooLargeError extends KvsError {
  declare readonly code: 'DORA_KVS_VALUE_TOO_LARGE'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_VALUE_TOO_LARGE', message, options)
  }
}
registerErrorClass(KvsValueTooLargeError)

/** The KVS reached its size limit (the map size); the write was not applied. */
export class KvsMapFullError extends KvsError {
  declare readonly code: 'DORA_KVS_MAP_FULL'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_MAP_FULL', message, options)
  }
}
registerErrorClass(KvsMapFullError)

/** The file system is full (ENOSPC) or over quota (EDQUOT); the write was not applied. */
export class KvsDiskFullError extends KvsError {
  declare readonly code: 'DORA_KVS_DISK_FULL'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_DISK_FULL', message, options)
  }
}
registerErrorClass(KvsDiskFullError)

/** Any other failure while reading or writing; a write, if any, was not applied. */
export class KvsIoError extends KvsError {
  declare readonly code: 'DORA_KVS_IO'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_IO', message, options)
  }
}
registerErrorClass(KvsIoError)

/**
 * A KVS call did not complete within its bound because another participant holds LMDB's write
 * lock (or the KVS thread is stuck): the message names the holder's pid when lock.mdb says
 * it (write-lock.ts). Nothing of the call was applied.
 */
export class KvsStalledError extends KvsError {
  declare readonly code: 'DORA_KVS_STALLED'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_STALLED', message, options)
  }
}
registerErrorClass(KvsStalledError)

/** The KVS handle was used after close(). */
export class KvsClosedError extends KvsError {
  declare readonly code: 'DORA_KVS_CLOSED'
  constructor(message: string, options: KvsErrorOptions = {}) {
    super('DORA_KVS_CLOSED', message, options)
  }
}
registerErrorClass(KvsClosedError)

/** What the KVS was doing when something failed, for the message. */
export interface KvsErrorContext {
  dir: string
  action: 'open' | 'read' | 'write' | 'delete' | 'list' | 'update' | 'compare-and-set' | 'watch' | 'drop'
  namespace?: string | undefined
  key?: string | undefined
  /** The configured size limit, named in the MAP_FULL hint. */
  mapSizeBytes?: number | undefined
}

/** The hint of a {@link KvsCorruptError}. */
export function kvsCorruptHint(dir: string): string {
  return `stop every dataflow that uses it, move ${dir} aside (keep it for inspection) and start again: a new, empty KVS is created`
}

/** The hint of a {@link KvsMapFullError}. */
export function kvsMapFullHint(mapSizeBytes: number | undefined): string {
  const current = mapSizeBytes === undefined ? '' : ` (now ${mapSizeBytes} bytes)`
  return `delete keys that are no longer needed (dora-ts kvs rm: deletes work on a full KVS), or raise the KVS map size${current}: kvs_map_size: in the dataflow YAML or --kvs-map-size on dora-ts run, and --kvs-map-size on dora-ts kvs put`
}

/** "cannot write key "k" in KVS namespace "ns" (/dir)", the start of every message. */
export function describeKvsAction(context: KvsErrorContext): string {
  const where = context.namespace === undefined ? `the KVS in ${context.dir}` : `KVS namespace ${JSON.stringify(context.namespace)} (${context.dir})`
  const key = context.key === undefined ? '' : `key ${previewKey(context.key)} `
  switch (context.action) {
    case 'open':
      return `cannot open ${where}`
    case 'read':
      return `cannot read ${key}from ${where}`
    case 'write':
      return `cannot write ${key}in ${where}`
    case 'delete':
      return `cannot delete ${key}from ${where}`
    case 'list':
      return `cannot list ${where}`
    case 'update':
      return `cannot update ${key}in ${where}`
    case 'compare-and-set':
      return `cannot compare-and-set ${key}in ${where}`
    case 'watch':
      return `cannot watch ${where}`
    case 'drop':
      return `cannot drop ${where}`
  }
}

/** A key as messages show it: quoted, cut after 60 characters. */
export function previewKey(key: string): string {
  return JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}...` : key)
}

/**
 * Turn an error thrown by lmdb-js, `node:fs` or the state store's preflight into the matching
 * {@link KvsError}. A KvsError passes through; a DoraError of the preflight (`DORA_STATE_*`,
 * whose message speaks of the state store) is rebuilt with a KVS message and hint.
 */
export function kvsErrorFrom(err: unknown, context: KvsErrorContext): KvsError {
  if (err instanceof KvsError) return err
  const { dir, namespace, key } = context
  const what = describeKvsAction(context)
  const options = (hint: string): KvsErrorOptions => ({ hint, cause: err, dir, namespace, key })
  if (err instanceof DoraError && err.code.startsWith('DORA_STATE_')) {
    // preflight.ts says "cannot open the state store in <dir>: <why>": keep the why.
    const why = err.message.replace(/^cannot [^:]*?: /, '')
    if (err.code === 'DORA_STATE_CORRUPT') return new KvsCorruptError(`${what}: ${why}`, options(kvsCorruptHint(dir)))
    if (err.code === 'DORA_STATE_DISK_FULL') {
      return new KvsDiskFullError(`${what}: ${why}`, options(`free disk space on the file system that holds ${dir}, or move the KVS with --kvs-dir`))
    }
    if (err.code === 'DORA_STATE_LAYOUT') {
      return new KvsLayoutError(`${what}: ${why}`, options(`use a dora-ts that matches the KVS in ${dir}, or choose another directory with --kvs-dir`))
    }
    return new KvsOpenError(`${what}: ${why}`, options(`make sure ${dir} is a writable directory, or choose another one with --kvs-dir or DORA_TS_KVS_DIR`))
  }
  const detail = errorMessage(err)
  switch (classifyLmdbError(err, dir)) {
    case 'map-full':
      return new KvsMapFullError(`${what}: the KVS is full (${detail})`, options(kvsMapFullHint(context.mapSizeBytes)))
    case 'disk-full':
      return new KvsDiskFullError(
        `${what}: the file system is full (${detail})`,
        options(`free disk space on the file system that holds ${dir}, or move the KVS with --kvs-dir`),
      )
    case 'corrupt':
      return new KvsCorruptError(`${what}: the KVS files are damaged (${detail})`, options(kvsCorruptHint(dir)))
    case 'incompatible':
      return new KvsLayoutError(
        `${what}: the KVS files were written by an incompatible LMDB (${detail})`,
        options(`use a dora-ts that matches the KVS in ${dir}, or choose another --kvs-dir`),
      )
    case 'bad-key':
      return new KvsBadKeyError(`${what}: the key has an unsupported size (${detail})`, options('use non-empty keys of at most 511 UTF-8 bytes'))
    case 'dbs-full':
      return new KvsTooManyNamespacesError(
        // The limit is LMDB's table of open databases, per process: a fresh process can open a
        // namespace this one cannot, so the message names the process, not the KVS.
        `${what}: this process already has ${MAX_KVS_NAMESPACES} namespaces of the KVS in ${dir} open, the most LMDB's table of open databases holds, and this would open one more`,
        options(
          `give this dataflow a KVS of its own (--kvs-dir DIR, or DORA_TS_KVS_DIR), share a namespace between dataflows with kvs_namespace: in their YAML, or drop namespaces no longer used (dora-ts kvs namespaces lists them, dora-ts kvs drop-namespace NAME drops one)`,
        ),
      )
    case 'readers-full':
      return new KvsIoError(
        `${what}: too many concurrent readers (${detail})`,
        options(`stop other processes that use ${dir}; reader slots of killed processes are cleared on the next open`),
      )
    case 'panic':
      return new KvsIoError(
        `${what}: LMDB hit a fatal error and refuses further writes (${detail})`,
        options(`check the disk that holds ${dir} for I/O errors, then restart the processes that use it`),
      )
    case 'open-lock':
      return new KvsOpenError(`${what}: ${detail}`, options(`find that process (ps -p PID), stop it if it hangs, then try again`))
    case 'txn-full':
    case 'other':
      break
  }
  if (context.action === 'open') {
    // Made or written where it cannot be: say so (a read-only file system reads as ENOENT).
    return new KvsOpenError(
      `${what}: ${mkdirFailure(dir, err)}`,
      options(`make sure ${dir} is a writable directory, or choose another one with --kvs-dir or DORA_TS_KVS_DIR`),
    )
  }
  return new KvsIoError(`${what}: ${detail}`, options(`check the disk that holds ${dir}; nothing of the failed operation was applied`))
}
