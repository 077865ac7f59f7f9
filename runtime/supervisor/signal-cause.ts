/**
 * What a signal that ended a custom node most likely means, for its failure line: "was killed
 * by SIGKILL" alone sent people to read kernel logs, and on a robot the usual cause is the
 * kernel's OOM killer (a Jetson's shared CPU/GPU memory runs out), which the supervisor can
 * tell without privileges: /proc/vmstat counts the kernel's OOM kills (`oom_kill`, Linux 4.13
 * on; a container's memory limit included), so a count that rose while the node ran is named.
 *
 * @module
 */
import { readFileSync } from 'node:fs'

/**
 * Said of a node killed by a SIGTERM that dora-ts did not send (its own come with a reason, set
 * as the failure first): most often a service manager stopping every process of the service at
 * once (systemd's default KillMode=control-group), so the node died before it got its Stop.
 */
const FOREIGN_SIGTERM =
  'not sent by dora-ts: a service manager that stops the dataflow should signal only dora-ts, which stops every node with Stop first: KillMode=mixed in a systemd unit'

/** Signals a program's own fault raises, and what each most often is. */
const FAULTS: Partial<Record<NodeJS.Signals, string>> = {
  SIGSEGV: 'a segmentation fault: a crash in native code (an addon, a driver library, the runtime itself)',
  SIGBUS: 'a bus error: most often a memory-mapped file that shrank, or a full tmpfs or disk under a mapping',
  SIGABRT: 'aborted: a failed assertion or abort() in native code (its stderr says which)',
  SIGILL: 'an illegal instruction: native code built for another CPU (an addon or a wheel of the wrong architecture)',
  SIGFPE: 'an arithmetic fault in native code (an integer division by zero)',
}

/** The kernel's count of OOM kills so far; undefined where /proc/vmstat has none. */
export function oomKillCount(): number | undefined {
  try {
    const line = /^oom_kill (\d+)$/m.exec(readFileSync('/proc/vmstat', 'latin1'))
    return line === null ? undefined : Number(line[1])
  } catch {
    return undefined
  }
}

/**
 * The parenthesis to put after "was killed by <signal>", or '' when there is nothing to add.
 * `byDoraTs`: dora-ts signalled the process itself (its own reason is then the failure).
 * `oomKillsMeanwhile`: how much the kernel's OOM kill count rose while the node ran (undefined:
 * not known).
 */
export function signalCause(signal: NodeJS.Signals, byDoraTs: boolean, oomKillsMeanwhile: number | undefined): string {
  if (byDoraTs) return ''
  const fault = FAULTS[signal]
  if (fault !== undefined) return ` (${fault})`
  if (signal === 'SIGTERM') return ` (${FOREIGN_SIGTERM})`
  if (signal !== 'SIGKILL') return ''
  if (oomKillsMeanwhile !== undefined && oomKillsMeanwhile > 0)
    return ` (not sent by dora-ts: most likely the kernel's OOM killer, as the machine ran out of memory: it killed ${oomKillsMeanwhile === 1 ? 'a process' : `${oomKillsMeanwhile} processes`} while this node ran. \`max_memory_mb:\` on a node that grows ends it before the machine runs out)`
  return ' (not sent by dora-ts: a `kill -9`, or a watchdog outside it)'
}
