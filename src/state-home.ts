/**
 * The user's state folder for files that outlive a run (the KVS, the logs): `$XDG_STATE_HOME`,
 * else `~/.local/state`. The XDG spec says an empty or relative value is ignored.
 *
 * @module
 */
import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'

/** `$XDG_STATE_HOME` when it is an absolute path, else `~/.local/state`. */
export function stateHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_STATE_HOME']
  return xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state')
}
