/**
 * Where the machine's KVS lives. The supervisor resolves the directory and hands it to its
 * nodes and operators; the CLI resolves it the same way, so both find the same store.
 *
 * @module
 */
import { join, resolve } from 'node:path'
import { stateHome } from '../../state-home.js'

/** Environment variable naming the KVS directory (wins over the XDG default). */
export const ENV_KVS_DIR = 'DORA_TS_KVS_DIR'

/**
 * The machine's KVS directory: `$DORA_TS_KVS_DIR`, else `$XDG_STATE_HOME/dora-ts/kvs`, else
 * `~/.local/state/dora-ts/kvs`.
 *
 * @example
 * ```ts
 * defaultKvsDir({ XDG_STATE_HOME: '/var/lib/robot' }) // '/var/lib/robot/dora-ts/kvs'
 * ```
 */
export function defaultKvsDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ENV_KVS_DIR]
  if (explicit !== undefined && explicit !== '') return resolve(explicit)
  return join(stateHome(env), 'dora-ts', 'kvs')
}
