/**
 * A supervisor running as PID 1, the init of a container started without `--init`: every
 * process a node leaves behind (a shell's child, a helper it started) is re-parented to it,
 * and only an init reaps what it did not start. Node reaps its own children only, so each such
 * orphan stays a zombie for as long as the container lives: measured under `unshare --pid`, a
 * node restarted 37 times in 4 s, each time leaving a short-lived helper, left 10 zombies; over
 * weeks they fill the process table and the next spawn fails. Nothing in Node can reap them,
 * so the run says so, with the fix.
 *
 * @module
 */

/** The warning for a supervisor that is PID 1, or undefined. */
export function initProcessWarning(pid: number = process.pid): string | undefined {
  if (pid !== 1) return undefined
  return (
    'the supervisor runs as PID 1 (a container started without an init): processes your nodes leave behind are never reaped and stay zombies. ' +
    'Start the container with `docker run --init` (or `init: true` in compose, tini as its entrypoint) so that an init reaps them.'
  )
}
