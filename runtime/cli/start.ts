/**
 * `dora-ts start dataflow.yml`: validate, then run it on the supervisor; prints its name and
 * id. `--attach` streams its logs until it ends (Ctrl-C stops it, a second Ctrl-C skips the
 * grace period).
 */
import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { DaemonClient, runningDaemonPid } from '../daemon/client.js'
import { DaemonNotRunningError } from '../daemon/errors.js'
import { launchDaemon } from '../daemon/launch.js'
import { createPrinter } from './output.js'
import { durationOption } from './options.js'
import { ENV_KVS_DIR } from '../../src/store/kvs/store.js'
import { followRunLogs } from './logs.js'
import type { RunResult } from '../supervisor/dataflow-run.js'
import { errorMessage } from '../../src/errors.js'

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
  describe: 'Run a dataflow on the supervisor (dora-ts up)',
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .option('name', { type: 'string', describe: 'Name of this run (default: the YAML name: or file name)' })
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
      .example('$0 start dataflow.yml --name robot-2', 'Run a second copy under another name'),
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
    let started: { id: string; name: string; logDir: string }
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
        { timeoutMs: 60_000 },
      )
    } finally {
      client.close()
    }
    printer.info(`started dataflow "${started.name}" (id ${started.id})`)
    if (!args.attach) {
      process.stdout.write(`${started.id}\n`)
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
      process.exitCode = result === undefined || result.ok ? 0 : 1
    } finally {
      process.off('SIGINT', onSignal)
    }
  },
}
