/**
 * The run that owns a state store answers `dora-ts state ls|dump|snapshot` itself, on a control
 * socket in its private run directory, and no other process opens the live store.
 *
 * Why: lmdb-js 3.5.6 (its LMDB fork) corrupts the writer's view when another process opens and
 * closes the environment while the writer commits without fsync, which is how operator state
 * commits by default (durability 'process'): measured with a writer at ~4k commits/s and 25
 * open/read/close cycles of another process, 2 rounds in 3 saw thousands of commits fail with
 * MDB_BAD_TXN ("mdb_page_touch no parent"), one read back a value other than its last commit, and
 * at a higher rate the writer segfaulted. Fsync'ed commits are not affected, but cost ~30x
 * ('power' durability). So the owner reads its own store, in-process, for everyone else.
 *
 * The owner records the socket's endpoint in `<state dir>/owner.endpoint` next to `owner.pid`,
 * and removes it before releasing the owner lock.
 */
import { renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { OperatorStats, StateStore } from '../../src/store/state/store.js'
import { ControlServer } from '../control/server.js'
import { BadControlRequestError } from '../daemon/errors.js'

/** The owner's endpoint file in the state directory. */
export const OWNER_ENDPOINT_FILE = 'owner.endpoint'

/** One operator's state as it travels: [key, base64 value] in key order (an object would put integer-like keys first). */
export interface OperatorDump {
  operator: string
  state: Array<[string, string]>
}

/** Commands of the state service. */
export const STATE_COMMANDS = {
  stats: 'state.stats',
  dump: 'state.dump',
  snapshot: 'state.snapshot',
} as const

/** Read access to a store, wherever it is served from: the owning run, or the CLI itself. */
export interface StateReader {
  /** The pid of the live run that answers for the store; undefined when it is read in this process. */
  readonly owner: number | undefined
  stats(): Promise<OperatorStats[]>
  /** The state of `operators` (operator keys), or of every operator. */
  dump(operators?: readonly string[]): Promise<OperatorDump[]>
  /** Copy the store into the new directory `dir`; returns the stats of the copied store. */
  snapshot(dir: string): Promise<OperatorStats[]>
}

/** A {@link StateReader} on a store open in this process (the run's own, or one no run owns). */
export function storeReader(store: StateStore): StateReader {
  return {
    owner: undefined,
    stats: async () => store.stats(),
    dump: async (operators) => dumpStore(store, operators),
    snapshot: async (dir) => {
      // Stats and copy come from two read transactions; the stats are informative only.
      const stats = store.stats()
      await store.snapshot(dir)
      return stats
    },
  }
}

/** The operators' state of `store`, for `operators` (every one when undefined). */
function dumpStore(store: StateStore, operators?: readonly string[]): OperatorDump[] {
  const keys = operators ?? store.stats().map((s) => s.operator)
  return keys.map((operator) => {
    const state = [...store.operator(operator).load().state].map(([key, value]): [string, string] => [
      key,
      Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
    ])
    return { operator, state }
  })
}

/** Serves reads of a live store to the CLI. */
export class StateService {
  readonly #server: ControlServer
  readonly #endpointFile: string

  private constructor(server: ControlServer, endpointFile: string) {
    this.#server = server
    this.#endpointFile = endpointFile
  }

  /** Bind `endpoint` and publish it in the store's directory. Call while holding the owner lock. */
  static async start(store: StateStore, endpoint: string): Promise<StateService> {
    const reader = storeReader(store)
    const server = await ControlServer.bind({
      endpoints: [endpoint],
      dispatch: async (command, args) => {
        switch (command) {
          case STATE_COMMANDS.stats:
            return reader.stats()
          case STATE_COMMANDS.dump:
            return reader.dump(Array.isArray(args['operators']) ? args['operators'].map(String) : undefined)
          case STATE_COMMANDS.snapshot:
            return reader.snapshot(String(args['dir']))
          default:
            throw new BadControlRequestError(`the run that owns the state store in ${store.dir} does not know the command "${command}"`, {
              hint: 'The CLI and the running dataflow may be different dora-ts versions: use the dora-ts that started it.',
            })
        }
      },
    })
    const file = join(store.dir, OWNER_ENDPOINT_FILE)
    try {
      // Written whole or not at all: a reader never sees half an endpoint.
      writeFileSync(`${file}.tmp`, `${endpoint}\n`, { mode: 0o600 })
      renameSync(`${file}.tmp`, file)
    } catch (err) {
      server.close()
      throw err
    }
    return new StateService(server, file)
  }

  /** Stop answering and withdraw the endpoint. Idempotent; call before releasing the owner lock. */
  close(): void {
    rmSync(this.#endpointFile, { force: true })
    this.#server.close()
  }
}

/** The endpoint the owner of the store in `dir` published, if any. */
export function ownerEndpoint(dir: string): string | undefined {
  try {
    const text = readFileSync(join(dir, OWNER_ENDPOINT_FILE), 'utf8').trim()
    return text === '' ? undefined : text
  } catch {
    return undefined
  }
}
