/**
 * The KVS's write turnstile: a cross-process, kill-safe lock of our own, taken around every
 * write transaction of the KVS (put, delete, update, compare-and-set, namespace creation and
 * drop, the transactions of opening, write-base repairs), before LMDB's write mutex and let go
 * after the commit or abort. So LMDB's mutex is only ever wanted by the turnstile's holder
 * (plus, at most, a dead previous holder: LMDB's owner-died recovery with one taker).
 *
 * Why (issue 12): with writers SIGKILLed at random moments, 4 stalls in 500 kills left every
 * other writer asleep for good in mdb_txn_begin on LMDB's write mutex (a process-shared robust
 * pthread mutex in lock.mdb, glibc's `__pthread_mutex_lock_full`). 3 times the mutex's
 * recorded owner was a surviving process's main thread that was itself waiting on it; once it
 * had no owner while threads slept on it. Which race in the robust-mutex hand-over (the
 * owner-died wake-up, a woken waiter killed before it took the lock, a relock by the owner of
 * a NORMAL robust mutex that just sleeps) is the root cause is a hypothesis, not proven; what
 * is proven is that every stall needed LMDB's mutex to be contended by several processes. The
 * turnstile removes that: nobody sleeps in the kernel waiting to be woken (waiters poll with a
 * short, growing Atomics.wait), so no wake-up can be lost, and a dead holder's file is taken
 * over (src/transport/pid-file.ts: made whole with link(), the owner told by pid, process
 * start time and thread). Polling alone is unfair, so a waiter that waited 20 ms claims the
 * place next in line (`write.turnstile.next`, the same kind of file), which the others respect.
 * Uncontended, taking and giving back the turnstile is a link(), an unlink() and a stat: 65-200
 * us at load 20-30 on the 2-core CI machine, against ~0.45 ms for the fsynced commit on a quiet one.
 *
 * A holder is a thread (realm): the file says `<pid> <tid>.<thread start time> <process
 * stamp>`, so two threads of one process exclude each other, and a holder thread that died
 * (a terminated worker) is told apart from a live one. A realm asking again while it holds it
 * is a bug (a re-entrant write transaction is exactly the self-deadlock seen in LMDB): it gets
 * a {@link KvsReentrantWriteError} at once, never a hang. A wait longer than the bound
 * ({@link kvsStallMs}: 60 s, or `DORA_TS_KVS_STALL_MS`) ends in DORA_KVS_STALLED naming the
 * live holder's pid and command.
 *
 * Lock order: the open lock (../lmdb/open-lock.ts) before the turnstile, never the other way:
 * opening and dropping take the open lock and then, for their write transactions, the
 * turnstile; a write holding the turnstile never asks for the open lock (an environment it
 * writes through is already open). So the two never deadlock each other.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { threadId } from 'node:worker_threads'
import { livePidFileEntry, pidFileContent, readPidFileEntry, tryLinkPidFile, type PidFileEntry, type PreparedPidFile } from '../../transport/pid-file.js'
import { isSameProcess } from '../../transport/process-stamp.js'
import { statFields } from '../../transport/proc-stat.js'
import { positiveEnvNumber } from '../../env-number.js'
import { describeKvsAction, kvsErrorFrom, KvsStalledError, type KvsErrorContext } from './errors.js'
import { commandOf } from './write-lock.js'

/** Name of the turnstile's file in the KVS directory. */
export const TURNSTILE_FILE = 'write.turnstile'
/** Environment variable: the bound of a wait for the turnstile, in ms (tests set it low). */
export const ENV_KVS_STALL_MS = 'DORA_TS_KVS_STALL_MS'
/** Default bound of a wait for the turnstile: a write takes milliseconds. */
export const DEFAULT_KVS_STALL_MS = 60_000
/** Longest sleep between two looks at the turnstile: the latency a waiter adds at most. */
const MAX_PAUSE_MS = 4
/** The place next in line (see acquire): `write.turnstile.next`. */
const NEXT_FILE = `${TURNSTILE_FILE}.next`
/** The sleep between two looks of the waiter next in line. */
const NEXT_PAUSE_MS = 0.2
/** A waiter claims the place next in line after waiting this long. */
const PRIORITY_AFTER_MS = 20

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** The bound of a wait for the turnstile: `DORA_TS_KVS_STALL_MS` when a positive number, else 60 s. */
export function kvsStallMs(env: NodeJS.ProcessEnv = process.env): number {
  return positiveEnvNumber(ENV_KVS_STALL_MS, DEFAULT_KVS_STALL_MS, env)
}

/**
 * A realm asked for the turnstile while it already holds it: a re-entrant write transaction,
 * which in LMDB would wait on itself forever. A bug of dora-ts (writes nested in an update
 * function join its transaction), hence a plain Error with a "please report" line.
 */
export class KvsReentrantWriteError extends Error {
  constructor(dir: string) {
    super(
      `dora-ts bug: a KVS write transaction in ${dir} was started while this thread already runs one (it would wait on itself forever); please report it with this stack`,
    )
    this.name = 'KvsReentrantWriteError'
  }
}

/** Directories (real paths) whose turnstile this realm holds. */
const holding = new Set<string>()

/** This thread's tag: `<kernel tid>.<its start time>` on Linux, `n<threadId>` elsewhere. */
let realmTag: string | undefined

function ownTag(): string {
  if (realmTag === undefined) {
    let tag = `n${threadId}`
    try {
      // "<pid>/task/<tid>": the kernel's id of this very thread.
      const tid = readlinkSync('/proc/thread-self').split('/').at(-1)
      const start = tid === undefined ? undefined : threadStart(process.pid, tid)
      if (start !== undefined) tag = `${tid}.${start}`
    } catch {
      // No /proc: the process alone tells a holder's liveness.
    }
    realmTag = tag
  }
  return realmTag
}

/** Start time (field 22 of stat) of thread `tid` of `pid`, or undefined when it does not exist. */
function threadStart(pid: number, tid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    return statFields(stat)(22)
  } catch {
    return undefined
  }
}

/** Is the holder a live thread (the process that wrote the file, and the thread, when named)? */
export function isLiveHolder(entry: PidFileEntry): boolean {
  if (!isSameProcess(entry.pid, entry.stamp)) return false
  const match = /^(\d+)\.(\d+)$/.exec(entry.tag)
  if (match === null) return true
  return threadStart(entry.pid, match[1]!) === match[2]
}

/** The live holder of the turnstile of `dir`, if any: pid, thread tag and command. */
export function turnstileHolder(dir: string): { pid: number; tag: string; command: string | undefined } | undefined {
  const entry = livePidFileEntry(join(dir, TURNSTILE_FILE))
  if (entry === undefined || !isLiveHolder(entry)) return undefined
  return { pid: entry.pid, tag: entry.tag, command: commandOf(entry.pid) }
}

/** Does this realm hold the turnstile of `realDir`? */
export function holdsTurnstile(realDir: string): boolean {
  return holding.has(realDir)
}

/**
 * Run `work` (one write transaction, and what must not interleave with another process's
 * writes, such as a write-base repair) holding the turnstile of the KVS in `realDir`.
 * Throws DORA_KVS_STALLED after `boundMs` of waiting, {@link KvsReentrantWriteError} when this
 * realm holds it already, and what `work` throws.
 */
export function withWriteTurnstile<T>(realDir: string, context: KvsErrorContext, work: () => T, boundMs = kvsStallMs()): T {
  if (holding.has(realDir)) throw new KvsReentrantWriteError(realDir)
  const release = acquire(realDir, context, boundMs)
  holding.add(realDir)
  try {
    return work()
  } finally {
    holding.delete(realDir)
    release()
  }
}

/**
 * This realm's prepared pid file in each KVS directory: made once, then every acquisition is a
 * link() of it and every release an unlink(). Why: making a fresh file per write (create, write,
 * close, unlink) and reading /proc for the stamp cost ~0.9 ms at load 30 on the CI machine
 * against ~20 us for a link and an unlink, on a path every write takes.
 */
const prepared = new Map<string, PreparedPidFile>()
/** Suffix of a prepared file: `write.turnstile.<pid>.<tag>.mine`. */
const PREPARED_SUFFIX = '.mine'

function preparedFile(realDir: string): PreparedPidFile {
  let file = prepared.get(realDir)
  if (file === undefined) {
    const tag = ownTag()
    file = { path: join(realDir, `${TURNSTILE_FILE}.${process.pid}.${tag}${PREPARED_SUFFIX}`), content: pidFileContent(tag) }
    try {
      writeFileSync(file.path, file.content, { mode: 0o600 })
    } catch (err) {
      rmSync(file.path, { force: true })
      throw err
    }
    prepared.set(realDir, file)
  }
  return file
}

/** Remove this realm's prepared file of `realDir` (when it closes its environment there). */
export function forgetTurnstile(realDir: string): void {
  const file = prepared.get(realDir)
  if (file === undefined) return
  prepared.delete(realDir)
  rmSync(file.path, { force: true })
}

/** Remove the prepared files that dead processes and threads (SIGKILLed ones) left in `realDir`. */
export function sweepTurnstileFiles(realDir: string): void {
  let names: string[]
  try {
    names = readdirSync(realDir)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.startsWith(`${TURNSTILE_FILE}.`) || !name.endsWith(PREPARED_SUFFIX)) continue
    const path = join(realDir, name)
    const entry = readPidFileEntry(path)
    if (entry !== undefined && isLiveHolder(entry)) continue
    rmSync(path, { force: true })
  }
}

function acquire(realDir: string, context: KvsErrorContext, boundMs: number): () => void {
  const file = join(realDir, TURNSTILE_FILE)
  const next = join(realDir, NEXT_FILE)
  const started = performance.now()
  const deadline = started + boundMs
  let releaseNext: (() => void) | undefined
  try {
    for (let pause = 0.25; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
      let result: ReturnType<typeof tryLinkPidFile> | undefined
      try {
        const mine = preparedFile(realDir)
        // Polling alone is unfair: a writer that lets go and asks again at once can win every
        // time (one KVS thread got nothing for 20 s beside 4 busy writers at load 26). A waiter
        // that waited long claims the place next in line; while a live other realm holds it,
        // nobody else takes the turnstile.
        if (releaseNext === undefined && performance.now() - started >= PRIORITY_AFTER_MS) {
          const claim = tryLinkPidFile(next, mine, isLiveHolder)
          if (claim.acquired) releaseNext = claim.release
        }
        if (releaseNext !== undefined || !othersFirst(next)) result = tryLinkPidFile(file, mine, isLiveHolder)
      } catch (err) {
        // The prepared file is gone (its directory emptied under us): make it again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && prepared.delete(realDir) && performance.now() <= deadline) continue
        // The file cannot be made (a full disk, a read-only directory): say so as a KVS error.
        throw kvsErrorFrom(err, context)
      }
      if (result?.acquired === true) return result.release
      if (performance.now() > deadline) throw stalled(realDir, context, boundMs)
      // The one waiter next in line looks often, so the turnstile is not left idle between two
      // writers for long; the others look less and less often, which keeps their CPU low.
      Atomics.wait(sleeper, 0, 0, releaseNext === undefined ? pause : NEXT_PAUSE_MS)
    }
  } finally {
    releaseNext?.()
  }
}

/** Does a live realm other than this one hold the place next in line? */
function othersFirst(next: string): boolean {
  if (!existsSync(next)) return false
  const entry = livePidFileEntry(next)
  return entry !== undefined && isLiveHolder(entry) && !(entry.pid === process.pid && entry.tag === ownTag())
}

function stalled(realDir: string, context: KvsErrorContext, boundMs: number): KvsStalledError {
  const holder = turnstileHolder(realDir)
  const self = process.pid
  let why: string
  let hint: string
  const nextEntry = livePidFileEntry(join(realDir, NEXT_FILE))
  const next = nextEntry !== undefined && isLiveHolder(nextEntry) && nextEntry.pid !== self ? nextEntry : undefined
  if (holder === undefined && next !== undefined) {
    const command = commandOf(next.pid)
    why = `pid ${next.pid}${command === undefined ? '' : ` (${command})`} was next in line for its write turnstile all that time and did not take it`
    hint = `if that process is stopped or hangs, kill ${next.pid}; the other writers carry on at once`
  } else if (holder === undefined) {
    why = `its write turnstile (${join(realDir, TURNSTILE_FILE)}) was taken by other writers all that time`
    hint = 'retry; if it happens again, look for a process writing the KVS in a tight loop'
  } else {
    const who = `pid ${holder.pid}${holder.command === undefined ? '' : ` (${holder.command})`}`
    why = `its write turnstile is held by ${holder.pid === self ? 'another thread of this very process, ' : ''}${who}`
    hint =
      holder.pid === self
        ? `a thread of this process is stuck inside a KVS write; restart it (other processes using ${realDir} carry on once it is gone)`
        : `if that process hangs, stop it (kill ${holder.pid}): a killed holder's turnstile is taken over by the next writer at once`
  }
  return new KvsStalledError(`${describeKvsAction(context)}: waited ${boundMs / 1000} s to write; ${why}`, {
    dir: realDir,
    namespace: context.namespace,
    key: context.key,
    hint,
  })
}
