/**
 * Crash-safe operator state on LMDB (lmdb-js). One environment per dataflow state directory,
 * one named database per operator, and a `__meta__` database with the layout record and each
 * operator's event bookkeeping (see disk-layout.ts).
 *
 * The supervisor's main thread owns the environment. While an operator handles one event its
 * worker buffers saveState/deleteState calls and ships them with "event done"; the host then
 * calls {@link OperatorState.commit} with those writes AND the event's meta, which applies
 * both in ONE synchronous LMDB write transaction. So, per operator:
 * - atomic per event: after any crash the state is exactly that of the last committed event,
 *   and its meta says which event that was;
 * - commit() returns only once the transaction is committed (and, for 'power', flushed).
 *
 * Durability, chosen per commit with LMDB's per-transaction MDB_NOSYNC flag:
 * - 'process' (default): the commit is written to the OS page cache but not fsync'ed. It
 *   survives a crash or SIGKILL of the operator or of the whole supervisor (the kernel still
 *   has the pages), not an OS crash or power loss, which can lose recent commits and, on a file
 *   system that reorders writes, damage the file (then open() fails with DORA_STATE_CORRUPT).
 * - 'power': LMDB fdatasync's the data and writes the meta page through O_DSYNC before commit()
 *   returns; the commit survives power loss. The environment is opened without lmdb-js's
 *   `overlappingSync` (which defers the flush past the commit) and without `noSync`.
 * A 'power' commit also flushes every 'process' commit before it. For the power-loss guarantee
 * to hold for a whole dataflow, all its operators should use 'power'.
 *
 * lmdb-js pitfalls: the ones of opening are handled in environment.ts; a live file is never
 * copied (snapshot() uses backup()). Never use a StateStore across fork(), and never call
 * process.exit() inside a transaction (lmdb-js #336): commit() runs no user code inside its
 * transaction.
 *
 * The files of the state store, by job: disk-layout.ts (records and names on disk),
 * environment.ts (opening: options, preflight, layout check, one store per directory),
 * databases.ts (the open environment and its database handles), handles.ts (what an operator
 * or custom node is handed), reads.ts (reading committed state and outbox entries), commit.ts
 * (checking, encoding and applying one event's writes; the size limit), commit-group.ts (one
 * transaction for the commits of a turn), this file (the store: opening, handles, clear, stats,
 * snapshot, close), owner-lock.ts (one supervisor per state directory).
 *
 * @example
 * ```ts
 * const store = StateStore.open({ dir: '.dora-ts/state/robot', durability: 'process' })
 * const op = store.operator('planner/path')
 * const { state, meta } = op.load() // after a restart: the last committed event's state
 * op.commit([{ key: 'pose', value: bytes }], { lastEvent: meta.lastEvent + 1n, seen: meta.seen })
 * store.close()
 * ```
 *
 * @module
 */

import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Durability } from '../../spec/types.js'
import { StateBadKeyError, StateSnapshotError, stateErrorFrom, type StateErrorContext } from './errors.js'
import { LAYOUT_KEY, operatorKeyProblem, type OperatorMeta } from './disk-layout.js'
import { checkDurability, DEFAULT_MAP_SIZE_BYTES, openStateEnvironment, releaseStateDir } from './environment.js'
import { applyCommit, COMMIT_FLAGS, encodeCommit, type StateWrite } from './commit.js'
import { errorMessage } from '../../errors.js'
import { isDataKey, isSegmentKey, receiverRange, type OutboxChange } from './outbox.js'
import { OutboxTxn } from './outbox-txn.js'
import { SegmentFiles, segmentDirFor, segmentThreshold } from './segments.js'
import { recordSegmentOwner } from './segment-owners.js'
import { StoreDatabases } from './databases.js'
import { CommitGroup } from './commit-group.js'
import { adoptSegments, loadOperator, payloadOf, pendingFor, senderNumber } from './reads.js'
import type { OperatorState, OperatorStateOptions, OperatorStats, ReceiverOutbox, SenderOutbox, StateStoreOptions } from './handles.js'

export type { OperatorMeta } from './disk-layout.js'
export type { Durability } from '../../spec/types.js'
export { DEFAULT_MAP_SIZE_BYTES, MAX_DBS, MAX_READERS, MIN_MAP_SIZE_BYTES } from './environment.js'
export { MAX_VALUE_BYTES, type StateWrite } from './commit.js'
export type { OutboxChange, OutboxEntry, OutboxPut } from './outbox.js'
export { DEFAULT_SEGMENT_THRESHOLD_BYTES } from './segments.js'
export type { OperatorState, OperatorStateOptions, OperatorStats, ReceiverOutbox, SenderOutbox, StateStoreOptions } from './handles.js'

/** The folder of the link logs in the store's shm directory (or state directory). */
const LINKS_DIR = 'links'

/** The layout record's key in `__meta__`: the one record a full clear() keeps. */
const LAYOUT_KEY_BYTES = Buffer.from(LAYOUT_KEY, 'utf8')

/** Key in `__meta__` of the message counter of a sender without state (`node/<id>`). */
function senderMetaKey(senderKey: string): string {
  return `node/${senderKey}`
}

/**
 * The state of every operator of one dataflow, in one LMDB environment. Open it once in the
 * supervisor's main thread; hand {@link OperatorState} handles to the operator hosts.
 */
export class StateStore {
  /** Absolute path of the state directory. */
  readonly dir: string
  /** Default durability of {@link operator} handles. */
  readonly durability: Durability
  /** The store's size limit in bytes. */
  readonly mapSizeBytes: number

  /** `dir` with symlinks resolved: released for reopening on close. */
  readonly #realDir: string
  readonly #dbs: StoreDatabases
  /** Commits waiting for the group transaction of this turn of the event loop. */
  readonly #group: CommitGroup
  readonly #pendingSnapshots = new Set<Promise<void>>()
  #closing = false
  readonly #closed: Promise<void>
  #resolveClosed: () => void = () => {}

  private constructor(dir: string, durability: Durability, dbs: StoreDatabases, realDir: string) {
    this.dir = dir
    this.durability = durability
    this.mapSizeBytes = dbs.mapSizeBytes
    this.#realDir = realDir
    this.#dbs = dbs
    this.#group = new CommitGroup(dbs, COMMIT_FLAGS[durability])
    this.#closed = new Promise((done) => (this.#resolveClosed = done))
  }

  /**
   * Where the link logs of this dataflow's reliable direct links live (src/transport/link-log.ts):
   * `links/` in the store's shm directory, beside its segments (the same promise, durability
   * `process`), or in the state directory when there is no tmpfs. Kept across runs like the
   * outbox; {@link clear} of the whole store removes it.
   */
  get linksDir(): string {
    return join(this.#dbs.segments.files.dir ?? this.dir, LINKS_DIR)
  }

  /**
   * Call `listener` with the path a custom node's shared-memory file was adopted from, once the
   * store's own name of it is gone and that path still names it (see SegmentFiles.onAdoptedLetGo).
   */
  onAdoptedLetGo(listener: (origin: string) => void): void {
    this.#dbs.segments.files.onAdoptedLetGo = listener
  }

  /**
   * Open (or create) the state store in `options.dir`. Never wipes anything: a directory that
   * holds something else, another layout version or a damaged file is refused with a
   * {@link StateError} naming it (DORA_STATE_LAYOUT, DORA_STATE_CORRUPT, DORA_STATE_OPEN).
   */
  static open(options: StateStoreOptions): StateStore {
    const dir = resolve(options.dir)
    const { durability } = options
    checkDurability(durability, dir)
    const mapSizeBytes = options.mapSizeBytes ?? DEFAULT_MAP_SIZE_BYTES
    const opened = openStateEnvironment(dir, mapSizeBytes)
    const segmentDir = options.segmentDir === false ? undefined : (options.segmentDir ?? segmentDirFor(opened.realDir))
    const threshold = options.segmentThresholdBytes ?? segmentThreshold()
    if (segmentDir !== undefined) recordSegmentOwner(segmentDir, opened.realDir)
    const files = new SegmentFiles(segmentDir, opened.realDir)
    const dbs = new StoreDatabases(dir, mapSizeBytes, opened, { files, writable: segmentDir !== undefined && threshold > 0, threshold })
    const store = new StateStore(dir, durability, dbs, opened.realDir)
    try {
      adoptSegments(dbs)
    } catch (err) {
      store.close()
      throw err
    }
    return store
  }

  /**
   * The state of one operator, key `node/operator` (database `op/node/operator`). The
   * database is created on first use and cached; handles are cheap.
   */
  operator(operatorKey: string, options: OperatorStateOptions = {}): OperatorState {
    const dbs = this.#dbs
    const group = this.#group
    dbs.requireEnv()
    const problem = operatorKeyProblem(operatorKey)
    if (problem !== undefined) {
      throw new StateBadKeyError(`bad operator key for the state store in ${this.dir}: ${problem}`, {
        dir: this.dir,
        hint: 'pass the operator as "node/operator", as in the dataflow',
      })
    }
    const durability = options.durability ?? this.durability
    checkDurability(durability, this.dir, operatorKey)
    dbs.db(operatorKey)
    const flags = COMMIT_FLAGS[durability]
    return {
      operatorKey,
      durability,
      load: () => loadOperator(dbs, operatorKey),
      commit: (writes, meta, outbox) => this.#commit(operatorKey, flags, writes, meta, outbox),
      commitLater: (writes, meta, outbox, done) => group.commitLater(operatorKey, flags, writes, meta, outbox, done),
      pending: (dataflowId) => pendingFor(dbs, operatorKey, dataflowId),
      payload: (key) => payloadOf(dbs, operatorKey, key),
      discard: (keys) => this.#discard(operatorKey, flags, keys),
      discardLater: (keys, done) => group.discardLater(operatorKey, flags, keys, done),
      flush: () => group.flush(),
      staging: () => {
        const { files, writable, threshold } = dbs.segments
        if (durability === 'power' || !writable) return undefined
        const dir = files.stagingDir()
        return dir === undefined ? undefined : { dir, threshold, spares: files.spares?.buffer }
      },
      dropStaged: (prefix) => {
        group.flush()
        dbs.segments.files.dropStaged(prefix)
      },
    }
  }

  /**
   * The outbox of a receiver that keeps no state of its own (a custom node, key = its node
   * id): the messages committed for it and not yet consumed, and deleting those it consumed.
   * Operators use {@link operator}, which commits the deletion with their event instead.
   */
  receiverOutbox(receiverKey: string): ReceiverOutbox {
    const dbs = this.#dbs
    const group = this.#group
    dbs.requireEnv()
    const flags = COMMIT_FLAGS[this.durability]
    return {
      pending: (dataflowId) => pendingFor(dbs, receiverKey, dataflowId),
      discard: (keys) => this.#discard(receiverKey, flags, keys),
      discardLater: (keys, done) => group.discardLater(receiverKey, flags, keys, done),
      afterGroup: (done) => group.afterGroup(receiverKey, done),
    }
  }

  /**
   * The outbox of a sender that keeps no state of its own (a custom node, key = its node id):
   * its messages for the receivers that consume through the outbox, committed in the group of
   * this turn of the event loop (see {@link OperatorState.commitLater}) with the number of the
   * sender's last message, so that numbers (the messages' sort keys) keep growing across runs.
   */
  senderOutbox(senderKey: string): SenderOutbox {
    const dbs = this.#dbs
    const group = this.#group
    dbs.requireEnv()
    const counterKey = Buffer.from(senderMetaKey(senderKey), 'utf8')
    return {
      lastNumber: () => senderNumber(dbs, senderKey, counterKey),
      commitLater: (put, lastNumber, done) =>
        group.senderLater(senderKey, { put, counter: { key: counterKey, value: Buffer.from(lastNumber.toString()) } }, done),
      afterGroup: (done) => group.afterGroup(senderKey, done),
      flush: () => group.flush(),
    }
  }

  /**
   * Remove everything but the layout record (for --clean-state and `state clear`): every
   * operator's state and meta, every message waiting in the outbox, every custom node's
   * message counter; or only `operatorKey`'s state, meta and the messages waiting for it. In
   * one durable transaction. Never called implicitly. Existing handles stay usable: they
   * start again from empty state.
   */
  clear(operatorKey?: string): void {
    const env = this.#dbs.requireEnv()
    const problem = operatorKey === undefined ? undefined : operatorKeyProblem(operatorKey)
    if (problem !== undefined) {
      throw new StateBadKeyError(`cannot clear the state in ${this.dir}: ${problem}`, { dir: this.dir, hint: 'pass the operator as "node/operator"' })
    }
    const context: StateErrorContext = { dir: this.dir, action: 'clear', operator: operatorKey }
    const existing = this.#dbs.operatorKeys(context)
    const targets = operatorKey === undefined ? existing : [operatorKey]
    const drops = targets.filter((key) => existing.includes(key)).map((key) => [key, this.#dbs.db(key)] as const)
    const outbox = this.#dbs.outboxDb()
    const txn = new OutboxTxn(this.#dbs.segments, this.#dbs.seal)
    try {
      env.transactionSync(() => {
        for (const [key, db] of drops) {
          // mdb_drop closes the handle at once, even if the transaction then fails: forget it
          // first, so the next use of the operator opens (and creates) its database afresh.
          this.#dbs.forgetDb(key)
          db.dropSync()
        }
        for (const key of targets) this.#dbs.meta.removeSync(this.#dbs.metaKey(key))
        // Messages waiting for a cleared operator go too: it starts from nothing. Clearing the
        // whole store (--clean-state) is clean: every waiting message (custom nodes' included)
        // and every record but the layout (custom nodes' message counters, `node/<id>`) goes,
        // or the next run replayed what --clean-state forgot.
        if (operatorKey === undefined) {
          for (const key of [...this.#dbs.meta.getKeys()]) if (!key.equals(LAYOUT_KEY_BYTES)) this.#dbs.meta.removeSync(key)
        }
        const ranges = operatorKey === undefined ? [{}] : targets.map((key) => receiverRange(key))
        for (const range of ranges) {
          for (const entry of [...outbox.getKeys(range)]) {
            if (isDataKey(entry) || isSegmentKey(entry)) outbox.removeSync(entry)
            else txn.remove(outbox, entry)
          }
        }
      }, COMMIT_FLAGS.power)
    } catch (err) {
      txn.failed()
      throw stateErrorFrom(err, context)
    }
    txn.committed()
    // The link logs hold the custom nodes' waiting messages of direct links: they go too.
    if (operatorKey === undefined) rmSync(this.linksDir, { recursive: true, force: true })
  }

  /** Entries and bytes (keys + values) of every operator with a database, in key order. */
  stats(): OperatorStats[] {
    this.#dbs.requireEnv()
    const context: StateErrorContext = { dir: this.dir, action: 'stats' }
    const result: OperatorStats[] = []
    try {
      for (const operator of this.#dbs.operatorKeys(context)) {
        const db = this.#dbs.db(operator)
        const txn = db.useReadTransaction()
        try {
          let entries = 0
          let bytes = 0
          for (const key of db.getKeys({ transaction: txn })) {
            entries++
            // getBinaryFast does not copy the value (only its length is needed); it reads from
            // the env's current read transaction, which is `txn` until the next commit.
            const stored = db.getBinaryFast(key)
            bytes += key.length + (stored === undefined ? 0 : this.#dbs.seal.valueLength(stored.length))
          }
          result.push({ operator, entries, bytes })
        } finally {
          txn.done()
        }
      }
    } catch (err) {
      throw stateErrorFrom(err, context)
    }
    return result
  }

  /**
   * Write a consistent copy of the whole store into the directory `targetPath` (created if
   * missing; must not hold a store already), with lmdb-js backup(): LMDB copies from one read
   * transaction on a background thread, so commits go on meanwhile. Never copy data.mdb of a
   * live store by hand (lmdb-js #256). The copy opens with {@link StateStore.open}.
   *
   * Large payloads kept as segment files are copied too, as `segment-<name>` files of the
   * target: no segment is unlinked while the copy runs, and afterwards every segment it may
   * reference is copied (a few more are harmless: the store made from it sweeps them).
   */
  async snapshot(targetPath: string): Promise<void> {
    const env = this.#dbs.requireEnv()
    const target = resolve(targetPath)
    const fail = (why: string, cause?: unknown): StateSnapshotError =>
      new StateSnapshotError(`cannot snapshot the state store in ${this.dir} to ${target}: ${why}`, {
        dir: this.dir,
        cause,
        hint: `choose a new, empty directory for the snapshot instead of ${target}`,
      })
    if (target === this.dir) throw fail('the target is the store itself')
    try {
      // 0700: the copy is as private as the store (issue 13).
      mkdirSync(target, { recursive: true, mode: 0o700 })
    } catch (err) {
      throw fail(errorMessage(err), err)
    }
    if (existsSync(join(target, 'data.mdb'))) throw fail('it already holds a store (data.mdb exists)')
    const copy = env.backup(target, true).catch((err: unknown) => {
      throw fail(err instanceof Error ? err.message : String(err), err)
    })
    const pending = copy.then(
      () => undefined,
      () => undefined,
    )
    this.#pendingSnapshots.add(pending)
    const files = this.#dbs.segments.files
    files.pin()
    try {
      await copy
      try {
        files.copyAllTo(target)
      } catch (err) {
        throw fail(`could not copy its payload files: ${errorMessage(err)}`, err)
      }
    } finally {
      files.unpin()
      this.#pendingSnapshots.delete(pending)
    }
  }

  /**
   * Close the environment. Idempotent. Later calls on the store or its handles throw
   * DORA_STATE_CLOSED. A snapshot still being copied finishes first (the environment closes
   * when it is done): await `[Symbol.asyncDispose]()` to wait for that.
   */
  close(): void {
    if (this.#closing) return
    // Commits already accepted are committed, not dropped.
    this.#group.flush()
    this.#closing = true
    const env = this.#dbs.detach()
    const finish = (): void => {
      this.#dbs.clearHandles()
      this.#dbs.segments.files.close()
      try {
        // lmdb-js closes the environment synchronously when no asynchronous write is queued
        // (this store never queues one), so the directory can be reopened right away.
        void env?.close()
      } finally {
        releaseStateDir(this.#realDir)
        this.#resolveClosed()
      }
    }
    if (this.#pendingSnapshots.size === 0) finish()
    else void Promise.allSettled([...this.#pendingSnapshots]).then(finish)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.#closed
  }

  #commit(operatorKey: string, flags: number, writes: readonly StateWrite[], meta: OperatorMeta, outbox: OutboxChange | undefined): void {
    const dbs = this.#dbs
    // Commits of one operator stay in order: a pending group goes first.
    this.#group.flush()
    const env = dbs.requireEnv(operatorKey)
    const db = dbs.db(operatorKey)
    const target = { dir: this.dir, operatorKey, metaKey: dbs.metaKey(operatorKey), pageSize: dbs.pageSize, mapSizeBytes: this.mapSizeBytes, seal: dbs.seal }
    const commit = encodeCommit(target, writes, meta, outbox)
    dbs.budget.reserve(env, commit.growth, this.dir, operatorKey)
    const txn = new OutboxTxn(dbs.segments, dbs.seal)
    try {
      if (outbox !== undefined) txn.prepare(outbox.put, flags === COMMIT_FLAGS.power)
      applyCommit(env, db, dbs.meta, commit, flags, target, outbox === undefined ? undefined : { db: dbs.outboxDb(), txn })
    } catch (err) {
      txn.failed()
      throw stateErrorFrom(err, { dir: this.dir, action: 'commit', operator: operatorKey, mapSizeBytes: this.mapSizeBytes })
    }
    txn.committed()
  }

  #discard(operatorKey: string, flags: number, keys: readonly Buffer[]): void {
    if (keys.length === 0) return
    const dbs = this.#dbs
    const env = dbs.requireEnv(operatorKey)
    const outbox = dbs.outboxDb()
    const txn = new OutboxTxn(dbs.segments, dbs.seal)
    try {
      env.transactionSync(() => {
        for (const key of keys) txn.remove(outbox, key)
      }, flags)
    } catch (err) {
      throw stateErrorFrom(err, { dir: this.dir, action: 'commit', operator: operatorKey, mapSizeBytes: this.mapSizeBytes })
    }
    txn.committed()
  }
}
