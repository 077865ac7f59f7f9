/**
 * `dora-ts restart NAME NODE[/OPERATOR]`: start one node or operator of a running dataflow again
 * now, whatever its restart policy and without counting against max_restarts: after changing
 * its code, re-plugging its device, or to see it come back. It is ended as a crash is (SIGKILL,
 * or its worker terminated), so what it had not consumed is given again to the new process.
 * As dora's `node restart`.
 */
import type { CommandModule } from 'yargs'
import { DaemonClient } from '../daemon/client.js'
import { createPrinter } from './output.js'

interface RestartArgs {
  name: string
  node: string
}

export const restartCommand: CommandModule<object, RestartArgs> = {
  command: 'restart <name> <node>',
  describe: 'Restart a node or operator of a running dataflow now, whatever its restart policy',
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'Dataflow name or id' })
      .positional('node', { type: 'string', demandOption: true, describe: 'node, or node/operator' })
      .example('$0 restart robot planner', 'Run the planner again (its new code, say); the rest of the dataflow runs on'),
  handler: async (args) => {
    const client = DaemonClient.connect()
    try {
      const done = await client.request<{ unit: string; pid?: number }>('restart', { target: args.name, unit: args.node })
      createPrinter().info(`${done.unit}${done.pid === undefined ? '' : ` (pid ${done.pid})`} restarted; what it had not consumed is given to it again`)
    } finally {
      client.close()
    }
  },
}
