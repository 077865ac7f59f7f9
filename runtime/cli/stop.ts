/** `dora-ts stop [NAME|ID]`: stop a dataflow on the supervisor (Stop, grace, SIGTERM, SIGKILL). */
import type { CommandModule } from 'yargs'
import { connectToSupervisor } from './connect.js'
import type { RunResult } from '../supervisor/dataflow-run.js'
import { createPrinter, type Printer } from './output.js'
import { durationOption } from './options.js'

interface StopArgs {
  target?: string | undefined
  grace?: string | undefined
  force?: boolean | undefined
}

export const stopCommand: CommandModule<object, StopArgs> = {
  command: 'stop [target]',
  describe: 'Stop a running dataflow (by name or id; the only one if omitted)',
  builder: (yargs) =>
    yargs
      .positional('target', { type: 'string', describe: 'Dataflow name or id' })
      .option('grace', { type: 'string', describe: 'Time nodes get to handle Stop before SIGTERM (default: as started)' })
      .option('force', { type: 'boolean', describe: 'No grace period: SIGTERM at once, SIGKILL 3 s later (as --grace 0)' })
      .conflicts('force', 'grace')
      .example('$0 stop robot --grace 2s', 'Stop "robot", giving nodes 2 s to finish')
      .example('$0 stop robot --force', 'Stop "robot" without waiting for its nodes to handle Stop'),
  handler: async (args) => {
    const printer = createPrinter()
    const graceMs = args.force === true ? 0 : args.grace === undefined ? undefined : durationOption('--grace', args.grace) * 1000
    const client = connectToSupervisor(args.target, 'stop')
    try {
      const { name, result } = await client.request<{ name: string; result: RunResult }>(
        'stop',
        { target: args.target, graceMs },
        { timeoutMs: (graceMs ?? 60_000) + 30_000 },
      )
      if (reportStopped(name, result, printer)) process.exitCode = 1
    } finally {
      client.close()
    }
  },
}

/** Say how a stop went: each node that failed, then the line; true when one failed. */
export function reportStopped(name: string, result: RunResult, printer: Printer): boolean {
  const failed = result.units.filter((u) => u.status === 'failed')
  for (const unit of failed) printer.error(`node "${unit.unit}" failed: ${unit.error ?? 'unknown error'}`)
  printer.info(`dataflow "${name}" stopped${failed.length === 0 ? '' : ` with ${failed.length} failed node${failed.length === 1 ? '' : 's'}`}`)
  return failed.length > 0
}
