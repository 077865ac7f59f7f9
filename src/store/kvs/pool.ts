/**
 * What a `Kvs` handle (node-sdk/kvs.ts) needs of the KVS, as interfaces: a {@link KvsProvider}
 * hands out {@link KvsPool}s, one per namespace. Two implementations: the store in this thread
 * (store.ts, namespace.ts) and an operator worker's client of the supervisor's KVS thread
 * (remote.ts). Types only, so both sides can share them without loading LMDB.
 *
 * @module
 */
import type { KvsWatch, KvsWatchOptions } from './watch.js'

/** One key and its value, as {@link KvsPool.list} returns them. */
export interface KvsEntry {
  key: string
  value: Uint8Array
}

/** Options of {@link KvsPool.list}. */
export interface KvsListOptions {
  /** Return at most this many entries (the first ones in key order). */
  limit?: number
}

/**
 * One namespace's operations, as a `Kvs` handle uses them: a KvsNamespace in this thread, or
 * the operators' client of the supervisor's KVS thread (remote.ts).
 */
export interface KvsPool {
  readonly name: string
  read(key: string): Uint8Array | undefined
  write(key: string, value: Uint8Array): void
  delete(key: string): boolean
  list(prefix?: string, options?: KvsListOptions): KvsEntry[]
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined
  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean
  watch(prefix?: string, options?: KvsWatchOptions): KvsWatch
}

/** Hands out {@link KvsPool}s: a KvsStore, or the client of the KVS thread. */
export interface KvsProvider {
  namespace(name: string): KvsPool
  close(): void
}
