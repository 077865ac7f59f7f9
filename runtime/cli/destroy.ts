/** `dora-ts destroy` (alias `down`): stop every dataflow, then the supervisor. */
import type { CommandModule } from 'yargs'
import { DaemonClient, runningDaemonPid } from '../daemon/client.js'
import { isAlive } from '../../src/transport/run-dir.js'
import { createPrinter } from './output.js'
import { DaemonNotRunningError } from '../daemon/errors.js'

export const destroyCommand: CommandModule<object, object> = {
  command: 'destroy',
  aliases: ['down'],
  describe: 'Stop every dataflow and the supervisor',
  builder: (yargs) => yargs.example('$0 destroy', 'Stop everything the supervisor runs, then the supervisor'),
  handler: async () => {
    const printer = createPrinter()
    if (runningDaemonPid() === undefined) {
      printer.info('no supervisor is running')
      return
    }
    const client = DaemonClient.connect()
    try {
      let stopped: string[]
      try {
        ;({ stopped } = await client.request<{ stopped: string[] }>('destroy', {}, { timeoutMs: 120_000 }))
      } catch (err) {
        // Gone before it answered (SIGKILLed just before): what destroy wanted. Its leftovers go.
        if (!(err instanceof DaemonNotRunningError)) throw err
        runningDaemonPid()
        printer.info(`the supervisor (pid ${client.pid}) had ended before it answered; nothing is running`)
        return
      }
      // Wait for the process itself to be gone, so `up` right after starts a fresh one.
      const pid = client.pid
      for (let i = 0; i < 100 && pid !== undefined && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50))
      const names = stopped.map((n) => `"${n}"`).join(', ')
      if (pid !== undefined && isAlive(pid)) {
        printer.error(
          `the supervisor (pid ${pid}) stopped its dataflows${stopped.length === 0 ? '' : ` (${names})`} but had not exited 5 s later; its log says why. Stop it with kill ${pid}`,
        )
        process.exitCode = 1
        return
      }
      printer.info(`supervisor stopped${stopped.length === 0 ? '' : `, and with it dataflow${stopped.length === 1 ? '' : 's'} ${names}`}`)
    } finally {
      client.close()
    }
  },
}
