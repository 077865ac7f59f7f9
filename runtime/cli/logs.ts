/**
 * `dora-ts logs NAME [NODE]`: the logs of a dataflow's latest run (on the supervisor or in the
 * foreground with `dora-ts run`), kept on disk per run and per node, with the restarts and
 * crashes (and their errors) in order; `--run 2` the run before it (after `dora-ts restart
 * robot`, the crash was in that one). `--follow` keeps printing until the run ends; `--tail N`
 * starts with the last N lines, `--grep RE` keeps the lines that match (as `journalctl -n`,
 * `docker logs --tail`, and dora's own `logs --tail --grep`).
 *
 * Every line goes to stdout, the supervisor's notices included: `dora-ts logs robot | grep` must
 * see the crash and restart lines in their place between the nodes' own lines (issue 14).
 */
import type { CommandModule } from 'yargs'
import { daemonPaths } from '../daemon/paths.js'
import { UnknownDataflowError, UnknownNodeError } from '../daemon/errors.js'
import {
  keptRuns,
  loggedDataflows,
  readRunLogs,
  readRunResult,
  runLogDirs,
  runLogFiles,
  logFileName,
  SUPERVISOR_LOG,
  type LogLine,
} from '../daemon/run-logs.js'
import { logExists } from '../daemon/log-files.js'
import { join } from 'node:path'
import { createPrinter, type Printer } from './output.js'
import { CliUsageError, durationOption, wholeNumberOption } from './options.js'
import { errorMessage } from '../../src/errors.js'

interface LogsArgs {
  name: string
  node?: string | undefined
  follow: boolean
  since?: string | undefined
  tail?: number | undefined
  grep?: string | undefined
  run?: number | undefined
}

/** Which lines a reading prints. */
export interface LogFilter {
  /** ISO time: only lines at or after it. */
  since?: string | undefined
  /** Only lines whose text or node matches. */
  grep?: RegExp | undefined
  /** Of what is there when the reading starts, only the last this many lines (what comes after, all). */
  tail?: number | undefined
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
      .option('tail', { alias: 'n', type: 'number', describe: 'Only the last N lines (then, with --follow, every new one)' })
      .option('grep', { type: 'string', describe: 'Only lines matching this regular expression (their text or node id)' })
      .option('run', { type: 'number', describe: 'Which run: 1 is the latest (the default), 2 the one before, ...' })
      .example('$0 logs robot', 'Everything the latest run of "robot" printed, crashes and restarts included')
      .example('$0 logs robot obstacle-filter --follow', 'Follow one operator')
      .example("$0 logs robot --tail 50 --grep 'crash|restart'", 'The last 50 crash and restart lines of the latest run'),
  handler: async (args) => {
    // What the log holds is this command's output: all of it on stdout, in order.
    const printer = createPrinter(process.stdout, process.stdout)
    const { logsRoot } = daemonPaths()
    const dirs = runLogDirs(logsRoot, args.name)
    const back = args.run === undefined ? 1 : wholeNumberOption('--run', args.run, 1, 'a run', 'Use 1 for the latest run, 2 for the one before, and so on.')
    const dir = dirs.at(-back)
    if (dir === undefined && dirs.length > 0) {
      throw new UnknownDataflowError(`"${args.name}" has logs of ${dirs.length} run${dirs.length === 1 ? '' : 's'}, not ${back}`, {
        hint: `Use --run 1 (the latest) to --run ${dirs.length}; the newest ${keptRuns()} runs of each dataflow are kept (DORA_TS_KEEP_RUNS).`,
      })
    }
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
      throw new UnknownNodeError(`${back === 1 ? 'the latest run' : `run ${back} back`} of "${args.name}" has no logs of "${args.node}"`, {
        hint: units.length === 0 ? 'No node has written anything yet.' : `Nodes with logs: ${units.join(', ')}.`,
      })
    }
    const filter: LogFilter = {
      since: args.since === undefined ? undefined : new Date(Date.now() - durationOption('--since', args.since) * 1000).toISOString(),
      grep: args.grep === undefined ? undefined : grepOption(args.grep),
      tail: args.tail === undefined ? undefined : wholeNumberOption('--tail', args.tail, 0, 'a number of lines', 'Use a whole number, e.g. --tail 50.'),
    }
    if (args.follow) await followRunLogs(dir, args.node, printer, filter)
    else for (const line of filtered(readRunLogs(dir, args.node), filter)) printLine(printer, line)
  },
}

function grepOption(pattern: string): RegExp {
  try {
    return new RegExp(pattern)
  } catch (err) {
    throw new CliUsageError(`--grep ${JSON.stringify(pattern)} is not a regular expression: ${errorMessage(err)}`, {
      hint: "Use JavaScript's syntax, e.g. --grep 'crash|restart'; escape ( [ { . * + ? with a backslash to match them as they are.",
    })
  }
}

/** The lines `filter` keeps, of those read in one go (its tail, of these). */
function filtered(lines: readonly LogLine[], filter: LogFilter): LogLine[] {
  const kept = lines.filter((line) => keeps(line, filter))
  return filter.tail === undefined ? kept : kept.slice(Math.max(0, kept.length - filter.tail))
}

function keeps(line: LogLine, { since, grep }: LogFilter): boolean {
  if (since !== undefined && line.time < since) return false
  // The text without its stream word, as printed.
  return grep === undefined || grep.test(line.text.slice(line.text.indexOf(' ') + 1)) || grep.test(line.source)
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
export async function followRunLogs(dir: string, unit: string | undefined, printer: Printer, filter: LogFilter = {}): Promise<unknown> {
  const seen = new Map<string, number>()
  // The tail is of what is there at the start; after it, every new line.
  let { tail } = filter
  for (;;) {
    // Read the result first: lines written before it are then all on disk.
    const result = readRunResult(dir)
    for (const line of filtered(readRunLogs(dir, unit, seen), { ...filter, tail })) printLine(printer, line)
    tail = undefined
    if (result !== undefined) return result
    await new Promise((r) => setTimeout(r, 200))
  }
}
