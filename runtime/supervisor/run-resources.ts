/**
 * What a run holds besides its units, opened before anything launches and released when it
 * ends: the owner lock and the state store (when the dataflow has operators or messages from
 * custom nodes to keep), the state service
 * that lets the CLI read that live store, the private run directory for its sockets, and the
 * KVS thread its operators reach the shared KVS through (started with the first operator), and
 * the reaper that stops the custom nodes if this process dies (reaper.ts).
 * One idempotent close() releases all of it, in the order that keeps each step safe: stop
 * answering the CLI before the store closes, close the store before its owner lock is released.
 */
import { rmSync } from 'node:fs'
import { createShmDir, removeShmDir, shmThreshold } from '../../src/transport/shm-dir.js'
import { sweepOrphanSegmentDirs } from '../../src/store/state/segment-owners.js'
import { ShmPayloads } from './shm-payloads.js'
import { join } from 'node:path'
import type { MessagePort } from 'node:worker_threads'
import type { DataflowSpec } from '../../src/spec/types.js'
import { KvsService } from '../../src/store/kvs/service.js'
import { compactLinkLogs } from './link-logs.js'
import { acquireOwnerLockWaiting, type OwnerLock } from '../../src/store/state/owner-lock.js'
import { StateStore } from '../../src/store/state/store.js'
import { createRunDir, type RunDir } from '../../src/transport/run-dir.js'
import { OWNER_ENDPOINT_FILE, StateService } from '../state/service.js'
import { Reaper } from './reaper.js'

export interface RunResourcesOptions {
  spec: DataflowSpec
  /** The dataflow's state directory (`stateDirOf`). */
  stateDir: string
  /** Start from empty state on purpose (`--clean-state`). */
  cleanState?: boolean | undefined
  /** Parent of the run's private socket directory; `runRoot()` when undefined. */
  runtimeDir?: string | undefined
  /** The shared KVS the run's KVS thread opens. */
  kvs: { dir: string; mapSizeBytes: number }
  /** A supervisor notice (the --clean-state message). */
  notice(text: string): void
  /** Warnings and errors of the reaper (it died and was replaced, or could not be). */
  log(level: 'warn' | 'error', text: string): void
}

export class RunResources {
  readonly runDir: RunDir
  /** Large payloads between custom nodes (issue 15); undefined without custom nodes or tmpfs. */
  shm: ShmPayloads | undefined
  /** The run's state store: open until close(), undefined when the dataflow needs none ({@link needsStateStore}). */
  readonly store: StateStore | undefined
  /** Stops the custom nodes if this process dies, even by SIGKILL; undefined without custom nodes. */
  reaper: Reaper | undefined
  readonly #ownerLock: OwnerLock | undefined
  readonly #kvsConfig: { dir: string; mapSizeBytes: number }
  #stateService: StateService | undefined
  #kvsService: KvsService | undefined
  #closed: Promise<void> | undefined

  private constructor(runDir: RunDir, store: StateStore | undefined, ownerLock: OwnerLock | undefined, kvs: { dir: string; mapSizeBytes: number }) {
    this.runDir = runDir
    this.store = store
    this.#ownerLock = ownerLock
    this.#kvsConfig = kvs
  }

  /** Open everything; on a failure, what was opened is released before the error is thrown. */
  static async open(options: RunResourcesOptions): Promise<RunResources> {
    // Shared memory of state stores deleted since (a test's, a removed state directory): on
    // tmpfs it would stay until the machine restarts.
    sweepOrphanSegmentDirs()
    const owned = await openStateStore(options)
    let runDir: RunDir
    try {
      runDir = createRunDir(options.runtimeDir === undefined ? undefined : join(options.runtimeDir, 'dora-ts'))
    } catch (err) {
      owned?.store.close()
      owned?.lock.release()
      throw err
    }
    const resources = new RunResources(runDir, owned?.store, owned?.lock, options.kvs)
    try {
      // Started before any node, and not awaited: nodes spawned while it starts are still
      // registered (their lines wait in its pipe), and a failed start is logged (reaper.ts).
      if (options.spec.nodes.some((n) => n.kind === 'custom')) {
        const shmDir = createShmDir(runDir.path)
        if (shmDir !== undefined) {
          const shm = new ShmPayloads(shmDir, shmThreshold(), (text) => options.log('warn', text))
          resources.shm = shm
          // A segment the store adopted goes back to its writer once the store let go too.
          resources.store?.onAdoptedLetGo((origin) => shm.storeLetGo(origin))
        }
        resources.reaper = new Reaper({ runDir: runDir.path, shmDir, log: options.log })
      }
      // The CLI reads a live store through its owner only: see runtime/state/service.ts.
      if (resources.store !== undefined) resources.#stateService = await StateService.start(resources.store, `ipc://${join(runDir.path, 'state.sock')}`)
    } catch (err) {
      await resources.close()
      throw err
    }
    return resources
  }

  /**
   * A new port to the run's KVS thread, started on first use (worker threads must not hold
   * LMDB transactions: see src/store/kvs/service.ts).
   */
  connectKvs(): MessagePort {
    this.#kvsService ??= new KvsService(this.#kvsConfig)
    return this.#kvsService.connect()
  }

  /** Release everything. Idempotent: every call shares one promise. */
  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  async #close(): Promise<void> {
    this.#stateService?.close()
    this.runDir.remove()
    removeShmDir(this.shm?.dir)
    // The nodes have ended: no sender writes a link log now, so what was consumed can go.
    if (this.store !== undefined) compactLinkLogs(this.store.linksDir)
    try {
      // Waits for a snapshot still being copied: the owner lock must outlive the environment.
      await this.store?.[Symbol.asyncDispose]()
    } finally {
      this.#ownerLock?.release()
      try {
        await this.#kvsService?.close()
      } finally {
        // Last: the run's nodes have all ended by now, so `bye` (the reaper then exits alone).
        await this.reaper?.close()
      }
    }
  }
}

/**
 * Whether the dataflow needs a state store: it has operators (their state), or a custom node
 * whose output feeds someone (its messages wait in the outbox until consumed: see
 * node-outputs.ts). A dataflow of custom nodes that only read timers needs none.
 */
export function needsStateStore(spec: DataflowSpec): boolean {
  if (spec.nodes.some((n) => n.kind === 'operators' && n.operators.length > 0)) return true
  const custom = new Set(spec.nodes.filter((n) => n.kind === 'custom').map((n) => n.id))
  return spec.nodes.some(
    (n) => n.kind === 'custom' && n.inputs.some((i) => i.source.kind === 'output' && i.source.operator === undefined && custom.has(i.source.node)),
  )
}

/** Take the owner lock and open the store, when the dataflow needs one ({@link needsStateStore}). */
async function openStateStore(options: RunResourcesOptions): Promise<{ store: StateStore; lock: OwnerLock } | undefined> {
  const { spec, stateDir } = options
  if (!needsStateStore(spec)) return undefined
  const lock = await acquireOwnerLockWaiting(stateDir)
  let store: StateStore
  try {
    // An endpoint published by an owner that died (SIGKILL) must not send the CLI there.
    rmSync(join(stateDir, OWNER_ENDPOINT_FILE), { force: true })
    // Durability is chosen per commit (each operator's own); this is the store's default.
    store = StateStore.open({ dir: stateDir, durability: spec.durability, ...(spec.stateMapSize === undefined ? {} : { mapSizeBytes: spec.stateMapSize }) })
  } catch (err) {
    lock.release()
    throw err
  }
  if (options.cleanState === true) {
    store.clear()
    options.notice(`--clean-state: cleared the saved state in ${stateDir}`)
  }
  return { store, lock }
}
