/**
 * What a supervisor does for `dora-ts list`, `kill`, `restart NAME NODE` and `stop NAME NODE` on one run: the
 * daemon for each of its runs, a foreground `dora-ts run` for its own
 * (runtime/cli/foreground-control.ts).
 *
 * @module
 */
import { CustomNode } from '../supervisor/custom-node.js'
import type { DataflowRun, RunResult, UnitInfo, UnitReport } from '../supervisor/dataflow-run.js'
import { usageByGroup } from '../supervisor/group-memory.js'
import type { Unit } from '../supervisor/unit.js'
import { NotRestartableError, NotStoppableError, UnknownNodeError } from './errors.js'

/** One dataflow as `dora-ts list` shows it. */
export interface DataflowInfo {
  id: string
  name: string
  file: string
  status: 'running' | 'stopping' | 'finished' | 'failed'
  startedAt: number
  /** When the run ended (Date.now()); absent while it runs. */
  endedAt?: number | undefined
  /** How long the run has run, or ran once it ended (ms, monotonic: see UnitInfo.uptimeMs). */
  uptimeMs: number
  logDir: string
  units: UnitInfo[]
  /** Bytes of operator state, per operator. */
  state: Array<{ operator: string; entries: number; bytes: number }>
  result?: RunResult | undefined
  /** Set for a dataflow run in the foreground (`dora-ts run`), not on the supervisor. */
  foreground?: { pid: number } | undefined
}

/** A run as these requests see it: the run and what its supervisor knows of it. */
export interface RunEntry {
  run: DataflowRun
  name: string
  file: string
  logDir: string
  result?: RunResult | undefined
  endedAt?: number | undefined
  endedMono?: number | undefined
}

/** `entry` as `dora-ts list` shows it (without the nodes' memory and CPU: {@link withGroupUsage}). */
export function dataflowInfo(e: RunEntry): DataflowInfo {
  return {
    id: e.run.id,
    name: e.name,
    file: e.file,
    status: e.result !== undefined ? (e.result.ok ? 'finished' : 'failed') : e.run.stopping ? 'stopping' : 'running',
    startedAt: e.run.startedAt,
    endedAt: e.endedAt,
    uptimeMs: Math.round((e.endedMono ?? performance.now()) - e.run.startedMono),
    logDir: e.logDir,
    units: e.run.unitInfo(),
    state: e.run.finished ? [] : (e.run.store?.stats() ?? []),
    result: e.result,
  }
}

/**
 * Each running custom node's resident memory (its process group's, as max_memory_mb counts it)
 * and CPU time, read from /proc when `list` asks; without /proc, the listing goes without.
 */
export async function withGroupUsage(dataflows: DataflowInfo[]): Promise<DataflowInfo[]> {
  const running = dataflows.flatMap((df) =>
    df.units.filter((u) => u.kind === 'custom' && u.pid !== undefined && u.status !== 'finished' && u.status !== 'failed'),
  )
  if (running.length === 0) return dataflows
  const usage = await usageByGroup(new Set(running.map((u) => u.pid!)))
  for (const unit of running) {
    unit.residentBytes = usage.get(unit.pid!)?.residentBytes
    unit.cpuSeconds = usage.get(unit.pid!)?.cpuSeconds
  }
  return dataflows
}

/** A node or operator of `run` (dataflow `name`) by the name users see; throws {@link UnknownNodeError}. */
export function findUnit(run: DataflowRun, name: string, unitName: string): Unit {
  const unit = run.findUnit(unitName)
  if (unit !== undefined) return unit
  const names = run.unitInfo().map((u) => u.name)
  throw new UnknownNodeError(`dataflow "${name}" has no node or operator "${unitName}"`, {
    hint: `Its nodes and operators are: ${names.join(', ')}.`,
  })
}

/** `dora-ts kill NAME NODE`: crash it on purpose (a custom node with `signal`, an operator's worker terminated). */
export function killUnit(run: DataflowRun, name: string, unitName: string, signal: NodeJS.Signals): { unit: string; pid?: number | undefined } {
  const unit = findUnit(run, name, unitName)
  const reason = `killed on purpose by dora-ts kill (${unit instanceof CustomNode ? signal : 'worker terminated'})`
  if (unit instanceof CustomNode) {
    const pid = unit.pid
    unit.crash(reason, signal)
    return { unit: unit.display, pid }
  }
  unit.crash(reason)
  return { unit: unit.display }
}

/** `dora-ts restart NAME NODE`: the node or operator starts again now, whatever its restart policy. */
export function restartUnit(run: DataflowRun, name: string, unitName: string): { unit: string; pid?: number | undefined } {
  const unit = findUnit(run, name, unitName)
  const pid = unit instanceof CustomNode ? unit.pid : undefined
  const why = unit.restartNow('is being restarted on purpose (dora-ts restart)')
  if (why !== undefined) {
    throw new NotRestartableError(`${unit.display} of dataflow "${name}" cannot be restarted: ${why}`, {
      hint: 'dora-ts restart acts on a running node; to run an ended one again, start the dataflow again (dora-ts stop, then dora-ts start).',
    })
  }
  return { unit: unit.display, pid }
}

/**
 * `dora-ts stop NAME NODE` (dora's `node stop`): the node or operator gets Stop and ends for
 * good while the rest runs on (runtime/supervisor/unit-stops.ts); resolves with its report once
 * it has ended.
 */
export async function stopUnit(run: DataflowRun, name: string, unitName: string, graceMs: number | undefined): Promise<{ name: string; unit: UnitReport }> {
  const unit = findUnit(run, name, unitName)
  const stopped = run.stopUnit(unit, graceMs)
  if ('refused' in stopped) {
    throw new NotStoppableError(`${unit.display} of dataflow "${name}" cannot be stopped: ${stopped.refused}`, {
      hint: 'dora-ts stop NAME NODE acts on a running node; dora-ts list shows which are.',
    })
  }
  return { name, unit: await stopped }
}
