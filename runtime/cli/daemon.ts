/** `dora-ts daemon`: run the supervisor daemon in the foreground (what `dora-ts up` launches). */
import type { CommandModule } from 'yargs'
import { Daemon } from '../daemon/server.js'
import { createPrinter } from './output.js'
import { errorStack } from '../../src/errors.js'
import { StallWatch, stallText } from '../daemon/stall-watch.js'

interface DaemonArgs {
  tcp?: string | undefined
}

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: false, // internal: users run `dora-ts up`
  builder: (yargs) => yargs.option('tcp', { type: 'string', describe: 'Also listen on this tcp:// endpoint' }),
  handler: async (args) => {
    const printer = createPrinter()
    const started = await Daemon.start({ tcp: args.tcp })
    if (!(started instanceof Daemon)) {
      printer.info(`a supervisor is already running (pid ${started.ownerPid})`)
      return
    }
    printer.info(`supervisor running (pid ${process.pid}), control socket ${started.paths.controlEndpoint}`)
    // A background supervisor runs many dataflows: a stray rejection in one must not take them
    // all down. It is logged as the bug it is.
    process.on('unhandledRejection', (reason) => {
      printer.error(`unhandled rejection (a bug in dora-ts; please report it): ${errorStack(reason)}`)
    })
    // Into the daemon log: why a CLI command timed out, or timers fired late.
    const stalls = new StallWatch((ms) => printer.info(`${new Date().toISOString()} ${stallText(ms)}`))
    const shutdown = (): void => void started.destroy()
    process.on('SIGINT', shutdown)
    process.on('SIGTERM', shutdown)
    await started.closed
    stalls.close()
    printer.info('supervisor stopped')
    // Every run is closed: anything still holding the event loop (a worker thread that never
    // ended) must not keep a stopped supervisor alive, its pid file gone, unseen by `up`.
    setTimeout(() => {
      printer.error('the supervisor was still held up 2 s after it stopped every dataflow (a bug in dora-ts; please report it): exiting')
      process.exit(1)
    }, 2000).unref()
  },
}
