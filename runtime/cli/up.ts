/** `dora-ts up`: start the supervisor in the background, or say it already runs. */
import type { CommandModule } from 'yargs'
import { DEFAULT_UP_TIMEOUT_MS, launchDaemon } from '../daemon/launch.js'
import { daemonPaths } from '../daemon/paths.js'
import { createPrinter } from './output.js'
import { loadCurveKeys } from '../../src/security/curve-keys.js'
import { escapeForTerminal } from '../../src/security/escape.js'
import { CliUsageError, durationOption } from './options.js'

interface UpArgs {
  tcp?: number | undefined
  host: string
  timeout: string
}

export const upCommand: CommandModule<object, UpArgs> = {
  command: 'up',
  describe: 'Start the supervisor in the background',
  builder: (yargs) =>
    yargs
      .option('tcp', { type: 'number', describe: 'Also listen for the CLI on this TCP port, CURVE-authenticated (see dora-ts keys; off by default)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address for --tcp' })
      .option('timeout', {
        type: 'string',
        default: `${DEFAULT_UP_TIMEOUT_MS / 1000}s`,
        describe: 'How long to wait for the new supervisor to answer; one that does not is stopped',
      })
      .example('$0 up', 'Start the supervisor; then dora-ts start dataflow.yml'),
  handler: async (args) => {
    const printer = createPrinter()
    const tcp = args.tcp === undefined ? undefined : `tcp://${args.host}:${args.tcp}`
    // TCP is always CURVE: create the keys now so the user sees what a remote CLI needs.
    const keys = tcp === undefined ? undefined : loadCurveKeys({ create: true })
    const timeoutMs = durationOption('--timeout', args.timeout) * 1000
    if (timeoutMs <= 0) throw new CliUsageError(`--timeout ${args.timeout} leaves the supervisor no time to start`, { hint: 'Use a duration such as 30s.' })
    const up = await launchDaemon({ tcp, timeoutMs })
    const paths = daemonPaths()
    // The running supervisor listens where it was told when it started: --tcp cannot change
    // that, and ignoring it let a remote CLI fail later with no clue why (issue 14).
    if (up.alreadyRunning && tcp !== undefined) {
      throw new CliUsageError(
        `the supervisor is already running (pid ${up.pid}); --tcp ${args.tcp} was not applied: a running supervisor does not open new ports`,
        {
          hint: `To listen on ${escapeForTerminal(tcp, { keepNewlines: false })}, restart it: dora-ts destroy (this stops its dataflows), then dora-ts up --tcp ${args.tcp}.`,
        },
      )
    }
    if (up.alreadyRunning) printer.info(`the supervisor is already running (pid ${up.pid})`)
    else printer.info(`supervisor started (pid ${up.pid}); logs in ${paths.logsRoot}`)
    if (keys !== undefined && !up.alreadyRunning) {
      printer.info(
        `listening on ${escapeForTerminal(tcp!, { keepNewlines: false })} for CLIs whose key is in ${keys.paths.allowedClients} (CURVE; supervisor public key ${keys.server.publicKey}; see dora-ts keys)`,
      )
    }
  },
}
