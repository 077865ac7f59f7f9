/**
 * The reaper process of one dataflow run (started by reaper.ts; see there for the why).
 *
 *   node reaper-process.js <run dir or ""> <grace ms>
 *
 * Reads lines from the supervisor on stdin: `+<pgid>` a node's process group was spawned,
 * `-<pgid>` it was reaped normally, `bye` the supervisor is closing cleanly. When stdin ends
 * without `bye`, the supervisor died (the kernel closes its end of the pipe on any death,
 * SIGKILL included): SIGTERM every known group, SIGKILL what outlives the grace period, remove
 * the run directory, exit. Prints `ready` on stdout once it listens.
 *
 * It imports nothing but two built-ins, so it starts in the time Node itself needs, and it
 * never calls `process.exit`: it ends when stdin and its last timer are done.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { basename } from 'node:path'

const runDir = process.argv[2] ?? ''
const graceMs = Number(process.argv[3] ?? '300')
/** The run's shared-memory directory: segments of large payloads in tmpfs, i.e. in RAM. */
const shmDir = process.argv[4] ?? ''
/** Read once: after the supervisor dies, process.ppid is whoever adopted us. */
const supervisorPid = process.ppid
const groups = new Set<number>()
let bye = false
let reaped = false
let pending = ''

process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  pending += chunk
  let newline: number
  while ((newline = pending.indexOf('\n')) >= 0) {
    handle(pending.slice(0, newline))
    pending = pending.slice(newline + 1)
  }
})
process.stdin.once('end', () => {
  handle(pending)
  if (!bye) reap()
})
// A read error means the supervisor's end is unusable: treat it as the supervisor being gone.
process.stdin.once('error', () => {
  if (!bye) reap()
})
// If the supervisor is already gone, these writes fail (EPIPE): that must not end us before
// we reap (an unhandled 'error' event would).
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})
process.stdout.write('ready\n')

function handle(line: string): void {
  if (line === 'bye') {
    bye = true
    process.stdin.destroy()
    return
  }
  const pgid = Number(line.slice(1))
  // Never 0 or 1: kill(-0) is our own group and kill(-1) is every process we may signal.
  if (!Number.isSafeInteger(pgid) || pgid <= 1 || pgid === process.pid) return
  if (line[0] === '+') groups.add(pgid)
  else if (line[0] === '-') groups.delete(pgid)
}

/** Signal a process group; false when it no longer exists. */
function signal(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function reap(): void {
  if (reaped) return
  reaped = true
  const live = [...groups].filter((pgid) => signal(pgid, 'SIGTERM'))
  removeRunDir()
  if (live.length > 0) note(`sent SIGTERM to ${live.length} node process group${live.length === 1 ? '' : 's'} (${live.join(', ')})`)
  const deadline = performance.now() + graceMs
  // Not our children, so there is no exit event to wait on: probe the groups.
  const check = (): void => {
    const left = liveGroups(live)
    if (left.length === 0) return
    if (performance.now() < deadline) {
      setTimeout(check, 20)
      return
    }
    for (const pgid of left) signal(pgid, 'SIGKILL')
    note(`sent SIGKILL to ${left.length} group${left.length === 1 ? '' : 's'} still running after ${graceMs} ms (${left.join(', ')})`)
  }
  check()
}

/**
 * The groups that still have a running member. Our nodes' parent is dead, so their zombies
 * wait for init to reap them, and some inits never do (a container's pid 1 without --init):
 * on Linux, /proc tells zombies apart; elsewhere signal 0, which counts them as alive, so a
 * group may only get a needless SIGKILL.
 */
function liveGroups(candidates: number[]): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return candidates.filter((pgid) => signal(pgid, 0))
  }
  const wanted = new Set(candidates)
  const running = new Set<number>()
  for (const name of entries) {
    if (name.charCodeAt(0) > 57) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1')
    } catch {
      continue // It exited while we looked.
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (state !== 'Z' && state !== 'X' && wanted.has(Number(pgrp))) running.add(Number(pgrp))
  }
  return candidates.filter((pgid) => running.has(pgid))
}

/** Only ever a `run-<pid>-<hex>` directory (run-dir.ts), so a bad argument cannot delete more. */
function removeRunDir(): void {
  for (const dir of [runDir, shmDir]) {
    if (!/^run-\d+-[0-9a-f]+$/.test(basename(dir))) continue
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // Already gone (a node removed it) or not removable: nothing else to do about it.
    }
  }
}

function note(text: string): void {
  try {
    process.stderr.write(`dora-ts reaper: the supervisor (pid ${supervisorPid}) is gone; ${text}\n`)
  } catch {
    // Nobody is reading our stderr any more: the notice is only a courtesy.
  }
}
