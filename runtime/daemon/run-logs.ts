/**
 * Logs of one dataflow run on disk, one file per node or operator plus `supervisor.log` with
 * the run's own notices (crashes, restarts and their errors, in order). Every line is
 * `<ISO time> <stream> <text>`. When the run ends, `result.json` is written: readers that
 * follow the logs stop there.
 */
import { mkdirSync, readdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LogEntry } from '../supervisor/unit.js'
import type { DataflowSpec } from '../../src/spec/types.js'
import { errorMessage } from '../../src/errors.js'
import { logMaxBytes, readNewLines, ROTATED_SUFFIX, RotatingLog } from './log-files.js'

export const SUPERVISOR_LOG = 'supervisor'
export const RESULT_FILE = 'result.json'
/** What a run was: its YAML and where its state lives, for `dora-ts state ls NAME`. */
export const RUN_INFO_FILE = 'run.json'
/**
 * Runs whose logs are kept per dataflow name: a robot that restarts its dataflow all day (or a
 * crash-restart test loop) must not fill its disk with logs nobody reads. Older finished runs
 * are removed when a new run of the name starts; `DORA_TS_KEEP_RUNS` changes the number.
 */
export const DEFAULT_KEPT_RUNS = 50

export interface RunInfo {
  /** The dataflow's name: the name of its state store and KVS namespace. */
  dataflow: string
  /** The YAML it ran from. */
  file: string
  /** Its state store directory (`<state root>/<dataflow>`). */
  stateDir: string
}

/** File name of a unit's log: `node/op` becomes `node.op.log`. */
export function logFileName(source: string): string {
  return `${source.replace(/\//g, '.')}.log`
}

/** The names a run's nodes and operators log under (a lone operator goes by its node's id). */
export function logUnitsOf(spec: DataflowSpec): string[] {
  return spec.nodes.flatMap((n) => (n.kind === 'custom' ? [n.id] : n.operators.map((op) => (n.single ? n.id : `${n.id}/${op.id}`))))
}

export class RunLogWriter {
  readonly dir: string
  readonly #files = new Map<string, RotatingLog>()
  readonly #units: ReadonlySet<string>
  /** Size past which a file rotates (log-files.ts). */
  readonly #maxBytes = logMaxBytes()
  #closed = false

  /** `units` are the names of the run's nodes and operators, as they appear in log sources. */
  constructor(logsRoot: string, dataflowName: string, runId: string, units: Iterable<string>) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    this.dir = join(logsRoot, dataflowName, `${stamp}_${runId.slice(0, 8)}`)
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    this.#units = new Set(units)
    pruneRunLogs(logsRoot, dataflowName, keptRuns())
  }

  write(entry: LogEntry): void {
    if (this.#closed) return
    const line = `${new Date().toISOString()} ${entry.stream}${entry.stream === 'log' ? `:${entry.level}` : ''} ${entry.text}\n`
    if (entry.stream === 'supervisor') {
      this.#file(SUPERVISOR_LOG).write(line)
      // A notice about a unit also goes into that unit's own log, so `logs NAME NODE` shows
      // its crashes and restarts between its own lines.
      const unit = entry.text.split(/[ :]/, 1)[0] ?? ''
      if (this.#units.has(unit)) this.#file(unit).write(line)
      return
    }
    this.#file(entry.source).write(line)
  }

  /**
   * Record what the run is and where its state lives: the logs are the registry that lets
   * `dora-ts state ls NAME` find a store next to any YAML, wherever the run was started from
   * (it looked in ./.dora-ts/state only, issue 14). Never throws.
   */
  writeInfo(info: RunInfo): void {
    try {
      writeFileSync(join(this.dir, RUN_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 })
    } catch (err) {
      process.stderr.write(`dora-ts: could not record the run in ${this.dir}: ${errorMessage(err)}\n`)
    }
  }

  /** Write the result marker and close every file. Never throws: logs must not stop a run. */
  async finish(result: unknown): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#files.values()].map((file) => file.end()))
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 })
      writeFileSync(join(this.dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`)
    } catch (err) {
      process.stderr.write(`dora-ts: could not write the result of the run to ${this.dir}: ${errorMessage(err)}\n`)
    }
  }

  #file(source: string): RotatingLog {
    let file = this.#files.get(source)
    if (file === undefined) {
      // A log directory removed under a running dataflow must not take the supervisor down.
      file = new RotatingLog(join(this.dir, logFileName(source)), this.#maxBytes, (text) => process.stderr.write(`dora-ts: ${text}\n`))
      this.#files.set(source, file)
    }
    return file
  }
}

/** Run directories of a dataflow, oldest first. */
export function runLogDirs(logsRoot: string, dataflowName: string): string[] {
  const root = join(logsRoot, dataflowName)
  if (!existsSync(root)) return []
  return readdirSync(root)
    .sort()
    .map((d) => join(root, d))
}

/** The number of runs to keep per dataflow: `$DORA_TS_KEEP_RUNS` if a positive integer, else {@link DEFAULT_KEPT_RUNS}. */
export function keptRuns(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['DORA_TS_KEEP_RUNS'])
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_KEPT_RUNS
}

/**
 * Remove the oldest finished runs of `dataflowName` (those with a result file) until at most
 * `keep` run directories are left. A run still going (no result yet) is never removed. Never
 * throws: pruning must not stop a run from starting.
 */
export function pruneRunLogs(logsRoot: string, dataflowName: string, keep: number): string[] {
  const removed: string[] = []
  try {
    const dirs = runLogDirs(logsRoot, dataflowName)
    let excess = dirs.length - keep
    for (const dir of dirs) {
      if (excess <= 0) break
      if (!existsSync(join(dir, RESULT_FILE))) continue
      rmSync(dir, { recursive: true, force: true })
      removed.push(dir)
      excess--
    }
  } catch (err) {
    process.stderr.write(`dora-ts: could not remove old logs of ${dataflowName}: ${errorMessage(err)}\n`)
  }
  return removed
}

/** Dataflow names that have logs. */
export function loggedDataflows(logsRoot: string): string[] {
  if (!existsSync(logsRoot)) return []
  return readdirSync(logsRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
}

export interface LogLine {
  time: string
  source: string
  text: string
}

/** The log files of a run's folder (`supervisor.log` and one per unit), a unit's whose only part is rotated too. */
export function runLogFiles(dir: string): string[] {
  const names = readdirSync(dir).flatMap((f) => (f.endsWith('.log') ? [f] : f.endsWith(`.log${ROTATED_SUFFIX}`) ? [f.slice(0, -ROTATED_SUFFIX.length)] : []))
  return [...new Set(names)]
}

/**
 * Read the lines of a run's logs (one unit's, or all merged by time), each file's rotated part
 * too. `seen` records what was read (log-files.ts readNewLines): pass the same map again to get
 * only the lines added since.
 */
export function readRunLogs(dir: string, unit: string | undefined, seen = new Map<string, number>()): LogLine[] {
  const files = unit === undefined ? runLogFiles(dir) : [logFileName(unit)]
  const lines: LogLine[] = []
  for (const file of files) {
    const source = file.slice(0, -'.log'.length)
    // In the merged view a notice appears once: from supervisor.log, not again from the unit.
    for (const raw of readNewLines(join(dir, file), seen)) {
      const space = raw.indexOf(' ')
      const entry = { time: raw.slice(0, space), source, text: raw.slice(space + 1) }
      if (unit === undefined && source !== SUPERVISOR_LOG && entry.text.startsWith('supervisor ')) continue
      lines.push(entry)
    }
  }
  return lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
}

/**
 * The runs recorded under `logsRoot` whose dataflow (state name) or run name is `name`, the
 * latest first: where their state lives.
 */
export function knownRuns(logsRoot: string, name: string): RunInfo[] {
  const found: Array<RunInfo & { dirName: string }> = []
  for (const runName of loggedDataflows(logsRoot)) {
    for (const dir of runLogDirs(logsRoot, runName)) {
      let info: RunInfo
      try {
        info = JSON.parse(readFileSync(join(dir, RUN_INFO_FILE), 'utf8')) as RunInfo
      } catch {
        continue
      }
      if (info.dataflow === name || runName === name) found.push({ ...info, dirName: dir.slice(dir.lastIndexOf('/') + 1) })
    }
  }
  // Run folders start with their UTC start time: the latest sorts last.
  found.sort((a, b) => (a.dirName < b.dirName ? 1 : a.dirName > b.dirName ? -1 : 0))
  return found.map(({ dataflow, file, stateDir }) => ({ dataflow, file, stateDir }))
}

/** The run's result, once it ended. */
export function readRunResult(dir: string): unknown {
  const path = join(dir, RESULT_FILE)
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined
}
