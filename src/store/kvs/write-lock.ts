/**
 * Who holds the KVS's write lock: for the error of a call that waited too long
 * (DORA_KVS_STALLED), so a robot's operator is told which process to look at instead of
 * hanging without a word.
 *
 * LMDB's write lock is a process-shared robust pthread mutex in lock.mdb (lmdb-js 3.5.6 on
 * 64-bit Linux with glibc: the writer mutex starts at byte 64, the second cache line of the
 * lock region, and its first word is the futex, which holds the owner's thread id). The
 * owner's thread id is mapped to its process through /proc.
 *
 * lock.mdb is read in a child process, never here: POSIX record locks belong to the process,
 * and closing any descriptor of lock.mdb drops them, after which the next process to open
 * the KVS would take the lock region for unused and reset it under everyone's feet.
 *
 * @module
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Byte offset of LMDB's writer mutex in lock.mdb (64-bit Linux, glibc). */
const WRITE_MUTEX_OFFSET = 64
/** LMDB's lock file magic, checked so a file of another layout is not misread. */
const LOCK_MAGIC = 0xbeefc0de
/** Futex word bits (linux/futex.h): the owner's thread id, and its "owner died" flag. */
const FUTEX_TID_MASK = 0x3fffffff
const FUTEX_OWNER_DIED = 0x40000000

/** The holder of the write lock, as far as lock.mdb and /proc tell. */
export interface WriteLockHolder {
  /** Thread id recorded in the mutex. */
  tid: number
  /** Its process (undefined when that thread no longer exists). */
  pid: number | undefined
  /** The kernel marked the owner dead: the next writer recovers the lock. */
  ownerDied: boolean
  /** The process's command line, when readable. */
  command: string | undefined
}

const READ_SOURCE = `const b = require('node:fs').readFileSync(process.argv[1]); process.stdout.write(b.readUInt32LE(0) + ' ' + b.readUInt32LE(${WRITE_MUTEX_OFFSET}))`

/**
 * The current holder of the write lock of the KVS in `dir`, or undefined when nobody holds it
 * or lock.mdb cannot be read as this layout (another platform). Takes a child process (tens of
 * milliseconds): for error paths only.
 */
export function writeLockHolder(dir: string): WriteLockHolder | undefined {
  if (process.platform !== 'linux') return undefined
  const result = spawnSync(process.execPath, ['-e', READ_SOURCE, join(dir, 'lock.mdb')], { encoding: 'utf8', timeout: 10_000 })
  if (result.status !== 0) return undefined
  const [magic, word] = result.stdout.split(' ').map(Number)
  if (magic !== LOCK_MAGIC || word === undefined || !Number.isInteger(word)) return undefined
  const tid = word & FUTEX_TID_MASK
  if (tid === 0) return undefined
  const pid = processOfThread(tid)
  return { tid, pid, ownerDied: (word & FUTEX_OWNER_DIED) !== 0, command: pid === undefined ? undefined : commandOf(pid) }
}

function processOfThread(tid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${tid}/status`, 'utf8')
    const tgid = /^Tgid:\s*(\d+)/m.exec(status)?.[1]
    return tgid === undefined ? undefined : Number(tgid)
  } catch {
    return undefined
  }
}

/** A process's command line (cut to 120 characters), when /proc tells it. */
export function commandOf(pid: number): string | undefined {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    return command === '' ? undefined : command.length > 120 ? `${command.slice(0, 117)}...` : command
  } catch {
    return undefined
  }
}

/**
 * The sentence of a DORA_KVS_STALLED message about the holder, and the hint: what to do.
 * `self` is this process's pid (a holder that is this process is a stuck KVS thread).
 */
export function describeStall(
  dir: string,
  holder: WriteLockHolder | undefined,
  turnstile?: { pid: number; command: string | undefined },
  self = process.pid,
): { why: string; hint: string } {
  // The turnstile (write-turnstile.ts) is taken before LMDB's lock: its live holder is the writer.
  if (turnstile !== undefined && turnstile.pid !== self) {
    const who = `pid ${turnstile.pid}${turnstile.command === undefined ? '' : ` (${turnstile.command})`}`
    return {
      why: `its write turnstile is held by ${who}`,
      hint: `if that process hangs, stop it (kill ${turnstile.pid}): a killed holder's turnstile is taken over by the next writer at once`,
    }
  }
  if (holder === undefined) {
    return {
      why: `nobody holds its write lock now, so the KVS thread itself is stuck or was very slow`,
      hint: `retry; if it happens again, restart the dataflow and report it with the supervisor's log`,
    }
  }
  if (holder.pid === undefined || holder.ownerDied) {
    return {
      why: `its write lock is recorded for thread ${holder.tid}, which no longer exists`,
      hint: `retry: the next writer recovers a lock whose holder died; if it does not, stop every process that uses ${dir} and start again`,
    }
  }
  const who = `pid ${holder.pid}${holder.command === undefined ? '' : ` (${holder.command})`}`
  if (holder.pid === self) {
    return {
      why: `its write lock is held by this very process, ${who}, which is stuck inside LMDB`,
      hint: `restart the dataflow (stop it, or kill ${holder.pid}); other processes using ${dir} carry on once it is gone`,
    }
  }
  return {
    why: `its write lock is held by ${who}`,
    hint: `if that process hangs, stop it (kill ${holder.pid}): a killed holder releases the lock to the next writer`,
  }
}
