/**
 * The handles of the state store, as the rest of the runtime sees them: the options of
 * {@link StateStore.open}, an operator's {@link OperatorState}, the outboxes of custom nodes
 * ({@link ReceiverOutbox}, {@link SenderOutbox}) and a line of {@link StateStore.stats}.
 *
 * Apart from store.ts because operator hosts, custom nodes and the state service program
 * against these contracts and never against how the store batches and applies writes; a
 * reader of this file learns what a handle promises without the LMDB code behind it.
 *
 * @module
 */
import type { Durability } from '../../spec/types.js'
import type { StateWrite } from './commit.js'
import type { OperatorMeta } from './disk-layout.js'
import type { OutboxChange, OutboxEntry } from './outbox.js'

/** Options of {@link StateStore.open}. */
export interface StateStoreOptions {
  /** Directory of this dataflow's state, e.g. ./.dora-ts/state/<dataflow>; created if missing. */
  dir: string
  /** Default durability of the operators' commits; {@link StateStore.operator} can override it. */
  durability: Durability
  /**
   * Size limit of the store in bytes; default 1 GiB. It is also LMDB's initial map size (a
   * sparse mapping, costs nothing until used). lmdb-js grows the map on demand, so LMDB would
   * never report MDB_MAP_FULL by itself: the store enforces this limit, refusing a commit that
   * could push the data file past it (DORA_STATE_MAP_FULL). The check is conservative: it
   * assumes a commit needs fresh pages, although LMDB may reuse freed ones.
   */
  mapSizeBytes?: number
  /**
   * Where large outbox payloads are kept as files (segments.ts): default the store's folder
   * under the shared-memory root (`/dev/shm/dora-ts-<uid>/store-<hash>`); false keeps every
   * payload in LMDB.
   */
  segmentDir?: string | false
  /**
   * Operator payloads of at least this many bytes become segment files; default
   * `DORA_TS_SEGMENT_THRESHOLD`, else {@link DEFAULT_SEGMENT_THRESHOLD_BYTES}. 0 keeps every
   * payload in LMDB. (A custom node's shared-memory payload is adopted whatever its size.)
   */
  segmentThresholdBytes?: number
}

/** Options of {@link StateStore.operator}. */
export interface OperatorStateOptions {
  /** Durability of this operator's commits; default the store's. */
  durability?: Durability
}

/** One operator's state: its private named database and its meta record. */
export interface OperatorState {
  /** The `node/operator` key this handle was made for. */
  readonly operatorKey: string
  readonly durability: Durability
  /** Current state (keys -> values) and meta, read in one read transaction. */
  load(): { state: Map<string, Uint8Array>; meta: OperatorMeta }
  /**
   * Apply writes (in order), set meta and apply the outbox change (messages this event sent
   * to operators, the entry of the input it consumed) in ONE synchronous transaction.
   * Returns when committed.
   */
  commit(writes: readonly StateWrite[], meta: OperatorMeta, outbox?: OutboxChange): void
  /**
   * The same as {@link commit}, grouped: the event is committed together with every other
   * commitLater of this store (any operator) made in the same turn of the event loop, in ONE
   * transaction (each event still all or nothing), then `done` is called, with the error if
   * the transaction failed. Calls of one operator commit in order. A sync {@link commit} or
   * close() commits the pending group first.
   */
  commitLater(writes: readonly StateWrite[], meta: OperatorMeta, outbox: OutboxChange | undefined, done: (err?: unknown) => void): void
  /** The messages for this operator left in the outbox, in key order (see outbox.ts). */
  pending(dataflowId: string): OutboxEntry[]
  /**
   * The payload of one committed outbox entry for this operator (a fresh copy), or undefined
   * when it is not there: lets the host transfer an input to its worker and read it back if
   * it must deliver it again after a crash.
   */
  payload(key: Buffer): Uint8Array | undefined
  /** Delete outbox entries (messages this operator will never consume: dropped by its queue policy). */
  discard(keys: readonly Buffer[]): void
  /**
   * {@link discard}, grouped with the commits of this turn of the event loop (one transaction,
   * no write transaction of its own); `done` gets the error if the transaction failed.
   */
  discardLater(keys: readonly Buffer[], done: (err?: unknown) => void): void
  /** Commit the pending group now (its `done` callbacks run before this returns). */
  flush(): void
  /**
   * Where this operator's worker may write the payloads of `threshold` bytes or more that it
   * sends through the outbox, for the commit to take as segment files without copying them
   * (SegmentFiles.take); undefined when they stay in LMDB (durability 'power', no tmpfs).
   */
  staging(): { dir: string; threshold: number; spares?: SharedArrayBuffer | undefined } | undefined
  /**
   * A worker that staged payloads under `prefix` is gone: commit the pending group (which
   * takes what its committed events staged), then remove what it left.
   */
  dropStaged(prefix: string): void
}

/** The outbox of a receiver that keeps no state (a custom node): see {@link StateStore.receiverOutbox}. */
export interface ReceiverOutbox {
  /** The messages committed for it and not consumed yet, in key order. */
  pending(dataflowId: string): OutboxEntry[]
  /** Delete the entries it consumed, in a write transaction of their own. */
  discard(keys: readonly Buffer[]): void
  /** The same, grouped with the commits of this turn (see {@link OperatorState.discardLater}). */
  discardLater(keys: readonly Buffer[], done: (err?: unknown) => void): void
  /** Call `done` once everything queued for the group before it has committed (see {@link SenderOutbox.afterGroup}). */
  afterGroup(done: () => void): void
}

/** What {@link StateStore.senderOutbox} gives a sender without state of its own (a custom node). */
export interface SenderOutbox {
  /** The number of the last message the sender committed (0n if none): the next one is this + 1. */
  lastNumber(): bigint
  /**
   * Put the sender's messages into the outbox, and record `lastNumber` as its last message
   * number, in the group transaction of this turn of the event loop; `done` is called (in
   * order, with the error if the transaction failed) once committed.
   */
  commitLater(put: OutboxChange['put'], lastNumber: bigint, done: (err?: unknown) => void): void
  /**
   * Call `done` once everything queued for the group before it has committed (or failed):
   * a place in the group's order, writing nothing.
   */
  afterGroup(done: () => void): void
  /** Commit the pending group now (its `done` callbacks run before this returns). */
  flush(): void
}

/** A line of {@link StateStore.stats}. */
export interface OperatorStats {
  operator: string
  /** Number of state keys. */
  entries: number
  /** Bytes of all keys (UTF-8) and values. */
  bytes: number
}
