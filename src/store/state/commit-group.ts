/**
 * The group commit of a state store: every commitLater, discardLater and sender write made in
 * one turn of the event loop (any operator, any custom node) is applied in ONE LMDB write
 * transaction after that turn's I/O callbacks, then each caller's `done` runs, in order.
 *
 * Apart from store.ts because it is the one piece of the store with its own timing (a queue,
 * a setImmediate, an order promise to callers) and its own failure rules (an entry that fails
 * its checks keeps its place; one failed transaction fails every entry in it), which read best
 * without the synchronous paths around them.
 *
 * @module
 */
import type { Bytes } from './environment.js'
import { COMMIT_FLAGS, encodeCommit, encodeDeferredMeta, writeCommit, type EncodedCommit, type StateWrite } from './commit.js'
import type { StoreDatabases } from './databases.js'
import { stateErrorFrom } from './errors.js'
import type { OperatorMeta } from './disk-layout.js'
import type { OutboxChange } from './outbox.js'
import { OutboxTxn } from './outbox-txn.js'
import type { ValueSeal } from '../lmdb/checksum.js'

/** A group entry of a sender without state: outbox writes and its message counter. */
export interface SenderWrite {
  put: OutboxChange['put']
  /** The sender's last message number, in `__meta__`. */
  counter: { key: Buffer; value: Buffer }
}

/**
 * One write waiting for the group transaction: an operator's event (`commit`), outbox entries a
 * receiver consumed (`discard`), or a commit that failed its checks (`error`, kept for order).
 */
interface GroupEntry {
  operatorKey: string
  flags: number
  commit?: EncodedCommit
  discard?: readonly Buffer[]
  /** Outbox writes of no operator event (a custom node's messages, see StateStore.senderOutbox). */
  outbox?: SenderWrite
  error?: unknown
  done: (err?: unknown) => void
}

/** Upper estimate of the pages one sender's group entry copies (outbox and meta paths). */
const SENDER_SLACK_PAGES = 6

/** Write a sender's group entry inside the group's transaction. */
function writeSenderOutbox(meta: Bytes, outboxDb: Bytes, txn: OutboxTxn, write: SenderWrite, seal: ValueSeal): void {
  for (const put of write.put) txn.put(outboxDb, put)
  meta.putSync(write.counter.key, seal.sealTransient(write.counter.key, write.counter.value))
}

/** The writes of one store waiting for this turn's transaction (see the module comment). */
export class CommitGroup {
  readonly #dbs: StoreDatabases
  /** Flags of an entry that carries no durability of its own: the store's default. */
  readonly #defaultFlags: number
  /** Commits waiting for the group transaction of this turn of the event loop. */
  readonly #group: GroupEntry[] = []
  #scheduled = false

  constructor(dbs: StoreDatabases, defaultFlags: number) {
    this.#dbs = dbs
    this.#defaultFlags = defaultFlags
  }

  /** Commit the pending group now, if any (its `done` callbacks run before this returns). */
  flush(): void {
    if (this.#group.length > 0) this.#flushGroup()
  }

  /** Queue one operator event; see OperatorState.commitLater. */
  commitLater(
    operatorKey: string,
    flags: number,
    writes: readonly StateWrite[],
    meta: OperatorMeta,
    outbox: OutboxChange | undefined,
    done: (err?: unknown) => void,
  ): void {
    const dbs = this.#dbs
    let commit: EncodedCommit
    try {
      const env = dbs.requireEnv(operatorKey)
      const target = { dir: dbs.dir, operatorKey, metaKey: dbs.metaKey(operatorKey), pageSize: dbs.pageSize, mapSizeBytes: dbs.mapSizeBytes, seal: dbs.seal }
      commit = encodeCommit(target, writes, meta, outbox, true)
      dbs.budget.reserve(env, commit.growth, dbs.dir, operatorKey)
    } catch (err) {
      // Its place in the group is kept: `done` is called in order, never before earlier ones.
      this.#push({ operatorKey, flags, done, error: err })
      return
    }
    this.#push({ operatorKey, flags, commit, done })
  }

  /** Queue the deletion of outbox entries a receiver consumed; see OperatorState.discardLater. */
  discardLater(operatorKey: string, flags: number, keys: readonly Buffer[], done: (err?: unknown) => void): void {
    if (keys.length === 0) {
      done()
      return
    }
    try {
      this.#dbs.requireEnv(operatorKey)
    } catch (err) {
      this.#push({ operatorKey, flags, done, error: err })
      return
    }
    this.#push({ operatorKey, flags, discard: [...keys], done })
  }

  /** Queue a stateless sender's messages and counter; see SenderOutbox.commitLater. */
  senderLater(senderKey: string, write: SenderWrite, done: (err?: unknown) => void): void {
    const dbs = this.#dbs
    try {
      const env = dbs.requireEnv(senderKey)
      let growth = SENDER_SLACK_PAGES * dbs.pageSize
      for (const { key, value, data } of write.put) growth += key.length + value.length + (data === undefined ? 0 : key.length + 2 + data.length) + 32
      dbs.budget.reserve(env, growth, dbs.dir, senderKey)
    } catch (err) {
      this.#push({ operatorKey: senderKey, flags: this.#defaultFlags, done, error: err })
      return
    }
    this.#push({ operatorKey: senderKey, flags: this.#defaultFlags, outbox: write, done })
  }

  /** A place in the group's order that writes nothing: `done` once what is queued before it committed. */
  afterGroup(key: string, done: () => void): void {
    this.#push({ operatorKey: key, flags: this.#defaultFlags, done })
  }

  #push(entry: GroupEntry): void {
    this.#group.push(entry)
    if (this.#scheduled) return
    this.#scheduled = true
    // After the I/O callbacks of this turn: every 'done' that arrived in it joins the group.
    setImmediate(() => this.#flushGroup())
  }

  /** Commit the pending group in one transaction, then tell each caller, in order. */
  #flushGroup(): void {
    this.#scheduled = false
    const group = this.#group.splice(0)
    if (group.length === 0) return
    const dbs = this.#dbs
    const env = dbs.env
    let failure: unknown
    const txn = new OutboxTxn(dbs.segments, dbs.seal)
    // Segment files first, complete before the commit that references them (segments.ts).
    for (const g of group) {
      if (g.error !== undefined || env === undefined) continue
      const puts = g.commit?.outbox?.put ?? g.outbox?.put
      if (puts === undefined || puts.length === 0) continue
      try {
        txn.prepare(puts, g.flags === COMMIT_FLAGS.power)
      } catch (err) {
        g.error = stateErrorFrom(err, { dir: dbs.dir, action: 'commit', operator: g.operatorKey, mapSizeBytes: dbs.mapSizeBytes })
      }
    }
    const valid = group.filter((g) => g.error === undefined && (g.commit !== undefined || g.outbox !== undefined || g.discard !== undefined))
    if (valid.length > 0) {
      if (env === undefined) failure = dbs.closedError()
      else {
        // The strictest durability of the group: a 'power' commit fsyncs the whole group.
        const flags = valid.find((g) => g.flags === COMMIT_FLAGS.power)?.flags ?? (valid[0] as { flags: number }).flags
        const outboxDb = valid.some((g) => g.commit?.outbox !== undefined || g.outbox !== undefined || g.discard !== undefined) ? dbs.outboxDb() : undefined
        try {
          const targets = valid.map((g) => (g.commit === undefined ? undefined : dbs.db(g.operatorKey)))
          // Each operator's meta record once, its last event's: the group is one transaction,
          // so the records of its earlier events would only be overwritten in it.
          const lastOf = new Map<string, GroupEntry>()
          for (const g of valid) if (g.commit !== undefined) lastOf.set(g.operatorKey, g)
          for (const g of lastOf.values()) encodeDeferredMeta(g.commit as EncodedCommit)
          const outboxWrites = outboxDb === undefined ? undefined : { db: outboxDb, txn }
          env.transactionSync(() => {
            valid.forEach((g, i) => {
              if (g.commit !== undefined) writeCommit(targets[i] as Bytes, dbs.meta, g.commit, outboxWrites, lastOf.get(g.operatorKey) === g)
              else if (g.outbox !== undefined) writeSenderOutbox(dbs.meta, outboxDb as Bytes, txn, g.outbox, dbs.seal)
              else for (const key of g.discard ?? []) txn.remove(outboxDb as Bytes, key)
            })
          }, flags)
        } catch (err) {
          failure = stateErrorFrom(err, { dir: dbs.dir, action: 'commit', operator: valid[0]?.operatorKey, mapSizeBytes: dbs.mapSizeBytes })
        }
      }
    }
    // Only now, after the commit: unlink the segments no entry references any more (off this
    // thread: it is the routing thread, and nothing waits for the unlinks).
    if (failure === undefined) txn.committed(true)
    else txn.failed()
    for (const g of group) g.done(g.error ?? failure)
  }
}
