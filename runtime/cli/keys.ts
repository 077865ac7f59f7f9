/**
 * `dora-ts keys`: create (if missing) and show the CURVE keys of the TCP control socket;
 * `dora-ts keys allow KEY` lets a remote CLI's public key in. Secret keys are never printed.
 */
import type { CommandModule } from 'yargs'
import { allowClientKey, loadCurveKeys, ENV_SUPERVISOR_KEY } from '../../src/security/curve-keys.js'
import { escapeForTerminal } from '../../src/security/escape.js'

interface KeysArgs {
  action?: string | undefined
  key?: string | undefined
}

export const keysCommand: CommandModule<object, KeysArgs> = {
  command: 'keys [action] [key]',
  describe: 'Create and show the CURVE keys for the TCP control socket; "keys allow KEY" allows a remote CLI',
  builder: (yargs) =>
    yargs
      .positional('action', { type: 'string', choices: ['show', 'allow'], describe: 'show (default), or allow KEY' })
      .positional('key', { type: 'string', describe: 'for allow: the client public key printed by dora-ts keys on the CLI machine' })
      .example('$0 keys', 'Show (create if missing) the supervisor and client public keys')
      .example('$0 keys allow "<40-character key>"', 'Let the CLI with this public key use dora-ts up --tcp'),
  handler: (args) => {
    const out = (line: string): void => void process.stdout.write(`${line}\n`)
    if (args.action === 'allow') {
      const key = args.key ?? ''
      const added = allowClientKey(key)
      const keys = loadCurveKeys()
      out(`${added ? 'allowed' : 'already allowed'}: ${escapeForTerminal(key, { keepNewlines: false })} (in ${keys.paths.allowedClients})`)
      return
    }
    const keys = loadCurveKeys({ create: true })
    out(`supervisor public key: ${keys.server.publicKey}`)
    out(`client public key:     ${keys.client.publicKey}`)
    out(`allowed clients:       ${keys.allowed.length} (${keys.paths.allowedClients})`)
    out(`key directory:         ${keys.paths.dir} (mode 0700; secret keys in server.key and client.key, mode 0600)`)
    out('')
    out('To use this supervisor from another machine or account:')
    out('  1. there, run dora-ts keys and copy its "client public key";')
    out('  2. here, run dora-ts keys allow <that key>, and dora-ts up --tcp PORT --host ADDRESS;')
    out(`  3. there, set DORA_TS_SUPERVISOR=tcp://ADDRESS:PORT and ${ENV_SUPERVISOR_KEY}=${keys.server.publicKey}.`)
  },
}
