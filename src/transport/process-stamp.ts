/**
 * Which process a pid means. A pid alone is not enough to call a lock's owner alive: after a
 * reboot (a power cut on a robot) or on a busy machine, the pid in a stale pid file may belong
 * to some other process by now, and the store or supervisor would be "in use" forever. On
 * Linux a process is identified by the boot it runs in and its start time (clock ticks since
 * boot, field 22 of /proc/<pid>/stat); elsewhere we fall back on the pid.
 */
import { readFileSync } from 'node:fs'
import { isAlive } from './run-dir.js'
import { statFields } from './proc-stat.js'

let bootId: string | undefined | null = null

function currentBootId(): string | undefined {
  if (bootId === null) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    } catch {
      bootId = undefined
    }
  }
  return bootId
}

/** `<boot id>:<start time>` of process `pid`, or undefined where /proc cannot tell. */
export function processStamp(pid: number): string | undefined {
  const boot = currentBootId()
  if (boot === undefined) return undefined
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const startTime = statFields(stat)(22)
  return startTime === undefined ? undefined : `${boot}:${startTime}`
}

/**
 * True when `pid` runs and is the process that wrote `stamp` (its {@link processStamp}). A
 * missing stamp (an older file, another OS) trusts the pid.
 */
export function isSameProcess(pid: number, stamp: string | undefined): boolean {
  if (!isAlive(pid)) return false
  if (stamp === undefined || stamp === '') return true
  const now = processStamp(pid)
  return now === undefined || now === stamp
}
