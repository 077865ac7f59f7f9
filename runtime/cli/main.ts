#!/usr/bin/env node
/**
 * The `dora-ts` command line. One file per command; this one only wires them together.
 *
 * Start-up time matters (`dora-ts list` in a watch loop, `npx dora-ts` in scripts): loading
 * every command pulls in yargs, LMDB, ZeroMQ and the spec parser, about 3x the cost of a bare
 * `node`. So `--version` answers without loading anything, and a named command loads only its
 * own module; help and unknown commands load them all.
 */
import { readFileSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import { checkOpenFileLimit } from '../../src/fd-limit.js'
import { createPrinter, reportError } from './output.js'
import { watchOutput } from './terminal.js'

interface CommandEntry {
  names: readonly string[]
  load: () => Promise<CommandModule<object, never>>
}

// One row per command, in help order. `names`: the command and its aliases (list.ts's `ps`).
const COMMANDS: readonly CommandEntry[] = [
  { names: ['run'], load: async () => (await import('./run.js')).runCommand as CommandModule<object, never> },
  { names: ['check'], load: async () => (await import('./check.js')).checkCommand as CommandModule<object, never> },
  { names: ['record'], load: async () => (await import('./record.js')).recordCommand as CommandModule<object, never> },
  { names: ['replay'], load: async () => (await import('./replay.js')).replayCommand as CommandModule<object, never> },
  { names: ['build'], load: async () => (await import('./build.js')).buildCommand as CommandModule<object, never> },
  { names: ['kvs'], load: async () => (await import('./kvs.js')).kvsCommand as CommandModule<object, never> },
  { names: ['graph'], load: async () => (await import('./graph.js')).graphCommand as CommandModule<object, never> },
  { names: ['new'], load: async () => (await import('./new.js')).newCommand as CommandModule<object, never> },
  { names: ['state'], load: async () => (await import('./state.js')).stateCommand as CommandModule<object, never> },
  { names: ['up'], load: async () => (await import('./up.js')).upCommand as CommandModule<object, never> },
  { names: ['start'], load: async () => (await import('./start.js')).startCommand as CommandModule<object, never> },
  { names: ['stop'], load: async () => (await import('./stop.js')).stopCommand as CommandModule<object, never> },
  { names: ['list', 'ps'], load: async () => (await import('./list.js')).listCommand as CommandModule<object, never> },
  { names: ['top'], load: async () => (await import('./top.js')).topCommand as CommandModule<object, never> },
  { names: ['logs'], load: async () => (await import('./logs.js')).logsCommand as CommandModule<object, never> },
  { names: ['restart'], load: async () => (await import('./restart.js')).restartCommand as CommandModule<object, never> },
  { names: ['topic'], load: async () => (await import('./topic.js')).topicCommand as CommandModule<object, never> },
  { names: ['kill'], load: async () => (await import('./kill.js')).killCommand as CommandModule<object, never> },
  { names: ['destroy'], load: async () => (await import('./destroy.js')).destroyCommand as CommandModule<object, never> },
  { names: ['daemon'], load: async () => (await import('./daemon.js')).daemonCommand as CommandModule<object, never> },
  { names: ['keys'], load: async () => (await import('./keys.js')).keysCommand as CommandModule<object, never> },
]

/** Words other tools (and dora's CLI) use for our commands: a did-you-mean by meaning, not spelling. */
const SYNONYMS: Readonly<Record<string, string>> = { validate: 'check', ls: 'list', status: 'list', log: 'logs', init: 'new', spawn: 'start', down: 'destroy' }

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

const printer = createPrinter()
const argv = process.argv.slice(2)

// `dora-ts list | head -1` closes the pipe early: that is the reader being done, not an error.
watchOutput()

try {
  await main(argv)
} catch (err) {
  process.exitCode = reportError(err, printer)
}

async function main(args: string[]): Promise<void> {
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    process.stdout.write(`${packageVersion()}\n`)
    return
  }
  // Before any command's modules load: too few open files fails them in confusing ways.
  checkOpenFileLimit()
  // `list` is the command people run in a loop (`watch dora-ts list`): with no options but
  // --json it needs no parser, and yargs alone costs about as much as starting node.
  if ((args[0] === 'list' || args[0] === 'ps') && args.length <= 2 && (args.length === 1 || args[1] === '--json')) {
    const { listCommand } = await import('./list.js')
    await listCommand.handler({ json: args[1] === '--json', _: [args[0]], $0: 'dora-ts' })
    return
  }
  // Linux hands Node its arguments as bytes; Node decodes them as UTF-8 and turns bytes that
  // are not into U+FFFD, so a key or value would be stored silently altered. Refuse instead.
  const mangled = args.findIndex((arg) => arg.includes('\uFFFD'))
  if (mangled !== -1) {
    const { CliUsageError } = await import('./options.js')
    throw new CliUsageError(`argument ${mangled + 1} (${JSON.stringify(args[mangled])}) is not valid UTF-8 text`, {
      hint: 'dora-ts takes text arguments; pass binary data with --file PATH (or --file - for stdin), e.g. dora-ts kvs put KEY --file value.bin',
    })
  }
  const first = args.find((arg) => !arg.startsWith('-'))
  const named = first === undefined ? undefined : COMMANDS.find((c) => c.names.includes(first))
  if (first !== undefined && named === undefined && first !== 'completion' && first !== 'help') {
    // Before yargs: with --help it would print the general help and exit 0 for a typo.
    const { didYouMean } = await import('../../src/spec/did-you-mean.js')
    const synonym = SYNONYMS[first]
    const suggestion =
      synonym === undefined
        ? didYouMean(
            first,
            COMMANDS.map((c) => c.names[0]!),
          )
        : ` (did you mean "${synonym}"?)`
    printer.error(`unknown command "${first}"${suggestion}\nRun dora-ts --help for the list of commands.`)
    process.exitCode = 2
    return
  }
  const wanted = named === undefined ? COMMANDS : [named]
  const [{ default: yargs }, { hideBin }, { normalizeStdinArgs }, modules] = await Promise.all([
    import('yargs'),
    import('yargs/helpers'),
    import('./stdin-args.js'),
    Promise.all(wanted.map((c) => c.load())),
  ])
  let parser = yargs(normalizeStdinArgs(hideBin(process.argv))).scriptName('dora-ts')
  for (const module of modules) parser = parser.command(module)
  await parser
    .demandCommand(1, 'Name a command; see dora-ts --help.')
    .strict()
    .version(packageVersion())
    .completion('completion', 'Print a shell completion script')
    .fail((message, err) => {
      if (err !== undefined && err !== null) throw err
      printer.error(`${message}\nRun dora-ts --help for usage.`)
      process.exit(2)
    })
    .help()
    .parseAsync()
}
