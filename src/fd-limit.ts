/**
 * The open-file limit (`ulimit -n`): whether an error says a process ran out of file
 * descriptors, what the limit is, and what to tell the user. Every custom node costs the
 * supervisor a few descriptors (its stdout and stderr, its log file, its ZeroMQ connection),
 * every operator more (a worker thread's event loop, its log file); a robot's systemd unit or a
 * shell with `ulimit -n 256` runs out at a few dozen nodes. Before this module the supervisor
 * died of an unhandled 'error' event at the first spawn that failed, and a CLI started under a
 * very low limit printed EMFILE with a stack trace and "This is a bug".
 *
 * Node raises its soft limit to the hard one when it starts, so the limit read here is the one
 * the process really has; only whoever starts dora-ts can raise it.
 *
 * No native addon and nothing of the stores is imported here: operator workers may load it.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs'
import { DoraError, registerErrorClass, type DoraErrorOptions } from './errors.js'

/** Raised where a command or a run cannot go on for want of file descriptors. */
export class FdLimitError extends DoraError {
  declare readonly code: 'DORA_FD_LIMIT'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_FD_LIMIT', message, options)
  }
}
registerErrorClass(FdLimitError)

/**
 * Whether `err` (an error, or the text a unit failed with) says a process is out of file
 * descriptors: EMFILE (this process's limit) or ENFILE (the system's). A worker that could not
 * start says so only in its message ("Worker initialization failure: EMFILE").
 */
export function isOutOfFds(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EMFILE' || code === 'ENFILE') return true
  const text = typeof err === 'string' ? err : err instanceof Error ? err.message : ''
  return /\bE[MN]FILE\b/.test(text)
}

let knownLimit: number | undefined

/**
 * This process's limit on open files (Linux: /proc/self/limits), or undefined where it cannot
 * be read. Read once and kept: when the limit has been reached, reading the file fails too.
 */
export function openFileLimit(): number | undefined {
  if (knownLimit !== undefined) return knownLimit
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    const soft = Number(line?.[1])
    if (Number.isFinite(soft) && soft > 0) knownLimit = soft
  } catch {
    // Not Linux, or out of descriptors already: unknown.
  }
  return knownLimit
}

/**
 * The fewest open files a command is started with (`dora-ts --version` aside). Node loads a
 * command's modules in parallel: at 64 `dora-ts run` failed with EMFILE while loading, and at 32
 * Node's resolver reported the failed reads as a package not found; at 96 the default dataflow
 * ran. Below this, the command refuses with {@link FdLimitError} before it loads anything.
 */
export const MIN_OPEN_FILES = 128

/** Throw {@link FdLimitError} when the limit is known and below {@link MIN_OPEN_FILES}. */
export function checkOpenFileLimit(): void {
  const limit = openFileLimit()
  if (limit === undefined || limit >= MIN_OPEN_FILES) return
  throw new FdLimitError(`dora-ts needs at least ${MIN_OPEN_FILES} open files, and this process may have ${limit} (\`ulimit -n\`)`, {
    hint: fdLimitHint(),
  })
}

/**
 * Descriptors the supervisor holds per unit, counted in /proc/PID/fd on runs of 1 to 40 units
 * (Node 20, Linux): a custom node 4 (stdout, stderr, its ZeroMQ connection, its log file), an
 * operator 4 (its worker's event loop: an epoll, an eventfd, two pipes) and its log file once
 * it prints. Starting takes more for a moment (each worker's module loader opens several files
 * at once): {@link FD_MARGIN} covers that.
 */
const PER_CUSTOM_NODE = 4
const PER_OPERATOR = 5
/** Descriptors kept free beyond the estimate (the KVS thread, the reaper, a `dora-ts` client, ...). */
const FD_MARGIN = 32

/** The descriptors this process has open now (Linux), or undefined where it cannot be counted. */
export function openFdCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return undefined
  }
}

/** About how many descriptors the supervisor needs to run these units beside the `inUse` it holds. */
export function fdsNeeded(customNodes: number, operators: number, inUse: number): number {
  return inUse + FD_MARGIN + customNodes * PER_CUSTOM_NODE + operators * PER_OPERATOR
}

/** What to do about the limit: the three places it is set, and what a unit costs. */
export function fdLimitHint(): string {
  return (
    'Raise the open-file limit of whatever starts dora-ts: `ulimit -n 65536` in its shell (up to `ulimit -Hn`), ' +
    '`LimitNOFILE=65536` in a systemd unit, `--ulimit nofile=65536:65536` for `docker run`. ' +
    `The supervisor holds about ${PER_CUSTOM_NODE} per custom node and ${PER_OPERATOR} per operator.`
  )
}

/** An error out of file descriptors, as one {@link FdLimitError} naming the limit; anything else as it is. */
export function asFdLimitError(err: unknown): unknown {
  if (!isOutOfFds(err) || err instanceof DoraError) return err
  const message = err instanceof Error ? err.message : String(err)
  const limit = openFileLimit()
  return new FdLimitError(`dora-ts ran out of file descriptors${limit === undefined ? '' : ` (limit ${limit})`}: ${message}`, {
    hint: fdLimitHint(),
    cause: err,
  })
}
