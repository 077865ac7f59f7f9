/**
 * `dora-ts top [NAME]`: `dora-ts list`, refreshed, with what changed since the last look: each
 * node's CPU (an operator's: its worker's busy time) over the interval, not since it started,
 * which hides a node that just began to spin (the first frame has only that), and messages in
 * and out per second. As dora's own `top`, and `watch dora-ts list` without the arithmetic.
 *
 * On a terminal each frame replaces the last; piped, frames follow one another, each headed by
 * its time (`--iterations N` ends after N of them, for scripts).
 */
import type { CommandModule } from 'yargs'
import { listEverywhere } from './connect.js'
import type { DataflowInfo } from '../daemon/server.js'
import { UnknownDataflowError } from '../daemon/errors.js'
import type { UnitInfo } from '../supervisor/counters.js'
import { CliUsageError, durationOption, wholeNumberOption } from './options.js'
import { cpuSinceStart, formatDuration, memoryOf, percentOfCore, table, unitCells } from './unit-table.js'

interface TopArgs {
  name?: string | undefined
  interval: string
  iterations?: number | undefined
}

/** What a unit was at the last frame: the base of the next frame's rates. */
interface Sample {
  pid: number | undefined
  restarts: number
  uptimeMs: number
  cpuSeconds: number | undefined
  messagesIn: number
  messagesOut: number
}

const CLEAR = '\x1b[H\x1b[2J'

export const topCommand: CommandModule<object, TopArgs> = {
  command: 'top [name]',
  describe: "Watch dataflows' nodes live: CPU and messages per second since the last refresh, memory, restarts",
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'Only this dataflow (name or id prefix)' })
      .option('interval', { type: 'string', default: '2s', describe: 'Time between refreshes, e.g. 1s' })
      .option('iterations', { alias: 'n', type: 'number', describe: 'Print this many frames, then exit' })
      .example('$0 top', 'Every dataflow on the supervisor, refreshed every 2 s (Ctrl-C quits)')
      .example('$0 top robot --interval 1s', 'One dataflow, every second'),
  handler: async (args) => {
    const intervalMs = durationOption('--interval', args.interval) * 1000
    if (intervalMs < 100) throw new CliUsageError(`--interval ${args.interval} is too short`, { hint: 'Use 100ms or more, e.g. --interval 1s.' })
    const iterations =
      args.iterations === undefined
        ? undefined
        : wholeNumberOption('--iterations', args.iterations, 1, 'a number of frames', 'Use a whole number from 1, e.g. -n 5.')
    const terminal = process.stdout.isTTY === true
    const previous = new Map<string, Sample>()
    for (let frame = 1; iterations === undefined || frame <= iterations; frame++) {
      const dataflows = chosen(await listEverywhere(), args.name)
      const text = render(dataflows, previous)
      const head = terminal ? `${CLEAR}dora-ts top: every ${args.interval}, Ctrl-C quits\n\n` : `${frame > 1 ? '\n' : ''}${new Date().toISOString()}\n`
      process.stdout.write(head + text)
      if (iterations === undefined || frame < iterations) await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  },
}

/** The dataflows to show: all, or the one `name` (or id prefix) names. */
function chosen(dataflows: DataflowInfo[], name: string | undefined): DataflowInfo[] {
  if (name === undefined) return dataflows
  const found = dataflows.filter((df) => df.name === name || df.id.startsWith(name))
  if (found.length === 0) {
    throw new UnknownDataflowError(`no dataflow on the supervisor is named "${name}" or has an id starting with it`, {
      hint: dataflows.length === 0 ? 'None is running; start one with dora-ts start dataflow.yml.' : `Listed: ${dataflows.map((df) => df.name).join(', ')}.`,
    })
  }
  return found
}

/** One frame; `previous` holds the last frame's samples and is updated to this one's. */
function render(dataflows: DataflowInfo[], previous: Map<string, Sample>): string {
  if (dataflows.length === 0) return 'no dataflows\n'
  let out = ''
  for (const df of dataflows) {
    const uptime = `${df.endedAt === undefined ? 'up' : 'ran'} ${formatDuration(df.uptimeMs)}`
    out += `${df.name}  ${df.status}  ${uptime}\n`
    const rows = df.units.map((u) => {
      const key = `${df.id}/${u.name}`
      const before = previous.get(key)
      previous.set(key, sampleOf(u))
      // The same process as at the last frame: rates over the interval; else none yet.
      const same = before !== undefined && before.pid === u.pid && before.restarts === u.restarts && u.uptimeMs > before.uptimeMs
      const spanMs = same ? u.uptimeMs - before.uptimeMs : 0
      const live = u.status !== 'finished' && u.status !== 'failed'
      return [
        ...unitCells(u),
        memoryOf(u),
        // At the first look (or after a restart), since the process started, as list gives it.
        !live ? '-' : same && u.cpuSeconds !== undefined ? percentOfCore(u.cpuSeconds - (before.cpuSeconds ?? 0), spanMs) : cpuSinceStart(u),
        same && live ? perSecond(u.messagesIn - before.messagesIn, spanMs) : '-',
        same && live ? perSecond(u.messagesOut - before.messagesOut, spanMs) : '-',
        String(u.messagesDropped ?? 0),
      ]
    })
    out += table(['NODE', 'KIND', 'STATUS', 'RESTARTS', 'PID', 'MEM', 'CPU', 'IN/s', 'OUT/s', 'DROPPED'], rows)
  }
  return out
}

function sampleOf(u: UnitInfo): Sample {
  return { pid: u.pid, restarts: u.restarts, uptimeMs: u.uptimeMs, cpuSeconds: u.cpuSeconds, messagesIn: u.messagesIn, messagesOut: u.messagesOut }
}

function perSecond(count: number, overMs: number): string {
  const rate = (Math.max(0, count) * 1000) / overMs
  return rate >= 100 ? String(Math.round(rate)) : rate.toFixed(1)
}
