/**
 * A cross-process mutex around opening and closing a shared LMDB environment (the KVS).
 *
 * Why: LMDB (and lmdb-js 3.5.6's fork of it) has a "last one out" race. A process closing the
 * environment tries to take the lock file exclusively; when it gets it (nobody else has the
 * environment open) it destroys the shared mutexes in lock.mdb. A process opening at that moment
 * fails to take the file exclusively, so it waits for a shared lock, gets it once the closer is
 * gone, and then believes the mutexes are initialised: every transaction in that process fails
 * with EINVAL ("No transaction to renew") until all processes close. Measured: two processes
 * each opening, updating and closing the KVS in a loop for 3 s saw ~3,000 failed opens each in
 * 1 round of 2; with this lock, none. Serialising open and close through a lock file of our own
 * makes the two steps never interleave.
 *
 * The lock is a pid file (src/transport/pid-file.ts: it appears whole, and one left by a process
 * that died is taken over). Waiting is a synchronous sleep: opening is synchronous in the API,
 * and the lock is held for milliseconds.
 *
 * Lock order: this lock first, then the KVS's write turnstile (../kvs/write-turnstile.ts),
 * which opening and dropping take for their write transactions inside it; a writer holding the
 * turnstile never asks for this lock, so the two never deadlock each other.
 */
import { join } from 'node:path'
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../../errors.js'
import { tryAcquirePidFile } from '../../transport/pid-file.js'

/** Name of the lock file in the environment's directory. */
export const OPEN_LOCK_FILE = 'open.lock'
/** Give up waiting after this long: something holds the lock far longer than an open takes. */
export const OPEN_LOCK_TIMEOUT_MS = 30_000

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Where the lock wait failed: carried across threads and processes by `serializeError`. */
export type OpenLockFields = {
  /** Absolute path of the lock file. */
  file: string
  /** The pid that held it, when known. */
  holder: number | undefined
  /** How long we waited, in milliseconds. */
  timeoutMs: number
}

/**
 * A holder of the lock did not let go within `timeoutMs`. A DoraError (code
 * `DORA_LMDB_OPEN_LOCK_TIMEOUT`) because it can reach a user: the KVS wraps it as the cause of a
 * `DORA_KVS_OPEN`. Its hint (from the table) says what to do. Build one with {@link OpenLockTimeoutError.waited}.
 */
export class OpenLockTimeoutError extends DoraError {
  declare readonly code: 'DORA_LMDB_OPEN_LOCK_TIMEOUT'
  readonly file: string
  readonly holder: number | undefined
  readonly timeoutMs: number

  constructor(message: string, options: Partial<OpenLockFields> & DoraErrorOptions = {}) {
    super('DORA_LMDB_OPEN_LOCK_TIMEOUT', message, options)
    this.file = options.file ?? ''
    this.holder = options.holder
    this.timeoutMs = options.timeoutMs ?? 0
  }

  /** The error for `file`, held by `holder` for over `timeoutMs`. */
  static waited(file: string, holder: number | undefined, timeoutMs: number): OpenLockTimeoutError {
    const by = holder === undefined ? 'another process' : `pid ${holder}`
    return new OpenLockTimeoutError(
      `the lock ${file} was held by ${by} for over ${timeoutMs / 1000} s; opening or closing takes milliseconds, so that process is stuck`,
      { file, holder, timeoutMs },
    )
  }

  override get context(): OpenLockFields {
    return { file: this.file, holder: this.holder, timeoutMs: this.timeoutMs }
  }
}
registerErrorClass(OpenLockTimeoutError)

/** Run `work` holding the open lock of the environment in `dir` (which must exist). */
export function withEnvOpenLock<T>(dir: string, work: () => T, timeoutMs = OPEN_LOCK_TIMEOUT_MS): T {
  const file = join(dir, OPEN_LOCK_FILE)
  const release = acquire(file, timeoutMs)
  try {
    return work()
  } finally {
    release()
  }
}

function acquire(file: string, timeoutMs: number): () => void {
  const deadline = performance.now() + timeoutMs
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    // Takes over a lock left by a process that died while holding it (SIGKILL while opening).
    const result = tryAcquirePidFile(file)
    if (result.acquired) return result.release
    if (performance.now() > deadline) throw OpenLockTimeoutError.waited(file, result.ownerPid === 0 ? undefined : result.ownerPid, timeoutMs)
    Atomics.wait(sleeper, 0, 0, pause)
  }
}
