/**
 * No orphan custom nodes, SDK or not, registered or not, even when the supervisor is SIGKILLed.
 *
 * Node has no `prctl(PR_SET_PDEATHSIG)` without a native addon, and a node cannot be trusted to
 * watch its parent (a shell script, a Python program, one that never connects or is still
 * starting). So each run has a small reaper process (reaper-process.ts), in a session and
 * process group of its own so that a terminal's Ctrl-C or a kill of the supervisor's group
 * does not reach it. The supervisor feeds it one line per node process group over a pipe; the
 * kernel closes that pipe on any death of the supervisor, and the reaper then stops the groups
 * it knows and removes the run directory. A clean close says `bye` first.
 *
 * The window between spawn and registration is closed, not just made small: a node is spawned
 * behind a gate (`/bin/sh` waiting on an extra pipe, fd 3) and only `exec`s the real program
 * once its `+pgid` line is in the reaper's pipe. If the supervisor dies before that, the gate
 * reads end-of-file and the shell exits without running anything of the node's.
 *
 * Nothing waits on the reaper process. Nodes are spawned while it is still starting: their
 * `+pgid` lines wait in the pipe, and a reaper that starts after the supervisor died still
 * reads them before the end-of-file. `close()` only hands `bye` to the pipe: after that the
 * reaper kills nothing, so its exit is not worth waiting for. Together this took ~0.3 s off
 * every `dora-ts run` of a dataflow with custom nodes (a Node process start at each end).
 * The gate stays: a `/bin/sh` (dash: ~1 ms) is the cheapest program that can hold a node
 * back without a native addon, and without it a supervisor killed between `spawn()` and the
 * pipe write would leave the node running unknown to the reaper.
 *
 * @module
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import type { Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { finished, type Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { DoraError, errorMessage, registerErrorClass, type DoraErrorOptions } from '../../src/errors.js'
import { withoutNodeOptions } from '../../src/host-env.js'

/** After SIGTERM, how long the reaper lets node groups exit before SIGKILL. */
export const REAPER_GRACE_MS = 300

/**
 * Run by `/bin/sh -c` with the node's command as `$0` and its arguments as `$@`: wait for the
 * supervisor's go on fd 3; at end-of-file (the supervisor died) exit without running the node.
 * `exec` keeps the pid, so the gate's process group is the node's. The go is `go`, or the
 * node's `oom_score_adj` (oom-score.ts), set here so that it holds from the node's first
 * instruction and is inherited by its helpers; a refused value is said on the node's stderr.
 */
const GATE = [
  'read -r go <&3 || exit 1',
  'if [ "$go" != go ] && [ -w /proc/self/oom_score_adj ]; then { echo "$go" >/proc/self/oom_score_adj; } 2>/dev/null || echo "dora-ts: the kernel refused oom_score_adj $go for this node (lowering it needs root or CAP_SYS_RESOURCE): it runs with $(cat /proc/self/oom_score_adj)" >&2; fi',
  'exec 3<&- "$0" "$@"',
].join('; ')

/** What a reaper that could not start means for the run, for its log. */
const UNPROTECTED = "this run's custom nodes will not be stopped if the supervisor dies"

export class ReaperError extends DoraError {
  declare readonly code: 'DORA_REAPER'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_REAPER', message, options)
  }
}
registerErrorClass(ReaperError)

export interface ReaperOptions {
  /** The run directory (run-dir.ts) to remove when the supervisor dies; only a `run-<pid>-<hex>` one is. */
  runDir?: string | undefined
  /** The run's shared-memory directory (shm-dir.ts), removed with the run directory; only a `run-<pid>-<hex>` one is. */
  shmDir?: string | undefined
  /** See {@link REAPER_GRACE_MS}. */
  graceMs?: number | undefined
  /** Notices: the reaper died and was replaced, or could not be. */
  log?: ((level: 'warn' | 'error', text: string) => void) | undefined
}

/**
 * Spawn options of a tracked node: its stdio is 0..2 only (the gate takes fd 3); its
 * `oom_score_adj` (Linux), if it is to be set.
 */
export type TrackedSpawnOptions = Omit<SpawnOptions, 'stdio' | 'detached'> & { stdio: Array<'ignore' | 'pipe' | 'inherit'>; oomScoreAdj?: number | undefined }

/**
 * The supervisor's side of one run's reaper process: starts it, spawns nodes through it, and
 * says `bye` on {@link close}.
 *
 * If the reaper process itself dies (someone killed it), the supervisor starts a new one and
 * hands it every live group, with a warning; one that dies before it is ready is not started
 * again (it would only fail again), and the run goes on with an error in the log (`log`).
 *
 * @example
 * ```ts
 * const reaper = new Reaper({ runDir: runDir.path, log })
 * // No need to await reaper.ready: the spawn is registered in the pipe either way.
 * const child = reaper.spawn('./node.sh', [], { stdio: ['ignore', 'pipe', 'pipe'] })
 * // ... when the run is over:
 * await reaper.close()
 * ```
 */
export class Reaper {
  /**
   * Resolves once the first reaper process listens; rejects with {@link ReaperError} if it
   * could not start (also reported through `log`, so nobody has to await this).
   */
  readonly ready: Promise<void>
  readonly #options: ReaperOptions
  /** Groups spawned and not yet reaped: what a new reaper process must be told. */
  readonly #groups = new Set<number>()
  #proc!: ChildProcess
  #closed: Promise<void> | undefined

  constructor(options: ReaperOptions = {}) {
    this.#options = options
    this.ready = this.#launch()
    // The run does not wait for the reaper (see the module doc), so a failed start must be
    // said where the run's errors go; this also keeps `ready` from being an unhandled rejection.
    this.ready.catch((err: unknown) => this.#options.log?.('error', `${errorMessage(err)}; ${UNPROTECTED}`))
  }

  /** Pid of the current reaper process. */
  get pid(): number | undefined {
    return this.#proc.pid
  }

  /** Process groups (= leader pids) of the live nodes spawned through {@link spawn}. */
  get groups(): ReadonlySet<number> {
    return this.#groups
  }

  /**
   * Spawn a node as the leader of a new process group, known to the reaper before it runs.
   * Failures are those of `child_process.spawn`: a missing or non-executable command throws
   * (checked up front, since behind the gate `exec` would only fail later, as an exit code).
   */
  spawn(command: string, args: readonly string[], tracked: TrackedSpawnOptions): ChildProcess {
    if (this.#closed !== undefined) throw new ReaperError('cannot spawn a node: the run is closing')
    if (command.includes('/')) accessSync(command, constants.X_OK)
    const { oomScoreAdj, ...options } = tracked
    const child = spawn('/bin/sh', ['-c', GATE, command, ...args], { ...options, stdio: [...options.stdio, 'pipe'], detached: true })
    // No stdio at all when the spawn failed for want of file descriptors (EMFILE, ENFILE).
    const gate = (child.stdio as ChildProcess['stdio'] | undefined)?.[3] as Writable | null | undefined
    const pid = child.pid
    if (pid === undefined || gate == null) {
      // The spawn failed: its 'error' event follows, as for a plain spawn.
      gate?.destroy()
      return child
    }
    // A node killed before it got its go makes the write fail (EPIPE): its exit reports it.
    gate.on('error', () => {})
    this.#groups.add(pid)
    // Open the gate only once the line is in the reaper's pipe (the write callback), so there
    // is no moment at which the node runs and the reaper could not know of it.
    this.#write(`+${pid}\n`, () => gate.end(`${oomScoreAdj ?? 'go'}\n`))
    child.once('exit', () => {
      if (this.#groups.delete(pid)) this.#write(`-${pid}\n`)
    })
    return child
  }

  /**
   * Tell the reaper the supervisor is closing cleanly (`bye`: from then on it kills nothing);
   * resolves once `bye` is in the pipe. The reaper exits on its own as soon as it reads it:
   * nothing depends on that moment, so it is not awaited (it could still be starting).
   * Idempotent. Nodes still running are the caller's to stop first.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => {
      const proc = this.#proc
      const stdin = proc.stdin
      if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null || stdin === null || !stdin.writable) return resolve()
      // finished() also settles on EPIPE (the reaper died meanwhile: nothing left to tell).
      finished(stdin, () => resolve())
      stdin.end('bye\n')
    })
    return this.#closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #write(line: string, then?: () => void): void {
    const stdin = this.#proc.stdin
    if (stdin === null || !stdin.writable) {
      then?.()
      return
    }
    // Node writes a pipe at once when nothing is queued; the callback runs once it is written.
    stdin.write(line, () => then?.())
  }

  #launch(): Promise<void> {
    const proc = spawn(
      process.execPath,
      [reaperEntry(), this.#options.runDir ?? '', String(this.#options.graceMs ?? REAPER_GRACE_MS), this.#options.shmDir ?? ''],
      {
        // NODE_OPTIONS could load loaders or hooks (tsx, coverage) into a process that needs none.
        env: withoutNodeOptions(),
        // Its stderr is ours, so its one notice after our death lands where our output went.
        stdio: ['pipe', 'pipe', 'inherit'],
        detached: true,
      },
    )
    this.#proc = proc
    // A dead reaper's pipe fails writes with EPIPE: its 'exit' handles that.
    proc.stdin?.on('error', () => {})
    // Never keep the supervisor alive: the run and its nodes do that.
    proc.unref()
    for (const pgid of this.#groups) this.#write(`+${pgid}\n`)
    let ready = false
    proc.once('exit', (code, signal) => {
      if (!ready || this.#closed !== undefined || proc !== this.#proc) return
      const how = signal === null ? `exit code ${code}` : signal
      this.#options.log?.(
        'warn',
        `the reaper process (pid ${proc.pid}) ended unexpectedly (${how}); starting a new one for the ${this.#groups.size} live node group(s)`,
      )
      this.#launch().catch((err: unknown) => this.#options.log?.('error', `${errorMessage(err)}; ${UNPROTECTED}`))
    })
    return new Promise((resolve, reject) => {
      let out = ''
      const settle = (err?: Error): void => {
        proc.stdout?.off('data', onData)
        proc.off('exit', onEarlyExit)
        proc.off('error', onError)
        ;(proc.stdout as Socket | null)?.unref()
        if (err === undefined) {
          ready = true
          resolve()
        } else reject(err)
      }
      const onData = (chunk: string): void => {
        out += chunk
        if (out.includes('ready\n')) settle()
      }
      const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        settle(
          new ReaperError(`the reaper process exited before it was ready (${signal ?? `exit code ${code}`})`, { hint: 'Is dist/ built? Run `npm run build`.' }),
        )
      }
      const onError = (err: Error): void => settle(new ReaperError(`could not start the reaper process: ${err.message}`, { cause: err }))
      proc.stdout?.setEncoding('utf8').on('data', onData)
      proc.once('exit', onEarlyExit)
      proc.once('error', onError)
    })
  }
}

/**
 * The reaper's entry is always the compiled file: when this module runs from the TS sources
 * (tests), map to the build output, as the operator host does for its worker.
 */
function reaperEntry(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return join(dirname(here), 'reaper-process.js')
  return join(dirname(here), '..', '..', 'dist', 'runtime', 'supervisor', 'reaper-process.js')
}
