/**
 * `dora-ts run dataflow.yml`: run a dataflow in the foreground until every node ended, the
 * `--stop-after` deadline, or Ctrl-C (Stop, grace period, SIGTERM, SIGKILL; a second Ctrl-C
 * skips the grace period). Exits 0 after a clean stop and 1 when any node failed.
 *
 * It keeps the same per-run, per-node log files as a run on the supervisor (daemon/run-logs.ts),
 * so `dora-ts logs NAME` shows a foreground run's crashes and restarts afterwards too.
 */
import { checkName } from '../../src/security/names.js'
import { resolve } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { DataflowRun, type RunResult } from '../supervisor/dataflow-run.js'
import { outOfFdsNotice } from '../supervisor/fd-budget.js'
import { isOutOfFds } from '../../src/fd-limit.js'
import { createPrinter, type Printer } from './output.js'
import { onOutputGone } from './terminal.js'
import { byteSizeOption, durationOption } from './options.js'
import { daemonPaths, ensureLogsRoot } from '../daemon/paths.js'
import { logUnitsOf, RunLogWriter } from '../daemon/run-logs.js'
import { DoraError, errorMessage } from '../../src/errors.js'
import type { DataflowSpec } from '../../src/spec/types.js'
import type { LogEntry } from '../supervisor/unit.js'
import { StallWatch, stallText } from '../daemon/stall-watch.js'
import { ForegroundControl } from './foreground-control.js'

interface RunArgs {
  dataflow: string
  'stop-after'?: string | undefined
  grace: string
  'state-dir'?: string | undefined
  'clean-state': boolean
  'kvs-dir'?: string | undefined
  'kvs-map-size'?: string | undefined
  name?: string | undefined
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <dataflow>',
  describe: 'Run a dataflow in the foreground',
  builder: (yargs) =>
    runOptions(yargs.positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' }))
      .example('$0 run dataflow.yml', 'Run until Ctrl-C')
      .example('$0 run dataflow.yml --stop-after 30s', 'Run for 30 seconds, then stop cleanly')
      .example('$0 run dataflow.yml --clean-state', "Forget every operator's saved state first"),
  handler: async (args) => {
    const spec = await loadDataflow(args.dataflow)
    await runInForeground(spec, args)
  },
}

/** The options of a foreground run, shared by `run`, `record` and `replay`. */
export type ForegroundRunArgs = Omit<RunArgs, 'dataflow'>

/** `yargs` with the options of a foreground run (`run`, `record`, `replay`). */
export function runOptions<T>(yargs: Argv<T>): Argv<T & ForegroundRunArgs> {
  return yargs
    .option('stop-after', { type: 'string', describe: 'Stop the dataflow after this long, e.g. 30s' })
    .option('grace', { type: 'string', default: '10s', describe: 'Time nodes get to handle Stop before SIGTERM' })
    .option('state-dir', { type: 'string', describe: 'Root of operator state (default: state_dir in the YAML, else .dora-ts/state next to it)' })
    .option('clean-state', { type: 'boolean', default: false, describe: 'Start from empty operator state on purpose' })
    .option('name', { type: 'string', describe: 'Name of this run (default: the YAML name: or file name); names its state' })
    .option('kvs-dir', {
      type: 'string',
      describe: 'Directory of the shared key-value store (default: $DORA_TS_KVS_DIR, else $XDG_STATE_HOME/dora-ts/kvs, else ~/.local/state/dora-ts/kvs)',
    })
    .option('kvs-map-size', {
      type: 'string',
      describe:
        'Size limit of the shared key-value store, e.g. 2GiB (default: kvs_map_size in the YAML, else 1GiB); raise it when writes fail with DORA_KVS_MAP_FULL',
    }) as unknown as Argv<T & ForegroundRunArgs>
}

/**
 * Run `spec` in the foreground until every node ended, `--stop-after`, or Ctrl-C (see the
 * module's comment); sets the process's exit code from how it ended.
 */
export async function runInForeground(spec: DataflowSpec, args: ForegroundRunArgs): Promise<void> {
  // Never holds the supervisor up: a terminal that stops reading misses lines instead.
  const printer = createPrinter(process.stdout, process.stderr, { live: true })
  const stopAfterMs = args['stop-after'] === undefined ? undefined : durationOption('--stop-after', args['stop-after']) * 1000
  const graceMs = durationOption('--grace', args.grace) * 1000
  for (const note of spec.notes ?? []) printer.info(`note: ${note}`)
  // It names the state and log folders: an identifier, never a path (issue 13).
  if (args.name !== undefined) spec.name = checkName(args.name, { what: '--name' })
  // eslint-disable-next-line prefer-const -- assigned once the run exists (its id names the log folder); the callback reads it later
  let logs: RunLogWriter | undefined
  // Closed on every way out of the handler (a failed start, a throw): nothing is left open.
  await using run = new DataflowRun(spec, {
    graceMs,
    stopAfterMs,
    log: (entry) => {
      printer.log(entry)
      logs?.write(entry)
    },
    stateDir: args['state-dir'] === undefined ? undefined : resolve(args['state-dir']),
    cleanState: args['clean-state'],
    kvsDir: args['kvs-dir'] === undefined ? undefined : resolve(args['kvs-dir']),
    ...(args['kvs-map-size'] === undefined ? {} : { kvsMapSizeBytes: byteSizeOption('--kvs-map-size', args['kvs-map-size']) }),
  })

  // On the terminal and in the run's log, as the background supervisor says it in its own:
  // why timers fired late and messages waited, when the machine is loaded past its cores.
  using _stalls = new StallWatch((ms) => {
    const entry: LogEntry = { source: 'dora-ts', stream: 'supervisor', level: 'warn', text: stallText(ms) }
    printer.log(entry)
    logs?.write(entry)
  })
  let interrupts = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++
    if (interrupts === 1) printer.info(`${signal}: stopping dataflow "${spec.name}" (again to skip the ${graceMs / 1000} s grace period)`)
    else printer.info(`${signal} again: terminating every node now`)
    run.stop()
  }
  // The terminal gone (an SSH session dropped: SIGHUP, then EIO on writes; a closed pipe):
  // stop cleanly, as for a first Ctrl-C, and leave the reason in the run's log.
  let hungUp = false
  const onHangUp = (why: string): void => {
    if (hungUp) return
    hungUp = true
    const entry: LogEntry = { source: 'dora-ts', stream: 'supervisor', level: 'warn', text: `${why}: stopping dataflow "${spec.name}"` }
    printer.log(entry)
    logs?.write(entry)
    if (interrupts++ === 0) run.stop()
  }
  const onSighup = (): void => onHangUp('SIGHUP (the terminal hung up)')
  logs = openRunLogs(spec, run.id, printer)
  logs?.writeInfo({ dataflow: spec.name, file: spec.file, stateDir: run.stateDir })
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSighup)
  onOutputGone(() => onHangUp('the output was closed'))
  let control: ForegroundControl | undefined
  try {
    await run.start()
    // `dora-ts topic` from another terminal reaches this run too; never a reason not to run.
    control = await ForegroundControl.start(run, spec.name, logs?.dir ?? '').catch((err: unknown) => {
      printer.info(`note: dora-ts topic, list and kill will not reach this run: ${errorMessage(err)}`)
      return undefined
    })
    const where = logs === undefined ? '' : `; logs in ${logs.dir} (dora-ts logs ${spec.name})`
    // Not "running" when it is already stopping: a node failed to start, or a Stop came
    // during start-up (an operator that never finished loading).
    if (run.stopping) printer.info(`dataflow "${spec.name}" stopped while starting (id ${run.id})${where}`)
    else printer.info(`dataflow "${spec.name}" running (id ${run.id})${where}`)
    const result = await run.done
    // The same closing line as a supervisor's run (daemon/server.ts), in the log only: the
    // terminal gets the summary below.
    const failed = result.units.filter((u) => u.status === 'failed').map((u) => `${u.unit}: ${u.error ?? 'failed'}`)
    logs?.write({
      source: 'dora-ts',
      stream: 'supervisor',
      level: result.ok ? 'info' : 'error',
      text: `dataflow finished (${result.reason})${failed.length === 0 ? '' : `; failed: ${failed.join('; ')}`}`,
    })
    await logs?.finish(result)
    process.exitCode = summarize(result, printer)
  } finally {
    await control?.close()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onSighup)
    onOutputGone(undefined)
  }
}

/**
 * The run's log files, in the same place as the supervisor's runs (daemon/paths.ts). A log
 * folder that cannot be made is reported and the run goes on without it: logs must not stop a
 * dataflow from running in the foreground, where its output is on the terminal anyway.
 */
function openRunLogs(spec: DataflowSpec, runId: string, printer: Printer): RunLogWriter | undefined {
  const { logsRoot } = daemonPaths()
  try {
    ensureLogsRoot(logsRoot)
    return new RunLogWriter(logsRoot, spec.name, runId, logUnitsOf(spec))
  } catch (err) {
    printer.error(`this run keeps no log files: ${err instanceof DoraError ? err.describe() : errorMessage(err)}`)
    return undefined
  }
}

/** Print how the run ended; returns the exit code. */
function summarize(result: RunResult, printer: Printer): number {
  for (const [input, count] of Object.entries(result.dropped))
    printer.info(`${input}: ${count} message${count === 1 ? '' : 's'} dropped (queue full under drop_oldest, or best effort lost with a crash)`)
  const failed = result.units.filter((u) => u.status === 'failed')
  if (failed.length === 0) {
    printer.info(`dataflow finished (${result.reason}): ${result.units.length} node${result.units.length === 1 ? '' : 's'} ended cleanly`)
    return 0
  }
  for (const unit of failed) {
    const tail = unit.stderrTail.length === 0 ? '' : `\n  last stderr lines:\n${unit.stderrTail.map((l) => `    ${l}`).join('\n')}`
    printer.error(`node "${unit.unit}" failed: ${unit.error ?? 'unknown error'}${tail}`)
  }
  printer.error(`dataflow ended with ${failed.length} failed node${failed.length === 1 ? '' : 's'}`)
  // Said again last: the run's notice of it scrolled away above the failures it caused.
  if (failed.some((unit) => isOutOfFds(unit.error))) printer.error(outOfFdsNotice())
  return 1
}
