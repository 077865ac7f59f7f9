/**
 * `max_memory_mb` for custom nodes: the resident memory of each limited node's process group,
 * read from /proc once a second, and a callback when a group holds more than its limit. The same
 * reading, with CPU time, is what `dora-ts list` shows per node ({@link usageByGroup}).
 *
 * Why a reading and not a kernel limit: a cgroup (systemd's MemoryMax, docker's --memory) needs
 * a delegated cgroup tree that a supervisor started from a shell or a container rarely has, and
 * RLIMIT_AS bounds address space, which V8 and CUDA reserve by gigabytes without using it. What
 * a leaking perception node does to a robot is grow its resident set until the machine swaps
 * and the kernel's OOM killer picks a process; a reading a second apart ends it long before.
 *
 * Why the group: the node is killed as a group (node-command.ts killGroup), and a wrapper
 * script's `python3 detector.py` child holds the memory while the node's own pid is a shell of
 * 2 MB. A helper that left the group (`setsid`) is neither counted nor killed.
 *
 * Reads are asynchronous (libuv's pool) so that a scan of a few hundred processes never holds
 * up the supervisor's routing thread; nothing is read while no node has a limit.
 *
 * @module
 */
import { readdir, readFile } from 'node:fs/promises'
import { statFields } from '../../src/transport/proc-stat.js'

/** How often the groups are read (ms). */
export const MEMORY_SCAN_INTERVAL_MS = 1000

const PROC = '/proc'

/**
 * At most this many /proc files open at once: a robot runs hundreds of processes, and a scan
 * that opened one file each at once would take that many descriptors from the supervisor, whose
 * sockets need them (libzmq aborts the process on EMFILE: fd-budget.ts).
 */
const OPEN_AT_ONCE = 8

interface Watched {
  readonly pgid: number
  readonly limitBytes: number
  readonly over: (residentBytes: number) => void
}

/** What a process group uses, its processes' together. */
export interface GroupUsage {
  /** Resident memory (VmRSS), bytes. */
  residentBytes: number
  /**
   * CPU time, seconds: user and system, with that of the children they waited for (a wrapper's
   * finished commands).
   */
  cpuSeconds: number
}

/**
 * Clock ticks per second of /proc's CPU times: USER_HZ, 100 on every architecture Linux runs
 * on (the kernel converts to it for user space whatever its own HZ).
 */
const USER_HZ = 100

/**
 * What the processes in each of `groups` use, summed per group. A group none of whose processes
 * could be read is missing from the result.
 */
export async function usageByGroup(groups: ReadonlySet<number>): Promise<Map<number, GroupUsage>> {
  const totals = new Map<number, GroupUsage>()
  let entries: string[]
  try {
    entries = await readdir(PROC)
  } catch {
    return totals
  }
  const pids = entries.filter((entry) => /^\d+$/.test(entry))
  let next = 0
  const reader = async (): Promise<void> => {
    while (next < pids.length) {
      const pid = pids[next++]!
      const stat = await statOf(pid)
      if (stat === undefined || !groups.has(stat.group)) continue
      const resident = await residentBytesOf(pid)
      if (resident === undefined) continue
      const total = totals.get(stat.group) ?? { residentBytes: 0, cpuSeconds: 0 }
      total.residentBytes += resident
      total.cpuSeconds += stat.cpuSeconds
      totals.set(stat.group, total)
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_AT_ONCE, pids.length) }, reader))
  return totals
}

/**
 * A process's group and CPU time from /proc/<pid>/stat (read after the command, which may hold
 * spaces and parentheses); undefined once it is gone.
 */
async function statOf(pid: string): Promise<{ group: number; cpuSeconds: number } | undefined> {
  const stat = await readQuietly(`${PROC}/${pid}/stat`)
  if (stat === undefined) return undefined
  const field = statFields(stat)
  const group = Number(field(5))
  if (!Number.isInteger(group)) return undefined
  // utime, stime, cutime, cstime.
  const ticks = [14, 15, 16, 17].reduce((sum, n) => sum + (Number(field(n)) || 0), 0)
  return { group, cpuSeconds: ticks / USER_HZ }
}

/** A process's resident set from /proc/<pid>/status, in bytes (kB there: no page size to know); a zombie has none. */
async function residentBytesOf(pid: string): Promise<number | undefined> {
  const status = await readQuietly(`${PROC}/${pid}/status`)
  const kb = status === undefined ? undefined : /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  return kb === undefined ? undefined : Number(kb) * 1024
}

async function readQuietly(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'latin1')
  } catch {
    // The process ended between the listing and the read.
    return undefined
  }
}

/** Watches process groups against their limits; one per supervisor process ({@link groupMemory}). */
export class GroupMemoryWatch {
  readonly #watched = new Set<Watched>()
  #timer: NodeJS.Timeout | undefined
  #scanning = false

  /**
   * Call `over` (once) when the processes of group `pgid` hold more than `limitMb` MiB resident.
   * Returns the function that ends the watch (the node's process exited).
   */
  watch(pgid: number, limitMb: number, over: (residentBytes: number) => void): () => void {
    const watched: Watched = { pgid, limitBytes: limitMb * 1024 * 1024, over }
    this.#watched.add(watched)
    this.#timer ??= setInterval(() => void this.#scan(), MEMORY_SCAN_INTERVAL_MS).unref()
    return () => this.#unwatch(watched)
  }

  #unwatch(watched: Watched): void {
    this.#watched.delete(watched)
    if (this.#watched.size > 0) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  async #scan(): Promise<void> {
    // A scan slower than the interval (a loaded machine) is not stacked up behind.
    if (this.#scanning || this.#watched.size === 0) return
    this.#scanning = true
    try {
      const totals = await usageByGroup(new Set([...this.#watched].map((w) => w.pgid)))
      for (const watched of [...this.#watched]) {
        const resident = totals.get(watched.pgid)?.residentBytes
        // Unwatched during the scan: its process has gone, the reading is of nothing of it.
        if (resident === undefined || resident <= watched.limitBytes || !this.#watched.has(watched)) continue
        this.#unwatch(watched)
        watched.over(resident)
      }
    } finally {
      this.#scanning = false
    }
  }
}

/** The supervisor process's watch: one scan a second for every limited node of every run. */
export const groupMemory = new GroupMemoryWatch()
