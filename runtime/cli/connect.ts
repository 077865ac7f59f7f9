/**
 * Where a command that acts on a running dataflow sends its request: the supervisor daemon, or
 * a dataflow running in the foreground in another terminal (foreground-control.ts), which
 * answers `topic`, `list`, `kill` and `restart NAME NODE` for itself.
 *
 * @module
 */
import type { ControlClient } from '../control/client.js'
import { DaemonClient } from '../daemon/client.js'
import { DaemonNotRunningError, UnknownDataflowError } from '../daemon/errors.js'
import type { DataflowInfo } from '../daemon/unit-requests.js'
import { ForegroundRunClient, foregroundRuns, type ForegroundRun } from './foreground-control.js'

/** Said when nothing runs a dataflow: neither the daemon nor a foreground run. */
function nothingRuns(): DaemonNotRunningError {
  return new DaemonNotRunningError('no dataflow is running: neither a dora-ts supervisor nor a foreground dora-ts run', {
    hint: 'Start one: npm start or dora-ts run dataflow.yml in another terminal (or dora-ts up and dora-ts start dataflow.yml).',
  })
}

/** This user's foreground runs, or none when a remote supervisor is asked (DORA_TS_SUPERVISOR). */
function localForegroundRuns(): ForegroundRun[] {
  return process.env['DORA_TS_SUPERVISOR'] !== undefined ? [] : foregroundRuns()
}

/**
 * A connection to what runs `target` (a name or id prefix; none: the only one): a foreground
 * run of that name, else the supervisor, else the only foreground run.
 */
export function connectTo(target: string | undefined): ControlClient {
  const local = localForegroundRuns()
  const named = target === undefined ? undefined : local.find((r) => r.name === target || r.id.startsWith(target))
  if (named !== undefined) return new ForegroundRunClient(named)
  try {
    return DaemonClient.connect()
  } catch (err) {
    if (!(err instanceof DaemonNotRunningError) || process.env['DORA_TS_SUPERVISOR'] !== undefined) throw err
    if (target === undefined && local.length === 1) return new ForegroundRunClient(local[0]!)
    if (local.length === 0) throw nothingRuns()
    throw new UnknownDataflowError(
      target === undefined
        ? `${local.length} dataflows run in the foreground; name one`
        : `no dataflow named "${target}" runs in the foreground or on a supervisor`,
      { hint: `Running in the foreground: ${local.map((r) => `${r.name} (pid ${r.pid})`).join(', ')}.` },
    )
  }
}

/** Run `use` on {@link connectTo}(`target`), closing the connection after. */
export async function withConnection<T>(target: string | undefined, use: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = connectTo(target)
  try {
    return await use(client)
  } finally {
    client.close()
  }
}

/**
 * Every dataflow there is to list: the supervisor's, then each foreground run's. Throws
 * DaemonNotRunningError when there is neither a supervisor nor a foreground run.
 */
export async function listEverywhere(): Promise<DataflowInfo[]> {
  const local = localForegroundRuns()
  let daemon: DataflowInfo[] = []
  try {
    const client = DaemonClient.connect()
    try {
      daemon = await client.request<DataflowInfo[]>('list')
    } finally {
      client.close()
    }
  } catch (err) {
    if (!(err instanceof DaemonNotRunningError) || process.env['DORA_TS_SUPERVISOR'] !== undefined) throw err
    if (local.length === 0) throw nothingRuns()
  }
  const foreground = await Promise.all(
    local.map(async (run) => {
      const client = new ForegroundRunClient(run)
      try {
        return await client.request<DataflowInfo[]>('list', {}, { timeoutMs: 3000 })
      } catch {
        // It ended while it was asked: nothing to list.
        return []
      } finally {
        client.close()
      }
    }),
  )
  return [...daemon, ...foreground.flat()]
}

/**
 * The supervisor, for a command only it answers (`stop`, `restart NAME`): when there is none
 * and `target` (or the only one) runs in the foreground, say how to stop that one instead of
 * "no supervisor is running".
 */
export function connectToSupervisor(target: string | undefined, what: string): DaemonClient {
  try {
    return DaemonClient.connect()
  } catch (err) {
    if (!(err instanceof DaemonNotRunningError)) throw err
    const local = localForegroundRuns()
    const run = target === undefined ? (local.length === 1 ? local[0] : undefined) : local.find((r) => r.name === target || r.id.startsWith(target))
    if (run === undefined) throw err
    throw new DaemonNotRunningError(`dataflow "${run.name}" runs in the foreground (pid ${run.pid}), and only its terminal can ${what} it`, {
      hint: `Press Ctrl-C where it runs, or kill -INT ${run.pid}; to ${what} a dataflow from anywhere, run it on the supervisor (dora-ts start --attach --auto-up).`,
    })
  }
}
