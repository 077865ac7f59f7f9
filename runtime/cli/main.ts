#!/usr/bin/env node
/** The `dora-ts` command line. One file per command; this one only wires them together. */
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { createRequire } from 'node:module'
import { checkCommand } from './check.js'
import { runCommand } from './run.js'
import { kvsCommand } from './kvs.js'
import { graphCommand } from './graph.js'
import { newCommand } from './new.js'
import { stateCommand } from './state.js'
import { upCommand } from './up.js'
import { startCommand } from './start.js'
import { stopCommand } from './stop.js'
import { listCommand } from './list.js'
import { logsCommand } from './logs.js'
import { killCommand } from './kill.js'
import { destroyCommand } from './destroy.js'
import { daemonCommand } from './daemon.js'
import { keysCommand } from './keys.js'
import { createPrinter, reportError } from './output.js'

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string }

const printer = createPrinter()
try {
  await yargs(hideBin(process.argv))
    .scriptName('dora-ts')
    .command(runCommand)
    .command(checkCommand)
    .command(kvsCommand)
    .command(graphCommand)
    .command(newCommand)
    .command(stateCommand)
    .command(upCommand)
    .command(startCommand)
    .command(stopCommand)
    .command(listCommand)
    .command(logsCommand)
    .command(killCommand)
    .command(destroyCommand)
    .command(daemonCommand)
    .command(keysCommand)
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
