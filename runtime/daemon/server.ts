/**
 * The supervisor daemon (`dora-ts up`): runs dataflows in the background and answers the CLI
 * on a ROUTER control socket in the user's private runtime directory. One pid file makes sure
 * only one daemon runs per user (two `up` at once: one wins); a pid file or socket left by a
 * daemon that died is detected and replaced.
 */
import { once } from 'node:events'
import { chmodSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { loadDataflow } from '../../src/spec/load.js'
import { tryAcquirePidFile } from '../../src/transport/pid-file.js'
import { ControlServer, type CurveEndpoint } from '../control/server.js'
import { DataflowRun, type RunResult, type UnitReport } from '../supervisor/dataflow-run.js'
import { CustomNode } from '../supervisor/custom-node.js'
import { SLOW_WARNING_S, OperatorHost } from '../operator/host.js'
import { daemonPaths, ensureLogsRoot, type DaemonPaths } from './paths.js'
import { logUnitsOf, RunLogWriter } from './run-logs.js'
import { BadControlRequestError, DataflowNameInUseError, UnknownDataflowError } from './errors.js'
import { loadCurveKeys, readAllowedClients } from '../../src/security/curve-keys.js'
import { RateLimitedLog } from '../../src/security/rate-limited-log.js'
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../../src/security/private-path.js'
import { runRoot, runtimeDirCheck } from '../../src/transport/run-dir.js'
import { checkDaemonRequest } from './requests.js'
import { checkName } from '../../src/security/names.js'
import { TopicService } from './topic-requests.js'
import { dataflowInfo, killUnit, restartUnit, stopUnit, withGroupUsage, type DataflowInfo } from './unit-requests.js'

export interface StartRequest {
  file: string
  name?: string | undefined
  stateDir?: string | undefined
  kvsDir?: string | undefined
  cleanState?: boolean | undefined
  graceMs?: number | undefined
  stopAfterMs?: number | undefined
}

export type { DataflowInfo } from './unit-requests.js'

/** What `start` answers: the run, and how its start-up went (see {@link DataflowRun.startupSettled}). */
export interface StartReply {
  id: string
  name: string
  logDir: string
  /** Units that failed during start-up. */
  failed: UnitReport[]
  /** The run already ended (every unit finished or failed). */
  ended: boolean
  /** Custom nodes that had not connected when the wait (their longest connect_timeout) ran out. */
  notConnected: string[]
  /** Operators still loading (module, restoreState, init) when the wait ran out. */
  loading: string[]
  /** Set when the name was taken by a run of another file: the name it would have had, and that file. */
  renamed?: { from: string; clashWith: string } | undefined
}

interface Entry {
  run: DataflowRun
  name: string
  file: string
  /** What started it, for `dora-ts restart NAME` (the same file and options again). */
  request: StartRequest
  logs: RunLogWriter
  result?: RunResult
  endedAt?: number
  /** performance.now() when it ended. */
  endedMono?: number
}

/** Finished dataflows stay listed (with their result) this long. */
const KEEP_FINISHED_MS = 10 * 60 * 1000

/** Whether custom node `id` of the run has connected. */
function connected(run: DataflowRun, id: string): boolean {
  const unit = run.findUnit(id)
  return unit instanceof CustomNode && unit.hasConnected
}

export class Daemon {
  readonly paths: DaemonPaths
  readonly closed: Promise<void>
  #server: ControlServer | undefined
  readonly #entries = new Map<string, Entry>()
  /** `dora-ts topic` on the running dataflows. */
  readonly #topics = new TopicService((target) => this.#find(target, true))
  readonly #release: () => void
  #closing = false
  #resolveClosed!: () => void

  private constructor(paths: DaemonPaths, release: () => void) {
    this.paths = paths
    this.#release = release
    this.closed = new Promise((r) => (this.#resolveClosed = r))
  }

  /**
   * Take the daemon pid file and bind the control socket. Resolves to `{ ownerPid }` instead
   * when another live daemon holds the pid file (it won the race).
   */
  static async start(options: { tcp?: string | undefined } = {}): Promise<Daemon | { ownerPid: number }> {
    const paths = daemonPaths()
    ensurePrivateDir(runRoot(), runtimeDirCheck(runRoot()))
    ensurePrivateDir(paths.dir, { what: 'daemon directory' })
    ensureLogsRoot(paths.logsRoot)
    const lock = tryAcquirePidFile(paths.pidFile)
    if (!lock.acquired) return { ownerPid: lock.ownerPid }
    // We own the pid file: any socket file here is a dead daemon's leftover.
    rmSync(paths.controlSocket, { force: true })
    const daemon = new Daemon(paths, () => lock.release())
    try {
      const endpoints: Array<string | CurveEndpoint> = [`ipc://${paths.controlSocket}`]
      if (options.tcp !== undefined) {
        // TCP is CURVE only: a port is open to every user of the machine (and beyond).
        const keys = loadCurveKeys({ create: true })
        const refusals = new RateLimitedLog((line) => process.stderr.write(`dora-ts: ${line}\n`))
        endpoints.push({
          endpoint: options.tcp,
          secretKey: keys.server.secretKey,
          // Read at every connection, so dora-ts keys allow takes effect without a restart.
          allow: (key) => {
            try {
              return readAllowedClients(keys.paths.allowedClients).includes(key)
            } catch {
              return false
            }
          },
          onDecision: (d) => {
            if (!d.allowed)
              refusals.log(
                'refused-curve',
                `refused a TCP control connection from ${d.address}: client key ${d.clientKey ?? '(none)'} is not in ${keys.paths.allowedClients}`,
              )
          },
        })
      }
      daemon.#server = await ControlServer.bind({
        endpoints,
        dispatch: (command, args) => daemon.#dispatch(command, args),
        afterReply: (command) => {
          if (command === 'destroy') void daemon.destroy()
        },
      })
      // The directory (0700) already keeps others out; the socket's own mode says so too.
      chmodSync(paths.controlSocket, PRIVATE_FILE_MODE)
    } catch (err) {
      daemon.#server?.close()
      lock.release()
      throw err
    }
    return daemon
  }

  /** Stop every dataflow (with their grace periods); returns their names. */
  async #stopAll(): Promise<string[]> {
    const runs = [...this.#entries.values()].filter((e) => !e.run.finished)
    // close() stops each with its grace period and waits until it released everything.
    await Promise.all(runs.map((e) => e.run.close()))
    return runs.map((e) => e.name)
  }

  /** Stop every dataflow, then close. */
  async destroy(): Promise<void> {
    if (this.#closing) return this.closed
    this.#closing = true
    await this.#stopAll()
    this.#server?.close()
    rmSync(this.paths.controlSocket, { force: true })
    this.#release()
    this.#resolveClosed()
    return this.closed
  }

  async #dispatch(command: string, raw: Record<string, unknown>): Promise<unknown> {
    const args = checkDaemonRequest(command, raw)
    switch (command) {
      case 'ping':
        return { pid: process.pid, dataflows: [...this.#entries.values()].filter((e) => !e.run.finished).length }
      case 'start':
        return this.#start(args as unknown as StartRequest)
      case 'stop':
        if (args['unit'] !== undefined) {
          const entry = this.#find(args['target'] as string | undefined, true)
          return stopUnit(entry.run, entry.name, String(args['unit']), args['graceMs'] as number | undefined)
        }
        return this.#stop(args['target'] as string | undefined, args['graceMs'] as number | undefined)
      case 'list':
        return withGroupUsage(this.#list())
      case 'kill':
        return this.#kill(args['target'] as string | undefined, String(args['unit'] ?? ''), (args['signal'] as NodeJS.Signals | undefined) ?? 'SIGKILL')
      case 'restart':
        return args['unit'] === undefined
          ? this.#restartDataflow(args['target'] as string | undefined, args['graceMs'] as number | undefined)
          : this.#restart(args['target'] as string | undefined, String(args['unit']))
      case 'destroy':
        return { stopped: await this.#stopAll() }
      case 'topics':
      case 'topic-info':
      case 'topic-pub':
      case 'tap':
      case 'tap-read':
      case 'tap-close':
        return this.#topics.handle(command, args)
      default:
        throw new BadControlRequestError(`the supervisor does not know the command "${command}"`, {
          hint: 'The CLI and the running supervisor may be different dora-ts versions: run dora-ts destroy, then dora-ts up.',
        })
    }
  }

  async #start(request: StartRequest): Promise<StartReply> {
    const spec = await loadDataflow(resolve(request.file))
    // The schema checked request.name already; the YAML's name was checked when it loaded.
    if (request.name !== undefined) spec.name = checkName(request.name, { what: 'the dataflow name' })
    const running = (name: string): Entry | undefined => [...this.#entries.values()].find((e) => e.name === name && !e.run.finished)
    const clash = running(spec.name)
    // The run's name on this supervisor (list, logs, stop); its state and KVS namespace keep
    // the dataflow's own name, so they do not depend on what else happens to run.
    let name = spec.name
    if (clash !== undefined) {
      // The same file twice, or a name chosen with --name: the user meant that name.
      if (request.name !== undefined || clash.file === spec.file) {
        throw new DataflowNameInUseError(`a dataflow named "${spec.name}" is already running (id ${clash.run.id}, from ${clash.file})`, {
          hint: `Stop it first (dora-ts stop ${spec.name}) or start this one with --name.`,
        })
      }
      // Another YAML with the same name (every dataflow.yml is "dataflow" by default): give this
      // run a unique one rather than refuse it or mix their logs (issue 14).
      for (let i = 2; ; i++) {
        if (running(`${spec.name}-${i}`) === undefined) {
          name = `${spec.name}-${i}`
          break
        }
      }
    }
    const units = logUnitsOf(spec)
    // eslint-disable-next-line prefer-const -- assigned once the run exists (its id names the log); the callback reads it later
    let logs: RunLogWriter | undefined
    const run = new DataflowRun(spec, {
      graceMs: request.graceMs,
      stopAfterMs: request.stopAfterMs,
      stateDir: request.stateDir,
      kvsDir: request.kvsDir,
      cleanState: request.cleanState,
      log: (entry) => logs?.write(entry),
    })
    logs = new RunLogWriter(this.paths.logsRoot, name, run.id, units)
    logs.writeInfo({ dataflow: spec.name, file: spec.file, stateDir: run.stateDir })
    // Known before it has started: `list`, `stop` and `kill` reach a run whose operator never
    // finishes loading (it was invisible, and `dora-ts start` waited for it without end).
    const entry: Entry = { run, name, file: spec.file, request, logs }
    this.#entries.set(run.id, entry)
    // The longest a start-up is waited for: custom nodes' connect_timeout, operators' load warning.
    const custom = spec.nodes.filter((n) => n.kind === 'custom')
    const patience = AbortSignal.timeout(Math.max(SLOW_WARNING_S * 1000, ...custom.map((n) => n.connectTimeout * 1000)))
    const starting = run.start()
    starting.catch(() => {}) // A failure after the wait is the run's own to report (its log, `list`).
    let startedInTime: boolean
    try {
      startedInTime = await Promise.race([starting.then(() => true), once(patience, 'abort').then(() => false)])
    } catch (err) {
      this.#entries.delete(run.id)
      throw err
    }
    logs.write({ source: 'dora-ts', stream: 'supervisor', level: 'info', text: `dataflow "${name}" started (id ${run.id}) from ${spec.file}` })
    void run.done.then(async (result) => {
      entry.result = result
      entry.endedAt = Date.now()
      entry.endedMono = performance.now()
      const failed = result.units.filter((u) => u.status === 'failed').map((u) => `${u.unit}: ${u.error ?? 'failed'}`)
      logs.write({
        source: 'dora-ts',
        stream: 'supervisor',
        level: result.ok ? 'info' : 'error',
        text: `dataflow finished (${result.reason})${failed.length === 0 ? '' : `; failed: ${failed.join('; ')}`}`,
      })
      await logs.finish(result)
      setTimeout(() => this.#entries.delete(run.id), KEEP_FINISHED_MS).unref()
    })
    // Answer once the run is past start-up (or failed in it), so `start` can say which; a node
    // still loading after its connect_timeout is reported as such, not waited for.
    const failed = startedInTime ? await run.startupSettled(patience) : []
    // Every unit already ended: the run is over but for releasing its store; say so.
    if ([...run.units.values()].every((u) => u.status === 'finished' || u.status === 'failed')) await run.done
    const notConnected = custom
      .filter((n) => !failed.some((f) => f.unit === n.id) && run.findUnit(n.id)?.status !== 'finished' && !connected(run, n.id))
      .map((n) => n.id)
    const loading = [...run.units.values()].filter((u) => u instanceof OperatorHost && u.status === 'starting').map((u) => u.display)
    const renamed = clash === undefined ? undefined : { from: spec.name, clashWith: clash.file }
    return { id: run.id, name, logDir: logs.dir, failed, ended: run.finished, notConnected, loading, renamed }
  }

  async #stop(target: string | undefined, graceMs: number | undefined): Promise<{ id: string; name: string; result: RunResult }> {
    const entry = this.#find(target, true)
    // `--grace`: this stop's own grace period (it was honoured only as 0, skipping it).
    entry.run.stop(graceMs)
    // A second request skips the grace period (stop-ladder.ts).
    if (graceMs === 0) entry.run.stop()
    const result = await entry.run.done
    return { id: entry.run.id, name: entry.name, result }
  }

  #kill(target: string | undefined, unitName: string, signal: NodeJS.Signals): { unit: string; pid?: number | undefined } {
    const entry = this.#find(target, true)
    return killUnit(entry.run, entry.name, unitName, signal)
  }

  /** `dora-ts restart NAME NODE`: the node or operator starts again now, whatever its restart policy. */
  #restart(target: string | undefined, unitName: string): { unit: string; pid?: number | undefined } {
    const entry = this.#find(target, true)
    return restartUnit(entry.run, entry.name, unitName)
  }

  /**
   * `dora-ts restart NAME`: stop the run (its grace period, as `stop`), then start the same file
   * again with the same request, its YAML read anew: the same name (a run renamed for a clash
   * is named again as then: its state keeps the dataflow's own name). Never with --clean-state
   * again: what the run left (state, outbox) is what the next one goes on from.
   */
  async #restartDataflow(target: string | undefined, graceMs: number | undefined): Promise<StartReply & { stopped: RunResult }> {
    const entry = this.#find(target, true)
    entry.run.stop(graceMs)
    if (graceMs === 0) entry.run.stop()
    const stopped = await entry.run.done
    const started = await this.#start({ ...entry.request, cleanState: false })
    return { ...started, stopped }
  }

  #list(): DataflowInfo[] {
    return [...this.#entries.values()].map((e) => dataflowInfo({ ...e, logDir: e.logs.dir }))
  }

  /** A dataflow by name or id (prefix); the only running one when no target is given. */
  #find(target: string | undefined, runningOnly: boolean): Entry {
    const candidates = [...this.#entries.values()].filter((e) => !runningOnly || !e.run.finished)
    if (target === undefined || target === '') {
      if (candidates.length === 1) return candidates[0]!
      throw new UnknownDataflowError(
        candidates.length === 0 ? 'no dataflow is running on this supervisor' : `${candidates.length} dataflows are running; name one`,
        { hint: candidates.length === 0 ? 'Start one with dora-ts start dataflow.yml.' : `Running: ${candidates.map((e) => e.name).join(', ')}.` },
      )
    }
    const byName = candidates.filter((e) => e.name === target)
    const found = byName.length > 0 ? byName : candidates.filter((e) => e.run.id.startsWith(target))
    if (found.length === 1) return found[0]!
    const known = candidates.map((e) => `${e.name} (${e.run.id.slice(0, 8)})`)
    throw new UnknownDataflowError(`no ${runningOnly ? 'running ' : ''}dataflow is named "${target}" or has an id starting with it`, {
      hint: known.length === 0 ? 'No dataflow is running; start one with dora-ts start dataflow.yml.' : `Running: ${known.join(', ')}.`,
    })
  }
}
