/**
 * `dora-ts stop [NAME|ID]`: stop a dataflow on the supervisor (Stop, grace, SIGTERM, SIGKILL).
 * `dora-ts stop NAME NODE`: stop one node or operator the same way while the rest runs on
 * (dora's `node stop`; runtime/supervisor/unit-stops.ts), also in a foreground run.
 */
import type { CommandModule } from 'yargs'
import { connectToSupervisor, withConnection } from './connect.js'
import type { RunResult, UnitReport } from '../supervisor/dataflow-run.js'
import { createPrinter, type Printer } from './output.js'
import { durationOption } from './options.js'

interface StopArgs {
  target?: string | undefined
  node?: string | undefined
  grace?: string | undefined
  force?: boolean | undefined
}

export const stopCommand: CommandModule<object, StopArgs> = {
  command: 'stop [target] [node]',
  describe: 'Stop a running dataflow (by name or id; the only one if omitted), or one node of it',
  builder: (yargs) =>
    yargs
      .positional('target', { type: 'string', describe: 'Dataflow name or id' })
      .positional('node', { type: 'string', describe: 'Stop only this node or operator (node/operator); the rest runs on' })
      .option('grace', { type: 'string', describe: 'Time nodes get to handle Stop before SIGTERM (default: as started)' })
      .option('force', { type: 'boolean', describe: 'No grace period: SIGTERM at once, SIGKILL 3 s later (as --grace 0)' })
      .conflicts('force', 'grace')
      .example('$0 stop robot --grace 2s', 'Stop "robot", giving nodes 2 s to finish')
      .example('$0 stop robot --force', 'Stop "robot" without waiting for its nodes to handle Stop')
      .example('$0 stop robot camera', 'Stop the node "camera" of "robot"; its receivers see its outputs close'),
  handler: async (args) => {
    const printer = createPrinter()
    const graceMs = args.force === true ? 0 : args.grace === undefined ? undefined : durationOption('--grace', args.grace) * 1000
    if (args.node !== undefined) {
      const node = args.node
      const { name, unit } = await withConnection(args.target, (client) =>
        client.request<{ name: string; unit: UnitReport }>('stop', { target: args.target, unit: node, graceMs }, { timeoutMs: (graceMs ?? 60_000) + 30_000 }),
      )
      if (unit.status === 'failed') {
        printer.error(`node "${unit.unit}" of dataflow "${name}" failed: ${unit.error ?? 'unknown error'}`)
        process.exitCode = 1
      } else printer.info(`node "${unit.unit}" of dataflow "${name}" stopped; the rest runs on`)
      return
    }
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
