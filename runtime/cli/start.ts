/**
 * `dora-ts start dataflow.yml`: validate, then run it on the supervisor; prints its name and
 * id. `--attach` streams its logs until it ends (Ctrl-C stops it, a second Ctrl-C skips the
 * grace period).
 *
 * It answers once the run is past its start-up: every custom node connected (each within its
 * `connect_timeout`) and every operator ready, or a node failed. Exit 0 means it is running;
 * a dataflow that fails at once exits 1 with the failure, as `dora-ts run` would (issue 14).
 */
import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { DaemonClient, runningDaemonPid } from '../daemon/client.js'
import { DaemonNotRunningError } from '../daemon/errors.js'
import { launchDaemon } from '../daemon/launch.js'
import { createPrinter, type Printer } from './output.js'
import { durationOption } from './options.js'
import { ENV_KVS_DIR } from '../../src/store/kvs/store.js'
import { followRunLogs } from './logs.js'
import type { RunResult } from '../supervisor/dataflow-run.js'
import type { StartReply } from '../daemon/server.js'
import { errorMessage } from '../../src/errors.js'
import { DEFAULT_CONNECT_TIMEOUT_S } from '../../src/spec/types.js'

interface StartArgs {
  dataflow: string
  name?: string | undefined
  attach: boolean
  'clean-state': boolean
  'state-dir'?: string | undefined
  'kvs-dir'?: string | undefined
  grace: string
  'stop-after'?: string | undefined
  'auto-up': boolean
}

function kvsDirOf(option: string | undefined): string | undefined {
  const dir = option ?? process.env[ENV_KVS_DIR]
  return dir === undefined || dir === '' ? undefined : resolve(dir)
}

export const startCommand: CommandModule<object, StartArgs> = {
  command: 'start <dataflow>',
  describe:
    'Run a dataflow on the supervisor (dora-ts up). Exits 0 once it is running (every node connected, every operator ready), 1 when it failed to start or a node failed at once',
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .option('name', {
        type: 'string',
        describe: 'Name of this run (default: the YAML name: or file name; when a run of another file has it, a -2, -3... suffix)',
      })
      .option('attach', { type: 'boolean', default: false, describe: 'Stream its logs until it ends; Ctrl-C stops it' })
      .option('clean-state', { type: 'boolean', default: false, describe: 'Start from empty operator state on purpose' })
      .option('state-dir', { type: 'string', describe: 'Root of operator state' })
      .option('kvs-dir', {
        type: 'string',
        describe: `Directory of the shared key-value store (default: $${ENV_KVS_DIR} of this shell, else the supervisor's default, ~/.local/state/dora-ts/kvs)`,
      })
      .option('grace', { type: 'string', default: '10s', describe: 'Time nodes get to handle Stop before SIGTERM' })
      .option('stop-after', { type: 'string', describe: 'Stop the dataflow after this long' })
      .option('auto-up', { type: 'boolean', default: false, describe: 'Start the supervisor first if none is running' })
      .example('$0 start dataflow.yml --attach', 'Run on the supervisor and follow its logs')
      .example('$0 start dataflow.yml --name robot-2', 'Run a second copy under another name')
      .epilog(
        `Exit status: 0 when the dataflow is past its start-up (each custom node connected within its connect_timeout, default ${DEFAULT_CONNECT_TIMEOUT_S} s, or is reported as not connected yet); 1 when it could not start or a node failed during start-up (the failure is printed; dora-ts logs NAME has the rest).`,
      ),
  handler: async (args) => {
    const printer = createPrinter()
    const graceMs = durationOption('--grace', args.grace) * 1000
    const stopAfterMs = args['stop-after'] === undefined ? undefined : durationOption('--stop-after', args['stop-after']) * 1000
    const file = resolve(args.dataflow)
    // Validate here first: mistakes are reported by the CLI with positions, before any daemon.
    const spec = await loadDataflow(file)
    for (const note of spec.notes ?? []) printer.info(`note: ${note}`)
    if (runningDaemonPid() === undefined && process.env['DORA_TS_SUPERVISOR'] === undefined) {
      if (!args['auto-up']) throw new DaemonNotRunningError('no dora-ts supervisor is running', { hint: 'Start one with dora-ts up, or pass --auto-up.' })
      const up = await launchDaemon()
      printer.info(`supervisor started (pid ${up.pid})`)
    }
    const client = DaemonClient.connect()
    // The supervisor answers after start-up: as long as the slowest node's connect_timeout.
    const connectWaitMs = Math.max(0, ...spec.nodes.map((n) => (n.kind === 'custom' ? n.connectTimeout * 1000 : 0)))
    let started: StartReply
    try {
      started = await client.request(
        'start',
        {
          file,
          name: args.name,
          cleanState: args['clean-state'],
          stateDir: args['state-dir'] === undefined ? undefined : resolve(args['state-dir']),
          // The shell's DORA_TS_KVS_DIR is what the user sees; the supervisor may have been started
          // from another environment.
          kvsDir: kvsDirOf(args['kvs-dir']),
          graceMs,
          stopAfterMs,
        },
        { timeoutMs: 60_000 + connectWaitMs },
      )
    } finally {
      client.close()
    }
    const failedAtOnce = reportStarted(started, printer)
    if (!args.attach) {
      process.stdout.write(`${started.id}\n`)
      if (failedAtOnce) process.exitCode = 1
      return
    }
    let interrupts = 0
    const onSignal = (): void => {
      interrupts++
      const stopper = DaemonClient.connect()
      printer.info(interrupts === 1 ? `stopping "${started.name}" (again to skip the grace period)` : 'terminating every node now')
      stopper
        .request('stop', { target: started.id, graceMs: interrupts === 1 ? undefined : 0 }, { timeoutMs: graceMs + 30_000 })
        .catch((err: unknown) => printer.error(errorMessage(err)))
        .finally(() => stopper.close())
    }
    process.on('SIGINT', onSignal)
    try {
      const result = (await followRunLogs(started.logDir, undefined, printer)) as RunResult | undefined
      process.exitCode = !failedAtOnce && (result === undefined || result.ok) ? 0 : 1
    } finally {
      process.off('SIGINT', onSignal)
    }
  },
}

/** Say how a start went (a rename, nodes that failed at once, nodes not yet connected or loaded); true when a node failed at once. */
export function reportStarted(started: StartReply, printer: Printer): boolean {
  if (started.renamed !== undefined) {
    printer.info(
      `"${started.renamed.from}" is taken by a run of ${started.renamed.clashWith}: this run is named "${started.name}" on the supervisor (its state and KVS namespace stay "${started.renamed.from}"); choose with --name or name: in the YAML`,
    )
  }
  const failedAtOnce = started.failed.length > 0
  if (failedAtOnce) {
    for (const unit of started.failed) {
      const tail = unit.stderrTail.length === 0 ? '' : `\n  last stderr lines:\n${unit.stderrTail.map((l) => `    ${l}`).join('\n')}`
      printer.error(`node "${unit.unit}" failed: ${unit.error ?? 'unknown error'}${tail}`)
    }
    printer.error(
      started.ended
        ? `dataflow "${started.name}" (id ${started.id}) failed at start and has ended; dora-ts logs ${started.name} shows its logs`
        : `dataflow "${started.name}" (id ${started.id}) started, but ${started.failed.length === 1 ? 'a node' : `${started.failed.length} nodes`} failed at once; the rest still runs (dora-ts stop ${started.name}, dora-ts logs ${started.name})`,
    )
  } else {
    printer.info(`started dataflow "${started.name}" (id ${started.id}); logs: dora-ts logs ${started.name}`)
  }
  for (const node of started.notConnected) {
    printer.info(`warning: node "${node}" has not connected yet (its program must call Node.connect()); dora-ts logs ${started.name} ${node}`)
  }
  for (const operator of started.loading) {
    printer.info(
      `warning: operator ${operator} has not finished loading yet (its module's top level, restoreState() or init() has not returned); dora-ts logs ${started.name}, dora-ts stop ${started.name}`,
    )
  }
  return failedAtOnce
}
