/**
 * `dora-ts logs NAME [NODE]`: the logs of a dataflow's latest run (on the supervisor or in the
 * foreground with `dora-ts run`), kept on disk per run and per node, with the restarts and
 * crashes (and their errors) in order. `--follow` keeps printing until the run ends.
 *
 * Every line goes to stdout, the supervisor's notices included: `dora-ts logs robot | grep` must
 * see the crash and restart lines in their place between the nodes' own lines (issue 14).
 */
import type { CommandModule } from 'yargs'
import { daemonPaths } from '../daemon/paths.js'
import { UnknownDataflowError, UnknownNodeError } from '../daemon/errors.js'
import { loggedDataflows, readRunLogs, readRunResult, runLogDirs, runLogFiles, logFileName, SUPERVISOR_LOG, type LogLine } from '../daemon/run-logs.js'
import { logExists } from '../daemon/log-files.js'
import { join } from 'node:path'
import { createPrinter, type Printer } from './output.js'
import { durationOption } from './options.js'

interface LogsArgs {
  name: string
  node?: string | undefined
  follow: boolean
  since?: string | undefined
}

export const logsCommand: CommandModule<object, LogsArgs> = {
  command: 'logs <name> [node]',
  describe: "Show a dataflow's logs (its latest run), or one node's",
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'Dataflow name' })
      .positional('node', { type: 'string', describe: 'Only this node or operator (node/operator)' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep printing until the run ends' })
      .option('since', { type: 'string', describe: 'Only lines newer than this, e.g. 5m' })
      .example('$0 logs robot', 'Everything the latest run of "robot" printed, crashes and restarts included')
      .example('$0 logs robot obstacle-filter --follow', 'Follow one operator'),
  handler: async (args) => {
    // What the log holds is this command's output: all of it on stdout, in order.
    const printer = createPrinter(process.stdout, process.stdout)
    const { logsRoot } = daemonPaths()
    const dirs = runLogDirs(logsRoot, args.name)
    const dir = dirs.at(-1)
    if (dir === undefined) {
      const known = loggedDataflows(logsRoot)
      throw new UnknownDataflowError(`no logs of a dataflow named "${args.name}" in ${logsRoot}`, {
        hint:
          known.length === 0
            ? 'Runs keep logs there, on the supervisor (dora-ts start) and in the foreground (dora-ts run); none has run yet.'
            : `Dataflows with logs: ${known.join(', ')}.`,
      })
    }
    if (args.node !== undefined && !logExists(join(dir, logFileName(args.node)))) {
      const units = runLogFiles(dir)
        .filter((f) => f !== logFileName(SUPERVISOR_LOG))
        .map((f) => f.slice(0, -'.log'.length))
      throw new UnknownNodeError(`the latest run of "${args.name}" has no logs of "${args.node}"`, {
        hint: units.length === 0 ? 'No node has written anything yet.' : `Nodes with logs: ${units.join(', ')}.`,
      })
    }
    const since = args.since === undefined ? undefined : new Date(Date.now() - durationOption('--since', args.since) * 1000).toISOString()
    if (args.follow) await followRunLogs(dir, args.node, printer, since)
    else for (const line of readRunLogs(dir, args.node)) if (since === undefined || line.time >= since) printLine(printer, line)
  },
}

function printLine(printer: Printer, line: LogLine): void {
  const space = line.text.indexOf(' ')
  const stream = line.text.slice(0, space)
  const text = line.text.slice(space + 1)
  if (line.source === 'supervisor' || stream === 'supervisor') {
    printer.log({ source: 'dora-ts', stream: 'supervisor', level: 'info', text: `${line.time.slice(11, 23)} ${text}` })
    return
  }
  printer.log({ source: line.source, stream: 'stdout', level: 'info', text: `${line.time.slice(11, 23)} ${text}` })
}

/** Print a run's logs as they grow until the run has ended; returns its result. */
export async function followRunLogs(dir: string, unit: string | undefined, printer: Printer, since?: string): Promise<unknown> {
  const seen = new Map<string, number>()
  for (;;) {
    // Read the result first: lines written before it are then all on disk.
    const result = readRunResult(dir)
    for (const line of readRunLogs(dir, unit, seen)) if (since === undefined || line.time >= since) printLine(printer, line)
    if (result !== undefined) return result
    await new Promise((r) => setTimeout(r, 200))
  }
}
