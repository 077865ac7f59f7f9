/**
 * `dora-ts kill NAME NODE[/OPERATOR]`: fault injection for crash-restart testing on a robot.
 * Crashes a running operator (its worker is terminated) or custom node (SIGKILL, or
 * `--signal`), and lets its restart policy act.
 */
import type { CommandModule } from 'yargs'
import { withConnection } from './connect.js'
import { CliUsageError } from './options.js'
import { createPrinter } from './output.js'
import { constants } from 'node:os'

interface KillArgs {
  name: string
  node: string
  signal: string
}

/** `SIGKILL` from `SIGKILL`, `kill`, or `9` (as kill(1) takes it); undefined when it is none. */
function signalName(value: string): string | undefined {
  const signals = constants.signals as Record<string, number>
  if (/^\d+$/.test(value)) return Object.keys(signals).find((name) => signals[name] === Number(value))
  const upper = value.toUpperCase()
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`
  return Object.hasOwn(signals, name) ? name : undefined
}

export const killCommand: CommandModule<object, KillArgs> = {
  command: 'kill <name> <node>',
  describe: 'Crash a node or operator on purpose; its restart policy acts',
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'Dataflow name or id' })
      .positional('node', { type: 'string', demandOption: true, describe: 'node, or node/operator' })
      .option('signal', { type: 'string', default: 'SIGKILL', describe: 'Signal for a custom node, by name or number (operators are always terminated)' })
      .example('$0 kill robot obstacle-filter', 'Crash the filter operator; watch it restart with its state'),
  handler: async (args) => {
    const signal = signalName(args.signal)
    if (signal === undefined) {
      throw new CliUsageError(`--signal ${args.signal} is not a signal`, { hint: 'Use a name such as SIGKILL, SIGTERM or SIGSEGV, or a number such as 9.' })
    }
    const killed = await withConnection(args.name, (client) =>
      client.request<{ unit: string; pid?: number }>('kill', { target: args.name, unit: args.node, signal }),
    )
    createPrinter().info(`${killed.unit}${killed.pid === undefined ? '' : ` (pid ${killed.pid})`} killed; its restart policy decides what happens next`)
  },
}
