/** `dora-ts list` (alias `ps`): dataflows on the supervisor and, per node and operator, how they are. */
import type { CommandModule } from 'yargs'
import { DaemonClient } from '../daemon/client.js'
import type { DataflowInfo } from '../daemon/server.js'
import type { UnitInfo } from '../supervisor/counters.js'

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
    const client = DaemonClient.connect()
    let dataflows: DataflowInfo[]
    try {
      dataflows = await client.request<DataflowInfo[]>('list')
    } finally {
      client.close()
    }
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
      process.stdout.write(`${df.name}  ${df.id}  ${df.status}  ${uptime}  ${df.file}\n`)
      const rows = df.units.map((u) => {
        const state = df.state.find((s) => s.operator === u.name || s.operator.replace(/^.*?\//, '') === u.name)
        return [
          u.name,
          u.kind,
          u.status,
          String(u.restarts),
          u.pid === undefined ? '-' : u.kind === 'operator' ? `${u.pid}/t${u.threadId ?? '-'}` : String(u.pid),
          u.status === 'finished' || u.status === 'failed' ? '-' : formatDuration(u.uptimeMs),
          memoryOf(u),
          cpuOf(u),
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

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    `  ${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`
  return line(header) + rows.map(line).join('')
}

/** A custom node's resident memory, and its max_memory_mb if it has one; operators live in the supervisor's process. */
function memoryOf(u: UnitInfo): string {
  if (u.residentBytes === undefined) return '-'
  const held = formatBytes(u.residentBytes)
  return u.maxMemoryMb === undefined ? held : `${held} of ${u.maxMemoryMb} MiB`
}

/**
 * A custom node's CPU use as `ps` gives it: its processes' CPU time over its uptime, in percent
 * of one core (a node using two cores reads 200%).
 */
function cpuOf(u: UnitInfo): string {
  if (u.cpuSeconds === undefined || u.uptimeMs <= 0) return '-'
  return `${Math.round((u.cpuSeconds * 100_000) / u.uptimeMs)}%`
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
