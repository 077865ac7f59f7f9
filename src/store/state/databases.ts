/**
 * The open LMDB environment of one state store and its databases: `__meta__`, one named
 * database per operator (opened on first use, cached), the outbox, and the size budget and
 * segment files that go with them. Every other part of the store (reads, the commit group,
 * clear/stats/snapshot) reaches LMDB through here.
 *
 * Apart from store.ts because the store's jobs (reading, grouping commits, maintenance) each
 * need the same handful of handles and the same "closed?" check; one owner of those handles
 * lets those jobs live in their own files without reaching into the store's private fields.
 *
 * @module
 */
import type { RootDatabase } from 'lmdb'
import { listDbNames } from '../lmdb/db-names.js'
import { StateClosedError, stateErrorFrom, type StateErrorContext } from './errors.js'
import { operatorDbName, operatorKeyOf } from './disk-layout.js'
import type { Bytes, StateEnvironment } from './environment.js'
import { SizeBudget } from './commit.js'
import { OUTBOX_DB } from './outbox.js'
import type { SegmentPolicy } from './outbox-txn.js'
import type { ValueSeal } from '../lmdb/checksum.js'

/** The environment and databases of one open state store (see the module comment). */
export class StoreDatabases {
  /** Absolute path of the state directory (for messages). */
  readonly dir: string
  /** The store's size limit in bytes. */
  readonly mapSizeBytes: number
  /** LMDB's page size, for the size estimates of commits. */
  readonly pageSize: number
  /** The `__meta__` database. */
  readonly meta: Bytes
  /** Refuses a commit that could push the data file past the size limit (commit.ts). */
  readonly budget: SizeBudget
  /** Large payloads kept as files, and how (segments.ts). */
  readonly segments: SegmentPolicy
  /** How values are stored: with a checksum (layout 2), or raw (layout 1); see disk-layout.ts. */
  readonly seal: ValueSeal

  #env: RootDatabase<Buffer, Buffer> | undefined
  /** Opened operator databases, by operator key. */
  readonly #dbs = new Map<string, Bytes>()
  /** Each operator's meta record key in `__meta__`, encoded once. */
  readonly #metaKeys = new Map<string, Buffer>()
  #outbox: Bytes | undefined

  constructor(dir: string, mapSizeBytes: number, opened: StateEnvironment, segments: SegmentPolicy) {
    this.dir = dir
    this.mapSizeBytes = mapSizeBytes
    this.pageSize = opened.pageSize
    this.meta = opened.meta
    this.budget = new SizeBudget(mapSizeBytes, opened.pageSize, opened.highWater)
    this.segments = segments
    this.seal = opened.seal
    this.#env = opened.env
  }

  /** The environment, or undefined once {@link detach} ran (the store is closed). */
  get env(): RootDatabase<Buffer, Buffer> | undefined {
    return this.#env
  }

  /** The environment; DORA_STATE_CLOSED once the store is closed. */
  requireEnv(operator?: string): RootDatabase<Buffer, Buffer> {
    if (this.#env === undefined) {
      throw new StateClosedError(`the state store in ${this.dir} is closed`, {
        dir: this.dir,
        operator,
        hint: 'this is a bug in the caller: it used the state store after close()',
      })
    }
    return this.#env
  }

  /** The error of a use after close, for a caller that reports rather than throws. */
  closedError(): StateClosedError {
    return new StateClosedError(`the state store in ${this.dir} is closed`, {
      dir: this.dir,
      hint: 'this is a bug in the caller: it used the state store after close()',
    })
  }

  /** The operator's database, opened (and created) on first use. */
  db(operatorKey: string): Bytes {
    const cached = this.#dbs.get(operatorKey)
    if (cached !== undefined) return cached
    const env = this.requireEnv(operatorKey)
    try {
      const db = env.openDB<Buffer, Buffer>({ name: operatorDbName(operatorKey), keyEncoding: 'binary', encoding: 'binary' })
      this.#dbs.set(operatorKey, db)
      return db
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'open', operator: operatorKey })
    }
  }

  /**
   * Forget the cached handle of an operator's database: mdb_drop closes it at once, even if
   * its transaction then fails, so the next use must open (and create) it afresh.
   */
  forgetDb(operatorKey: string): void {
    this.#dbs.delete(operatorKey)
  }

  /** The operator's meta record key in `__meta__`. */
  metaKey(operatorKey: string): Buffer {
    let key = this.#metaKeys.get(operatorKey)
    if (key === undefined) {
      key = Buffer.from(operatorDbName(operatorKey))
      this.#metaKeys.set(operatorKey, key)
    }
    return key
  }

  /** Operator keys of the named databases, read from LMDB's main database. */
  operatorKeys(context: StateErrorContext): string[] {
    try {
      return listDbNames(this.requireEnv()).flatMap((name) => operatorKeyOf(name) ?? [])
    } catch (err) {
      throw stateErrorFrom(err, context)
    }
  }

  /** The outbox database, opened (and created) on first use. */
  outboxDb(): Bytes {
    if (this.#outbox !== undefined) return this.#outbox
    const env = this.requireEnv()
    try {
      this.#outbox = env.openDB<Buffer, Buffer>({ name: OUTBOX_DB, keyEncoding: 'binary', encoding: 'binary' })
      return this.#outbox
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'open' })
    }
  }

  /** Mark the store closed: later uses throw DORA_STATE_CLOSED. Returns the environment to close. */
  detach(): RootDatabase<Buffer, Buffer> | undefined {
    const env = this.#env
    this.#env = undefined
    return env
  }

  /** Drop the cached handles (when the environment is about to close). */
  clearHandles(): void {
    this.#dbs.clear()
    this.#outbox = undefined
  }
}
