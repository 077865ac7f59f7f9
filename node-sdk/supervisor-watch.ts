/**
 * How a node notices that the supervisor which launched it is gone (dora #2856 left nodes
 * spinning for hours after their daemon died). The SDK only notices and reports: it ends the
 * node's event stream and releases the connection, but never exits the process, which belongs
 * to the user's code. Ending the *process* when the supervisor dies is the supervisor side's
 * job (its per-run reaper kills the nodes' process groups), and it covers nodes that do not use
 * this SDK at all.
 *
 * @module
 */
import { rmSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { ENV_ENDPOINT, ENV_SUPERVISOR_PID } from '../src/transport/env.js'
import { isAlive } from '../src/transport/run-dir.js'

/** How often a node checks that its supervisor still exists. */
export const SUPERVISOR_POLL_MS = 250

/**
 * Call `onGone(pid)` once when the supervisor named by `DORA_TS_SUPERVISOR_PID` no longer
 * exists, after removing its orphaned run directory. Polls the pid (there is no portable event
 * for the death of a process that is not our child); the timer is unref'd, so it never keeps the
 * process alive. Returns the function that stops watching; does nothing without the variable.
 */
export function watchSupervisor(onGone: (pid: number) => void): () => void {
  const pid = Number(process.env[ENV_SUPERVISOR_PID])
  if (!Number.isInteger(pid) || pid <= 0) return () => {}
  const timer = setInterval(() => {
    if (isAlive(pid)) return
    clearInterval(timer)
    // The dead supervisor cannot remove its sockets; whichever node notices first does.
    removeOrphanedRunDir(process.env[ENV_ENDPOINT], pid)
    onGone(pid)
  }, SUPERVISOR_POLL_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** Remove the run directory of a dead supervisor (only a `run-<pid>-*` directory of that pid). */
function removeOrphanedRunDir(endpoint: string | undefined, pid: number): void {
  if (endpoint === undefined || !endpoint.startsWith('ipc://')) return
  const dir = dirname(endpoint.slice('ipc://'.length))
  if (!basename(dir).startsWith(`run-${pid}-`)) return
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch {
    // Another node removed it first, or it is not ours to remove: either way nothing to do.
  }
}
