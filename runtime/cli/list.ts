/** `dora-ts list` (alias `ps`): dataflows on the supervisor and in the foreground and, per node and operator, how they are. */
import type { CommandModule } from 'yargs'
import { listEverywhere } from './connect.js'
import { cpuSinceStart, formatBytes, formatDuration, memoryOf, table, unitCells } from './unit-table.js'

interface ListArgs {
  json: boolean
}

export const listCommand: CommandModule<object, ListArgs> = {
  command: 'list',
  aliases: ['ps'],
  describe: 'List dataflows and their nodes: status, restarts, pid, uptime, memory, CPU, messages, state size',
  builder: (yargs) =>
    yargs.option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' }).example('$0 list --json', 'Machine-readable listing'),
  handler: async (args) => {
    const dataflows = await listEverywhere()
    if (args.json) {
      process.stdout.write(`${JSON.stringify(dataflows, null, 2)}\n`)
      return
    }
    if (dataflows.length === 0) {
      process.stdout.write('no dataflows\n')
      return
    }
    for (const df of dataflows) {
      // A finished run's uptime stops at its end (it used to keep counting until it was dropped).
      const uptime = `${df.endedAt === undefined ? 'up' : 'ran'} ${formatDuration(df.uptimeMs)}`
      const where = df.foreground === undefined ? '' : `  (in the foreground, pid ${df.foreground.pid})`
      process.stdout.write(`${df.name}  ${df.id}  ${df.status}  ${uptime}  ${df.file}${where}\n`)
      const rows = df.units.map((u) => {
        const state = df.state.find((s) => s.operator === u.name || s.operator.replace(/^.*?\//, '') === u.name)
        return [
          ...unitCells(u),
          u.status === 'finished' || u.status === 'failed' ? '-' : formatDuration(u.uptimeMs),
          memoryOf(u),
          cpuSinceStart(u),
          String(u.messagesIn),
          String(u.messagesOut),
          String(u.messagesDropped ?? 0),
          state === undefined ? '-' : formatBytes(state.bytes),
        ]
      })
      process.stdout.write(table(['NODE', 'KIND', 'STATUS', 'RESTARTS', 'PID', 'UPTIME', 'MEM', 'CPU', 'IN', 'OUT', 'DROPPED', 'STATE'], rows))
    }
  },
}
