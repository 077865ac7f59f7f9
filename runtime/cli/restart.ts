/**
 * `dora-ts restart NAME NODE[/OPERATOR]`: start one node or operator of a running dataflow again
 * now, whatever its restart policy and without counting against max_restarts: after changing
 * its code, re-plugging its device, or to see it come back. It is ended as a crash is (SIGKILL,
 * or its worker terminated), so what it had not consumed is given again to the new process.
 * As dora's `node restart`.
 *
 * `dora-ts restart NAME`: the whole dataflow, stopped as `stop` does and started again from its
 * YAML (read anew) with the options it was started with, as dora's `restart`.
 */
import type { CommandModule } from 'yargs'
import { connectToSupervisor, withConnection } from './connect.js'
import { createPrinter } from './output.js'
import { CliUsageError, durationOption } from './options.js'
import { reportStarted } from './start.js'
import { reportStopped } from './stop.js'
import type { StartReply } from '../daemon/server.js'
import type { RunResult } from '../supervisor/dataflow-run.js'

interface RestartArgs {
  name: string
  node?: string | undefined
  grace?: string | undefined
}

export const restartCommand: CommandModule<object, RestartArgs> = {
  command: 'restart <name> [node]',
  describe: 'Restart a node or operator of a running dataflow now, whatever its restart policy; or, without a node, the whole dataflow',
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'Dataflow name or id' })
      .positional('node', { type: 'string', describe: 'node, or node/operator (omit it to restart the whole dataflow)' })
      .option('grace', { type: 'string', describe: "Restarting the whole dataflow: the time its nodes get to handle Stop (default: the run's)" })
      .example('$0 restart robot planner', 'Run the planner again (its new code, say); the rest of the dataflow runs on')
      .example('$0 restart robot', 'Stop "robot" and start it again from its YAML, read anew'),
  handler: async (args) => {
    if (args.node === undefined) return restartDataflow(args.name, args.grace === undefined ? undefined : durationOption('--grace', args.grace) * 1000)
    if (args.grace !== undefined)
      throw new CliUsageError('--grace is for restarting a whole dataflow', { hint: 'A node is restarted at once, as a crash ends it; drop --grace.' })
    const done = await withConnection(args.name, (client) => client.request<{ unit: string; pid?: number }>('restart', { target: args.name, unit: args.node }))
    createPrinter().info(`${done.unit}${done.pid === undefined ? '' : ` (pid ${done.pid})`} restarted; what it had not consumed is given to it again`)
  },
}

async function restartDataflow(name: string, graceMs: number | undefined): Promise<void> {
  const printer = createPrinter()
  const client = connectToSupervisor(name, 'restart')
  let reply: StartReply & { stopped: RunResult }
  try {
    // The run's grace period, then a start's wait for its nodes: minutes at most.
    reply = await client.request<StartReply & { stopped: RunResult }>('restart', { target: name, graceMs }, { timeoutMs: (graceMs ?? 60_000) + 300_000 })
  } finally {
    client.close()
  }
  reportStopped(name, reply.stopped, printer)
  if (reportStarted(reply, printer)) process.exitCode = 1
  process.stdout.write(`${reply.id}\n`)
}
