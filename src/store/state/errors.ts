/**
 * Errors of the operator state store. Every failure is a {@link StateError} subclass with a
 * stable `code`, a message that names the state directory (and the operator, when there is
 * one), and a hint saying what to do. {@link stateErrorFrom} turns whatever lmdb-js or
 * `node:fs` threw into the matching class, so no raw LMDB error reaches the supervisor.
 *
 * @module
 */

import { basename } from 'node:path'
import { DoraError, errorMessage, registerErrorClass, type DoraErrorOptions } from '../../errors.js'
import { classifyLmdbError } from '../lmdb/errors.js'
import { mkdirFailure } from '../../dir-failure.js'

/**
 * The code of each kind of state store failure (rows of {@link ERROR_CODES}). The `dora-ts
 * state` command's own codes (`DORA_STATE_NOT_FOUND`, ...) belong to runtime/state/ (admin.ts,
 * store-access.ts, snapshots.ts).
 */
export type StateErrorCode =
  | 'DORA_STATE_OPEN'
  | 'DORA_STATE_IN_USE'
  | 'DORA_STATE_LAYOUT'
  | 'DORA_STATE_CORRUPT'
  | 'DORA_STATE_MAP_FULL'
  | 'DORA_STATE_DISK_FULL'
  | 'DORA_STATE_VALUE_TOO_LARGE'
  | 'DORA_STATE_BAD_KEY'
  | 'DORA_STATE_BAD_VALUE'
  | 'DORA_STATE_BAD_META'
  | 'DORA_STATE_IO'
  | 'DORA_STATE_SNAPSHOT'
  | 'DORA_STATE_CLOSED'

/** Every {@link StateErrorCode}, for tests. */
export const STATE_ERROR_CODES: readonly StateErrorCode[] = [
  'DORA_STATE_OPEN',
  'DORA_STATE_IN_USE',
  'DORA_STATE_LAYOUT',
  'DORA_STATE_CORRUPT',
  'DORA_STATE_MAP_FULL',
  'DORA_STATE_DISK_FULL',
  'DORA_STATE_VALUE_TOO_LARGE',
  'DORA_STATE_BAD_KEY',
  'DORA_STATE_BAD_VALUE',
  'DORA_STATE_BAD_META',
  'DORA_STATE_IO',
  'DORA_STATE_SNAPSHOT',
  'DORA_STATE_CLOSED',
]

const STATE_CODES: ReadonlySet<string> = new Set(STATE_ERROR_CODES)

/** Where a state store failure happened: carried across threads and processes by {@link serializeError}. */
export type StateErrorFields = {
  /** Absolute path of the state directory. */
  dir?: string | undefined
  /** The operator key (`node/operator`) the failure is about, if any. */
  operator?: string | undefined
}

/** Options of every {@link StateError} constructor. */
export interface StateErrorOptions extends StateErrorFields, DoraErrorOptions {}

/**
 * A failure of the state store. The message always names the directory, e.g.
 * `cannot open the state store in /app/.dora-ts/state/robot: data.mdb is not an LMDB file`.
 */
export abstract class StateError extends DoraError {
  declare readonly code: StateErrorCode
  /** Absolute path of the state directory ('' when rebuilt from a serialized error). */
  readonly dir: string
  readonly operator: string | undefined

  constructor(code: StateErrorCode, message: string, options: StateErrorOptions = {}) {
    super(code, message, { hint: options.hint, cause: options.cause })
    this.dir = options.dir ?? ''
    this.operator = options.operator
  }

  override get context(): StateErrorFields {
    return { dir: this.dir, operator: this.operator }
  }

  /**
   * Matches any state store error, also one made in another realm (by its code). Not the
   * `dora-ts state` command's codes (DORA_STATE_NOT_FOUND, ...): those are not store failures.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== StateError) return super[Symbol.hasInstance](value)
    if (!DoraError[Symbol.hasInstance](value)) return false
    return STATE_CODES.has((value as DoraError).code)
  }
}

/** The store cannot be opened: directory not creatable or not writable, bad options, ... */
export class StateOpenError extends StateError {
  declare readonly code: 'DORA_STATE_OPEN'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_OPEN', message, options)
  }
}
registerErrorClass(StateOpenError)

/** Another live dora-ts process is running a dataflow on this state directory. */
export class StateInUseError extends StateError {
  declare readonly code: 'DORA_STATE_IN_USE'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_IN_USE', message, options)
  }
}
registerErrorClass(StateInUseError)

/** The directory holds state in a layout this dora-ts cannot read (newer, or not dora-ts state). */
export class StateLayoutError extends StateError {
  declare readonly code: 'DORA_STATE_LAYOUT'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_LAYOUT', message, options)
  }
}
registerErrorClass(StateLayoutError)

/** The files are damaged: not an LMDB file, truncated, or a record that does not decode. */
export class StateCorruptError extends StateError {
  declare readonly code: 'DORA_STATE_CORRUPT'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_CORRUPT', message, options)
  }
}
registerErrorClass(StateCorruptError)

/** The store reached its size limit (`mapSizeBytes`); the commit was not applied. */
export class StateMapFullError extends StateError {
  declare readonly code: 'DORA_STATE_MAP_FULL'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_MAP_FULL', message, options)
  }
}
registerErrorClass(StateMapFullError)

/** The file system is full (ENOSPC) or over quota (EDQUOT); the commit was not applied. */
export class StateDiskFullError extends StateError {
  declare readonly code: 'DORA_STATE_DISK_FULL'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_DISK_FULL', message, options)
  }
}
registerErrorClass(StateDiskFullError)

/** One value, or one event's writes, can never fit in the store. */
export class StateValueTooLargeError extends StateError {
  declare readonly code: 'DORA_STATE_VALUE_TOO_LARGE'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_VALUE_TOO_LARGE', message, options)
  }
}
registerErrorClass(StateValueTooLargeError)

/** A state key (or operator key) is empty, too long, or not well-formed Unicode. */
export class StateBadKeyError extends StateError {
  declare readonly code: 'DORA_STATE_BAD_KEY'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_BAD_KEY', message, options)
  }
}
registerErrorClass(StateBadKeyError)

/** A state value is not a Uint8Array. */
export class StateBadValueError extends StateError {
  declare readonly code: 'DORA_STATE_BAD_VALUE'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_BAD_VALUE', message, options)
  }
}
registerErrorClass(StateBadValueError)

/** The event metadata handed to commit() is invalid (negative event number, ...). */
export class StateBadMetaError extends StateError {
  declare readonly code: 'DORA_STATE_BAD_META'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_BAD_META', message, options)
  }
}
registerErrorClass(StateBadMetaError)

/** Any other failure while reading or committing; the commit, if any, was not applied. */
export class StateIoError extends StateError {
  declare readonly code: 'DORA_STATE_IO'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_IO', message, options)
  }
}
registerErrorClass(StateIoError)

/** snapshot() cannot write its target (it exists already, or is not writable). */
export class StateSnapshotError extends StateError {
  declare readonly code: 'DORA_STATE_SNAPSHOT'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_SNAPSHOT', message, options)
  }
}
registerErrorClass(StateSnapshotError)

/** The store was used after close(). */
export class StateClosedError extends StateError {
  declare readonly code: 'DORA_STATE_CLOSED'
  constructor(message: string, options: StateErrorOptions = {}) {
    super('DORA_STATE_CLOSED', message, options)
  }
}
registerErrorClass(StateClosedError)

/** What the store was doing when something failed, for the message. */
export interface StateErrorContext {
  dir: string
  /** `open`, `commit`, `load`, `clear`, `stats` or `snapshot`. */
  action: 'open' | 'commit' | 'load' | 'clear' | 'stats' | 'snapshot'
  operator?: string | undefined
  /** The configured size limit, named in the MAP_FULL hint. */
  mapSizeBytes?: number | undefined
}

/**
 * Turn an error thrown by lmdb-js or `node:fs` into the matching {@link StateError} (see
 * lmdb-errors.ts for how it is classified). A StateError passes through.
 */
export function stateErrorFrom(err: unknown, context: StateErrorContext): StateError {
  if (err instanceof StateError) return err
  const { dir, operator } = context
  const detail = errorMessage(err)
  const options = (hint: string): StateErrorOptions => ({ hint, cause: err, dir, operator })
  const what = describeAction(context)

  switch (classifyLmdbError(err, context.dir)) {
    case 'map-full':
      return new StateMapFullError(`${what}: the store is full (${detail})`, options(mapFullHint(context.mapSizeBytes)))
    case 'disk-full':
      return new StateDiskFullError(
        `${what}: the file system is full (${detail})`,
        options(`free disk space on the file system that holds ${dir}, or move the state elsewhere with --state-dir`),
      )
    case 'corrupt':
      return new StateCorruptError(`${what}: the state files are damaged (${detail})`, options(corruptHint(dir)))
    case 'incompatible':
      return new StateLayoutError(`${what}: the state files were written by an incompatible LMDB (${detail})`, options(layoutHint(dir)))
    case 'txn-full':
      return new StateValueTooLargeError(
        `${what}: the writes of one event are too large for one LMDB transaction (${detail})`,
        options('save less state per event, or split large values across events'),
      )
    case 'bad-key':
      return new StateBadKeyError(`${what}: a key has an unsupported size (${detail})`, options('use non-empty state keys of at most 511 UTF-8 bytes'))
    case 'dbs-full':
      return new StateOpenError(
        `${what}: too many operators in one state store (${detail})`,
        options(`split the dataflow, or clear the state of operators that no longer exist with --clean-state`),
      )
    case 'readers-full':
      return new StateIoError(
        `${what}: too many concurrent readers (${detail})`,
        options(`stop other processes that read ${dir}; stale reader slots of killed processes are cleared on the next open`),
      )
    case 'panic':
      return new StateIoError(
        `${what}: LMDB hit a fatal error and refuses further writes (${detail})`,
        options(`check the disk that holds ${dir} for I/O errors, then restart the dataflow`),
      )
    case 'open-lock':
    case 'other':
      break
  }
  if (context.action === 'open') {
    // Made or written where it cannot be: say so (a read-only file system reads as ENOENT).
    return new StateOpenError(`${what}: ${mkdirFailure(dir, err)}`, options(`make sure ${dir} is a writable directory, or choose another one with --state-dir`))
  }
  return new StateIoError(`${what}: ${detail}`, options(`check the disk that holds ${dir}; nothing of the failed operation was applied`))
}

function describeAction(context: StateErrorContext): string {
  const of = context.operator === undefined ? '' : ` of operator "${context.operator}"`
  switch (context.action) {
    case 'open':
      return `cannot open the state store in ${context.dir}`
    case 'commit':
      return `cannot commit the state${of} in ${context.dir}`
    case 'load':
      return `cannot load the state${of} from ${context.dir}`
    case 'clear':
      return `cannot clear the state${of} in ${context.dir}`
    case 'stats':
      return `cannot list the state in ${context.dir}`
    case 'snapshot':
      return `cannot snapshot the state store in ${context.dir}`
  }
}

/** The hint of a {@link StateMapFullError}. */
export function mapFullHint(mapSizeBytes: number | undefined): string {
  const current = mapSizeBytes === undefined ? '' : ` (now ${mapSizeBytes} bytes)`
  return `raise the state map size${current} with state_map_size: in the dataflow YAML (e.g. state_map_size: 4GiB), or start from empty state with dora-ts run --clean-state`
}

/** The hint of a {@link StateCorruptError}. */
export function corruptHint(dir: string): string {
  const name = basename(dir)
  return `restore a snapshot: dora-ts state snapshots ${name} lists them, dora-ts state restore ${name} <id> puts one back; or move ${dir} aside to keep it for inspection and start with --clean-state`
}

/** The hint of a {@link StateLayoutError}. */
export function layoutHint(dir: string): string {
  return `use a dora-ts that matches the state in ${dir}, start with --clean-state to discard it, or choose another --state-dir`
}
