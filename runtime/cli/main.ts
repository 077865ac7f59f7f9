#!/usr/bin/env node
/** The `dora-ts` command line. One file per command; this one only wires them together. */
import yargs, { type CommandModule } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { createRequire } from 'node:module'
import { createPrinter, reportError } from './output.js'

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string }

/**
 * Each command's module, loaded on demand: together they pull in the supervisor, ZeroMQ,
 * LMDB, YAML and the daemon, which doubled the start-up of every CLI call (`dora-ts list`
 * loaded LMDB, `dora-ts state ls` the supervisor). Keys are the names and aliases a command
 * line may start with; the order is that of --help.
 */
type Loader = () => Promise<CommandModule<object, never>>
const run: Loader = async () => (await import('./run.js')).runCommand as CommandModule<object, never>
const check: Loader = async () => (await import('./check.js')).checkCommand as CommandModule<object, never>
const kvs: Loader = async () => (await import('./kvs.js')).kvsCommand as CommandModule<object, never>
const graph: Loader = async () => (await import('./graph.js')).graphCommand as CommandModule<object, never>
const scaffold: Loader = async () => (await import('./new.js')).newCommand as CommandModule<object, never>
const state: Loader = async () => (await import('./state.js')).stateCommand as CommandModule<object, never>
const up: Loader = async () => (await import('./up.js')).upCommand as CommandModule<object, never>
const start: Loader = async () => (await import('./start.js')).startCommand as CommandModule<object, never>
const stop: Loader = async () => (await import('./stop.js')).stopCommand as CommandModule<object, never>
const list: Loader = async () => (await import('./list.js')).listCommand as CommandModule<object, never>
const logs: Loader = async () => (await import('./logs.js')).logsCommand as CommandModule<object, never>
const kill: Loader = async () => (await import('./kill.js')).killCommand as CommandModule<object, never>
const destroy: Loader = async () => (await import('./destroy.js')).destroyCommand as CommandModule<object, never>
const daemon: Loader = async () => (await import('./daemon.js')).daemonCommand as CommandModule<object, never>
const COMMANDS = new Map<string, Loader>([
  ['run', run],
  ['check', check],
  ['kvs', kvs],
  ['graph', graph],
  ['new', scaffold],
  ['state', state],
  ['up', up],
  ['start', start],
  ['stop', stop],
  ['list', list],
  ['ps', list],
  ['logs', logs],
  ['kill', kill],
  ['destroy', destroy],
  ['down', destroy],
  ['daemon', daemon],
])

/**
 * The commands this command line needs: none for a bare --version, the one it names, or all
 * of them when it names none (--help, completion, a typo that yargs must answer with the full
 * list).
 */
async function commandsFor(args: string[]): Promise<Array<CommandModule<object, never>>> {
  if (args.length === 1 && args[0] === '--version') return []
  const named = args[0] === undefined ? undefined : COMMANDS.get(args[0])
  const loaders = named === undefined ? [...new Set(COMMANDS.values())] : [named]
  return Promise.all(loaders.map((load) => load()))
}

const printer = createPrinter()
try {
  const args = hideBin(process.argv)
  await yargs(args)
    .scriptName('dora-ts')
    .command(await commandsFor(args))
    .demandCommand(1, 'Name a command; see dora-ts --help.')
    .strict()
    .version(version)
    .completion('completion', 'Print a shell completion script')
    .fail((message, err) => {
      if (err !== undefined && err !== null) throw err
      printer.error(`${message}\nRun dora-ts --help for usage.`)
      process.exit(2)
    })
    .help()
    .parseAsync()
} catch (err) {
  process.exitCode = reportError(err, printer)
}
