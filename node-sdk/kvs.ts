/**
 * The shared key-value store as nodes and operators see it: `node.kvs` in a custom node,
 * `ctx.kvs` in an operator, the same {@link Kvs} type in both. dora's `kvs_read`/`kvs_write`
 * (here `read`/`write`, also as `kvsRead`/`kvsWrite`), plus delete, list, atomic update and
 * compare-and-set, watch, namespaces (pools) and JSON / typed-array helpers.
 *
 * A custom node (any process) opens the machine's LMDB environment itself: a read is a plain
 * LMDB read (about 1.5 µs), a write a synchronous, fsynced LMDB commit (a few hundred µs).
 * An operator reaches it through its supervisor's KVS thread (src/store/kvs/service.ts), since
 * lmdb-js does not survive the termination of a thread inside a transaction: a call is then a
 * round trip of some 25 µs more. See src/store/kvs/store.ts for the guarantees.
 *
 * @example
 * ```ts
 * // a custom node
 * const node = await Node.connect()
 * node.kvs.writeJson('settings/max-speed', 1.5)
 * node.kvs.update('stats/scans', (old) => encodeJson((old ? decodeJson<number>(old) : 0) + 1))
 * for await (const change of node.kvs.watch('settings/')) console.log(change)
 *
 * // an operator
 * onInput(input, ctx) { const speed = ctx.kvs.readJson<number>('settings/max-speed') ?? 1 }
 * ```
 *
 * @module
 */
import { KvsBadValueError, KvsClosedError, KvsError, KvsOpenError } from '../src/store/kvs/errors.js'
// Only leaf modules and types: an operator's worker loads this file, and must not load lmdb
// (it reaches the KVS through the supervisor's KVS thread). The direct store: kvs-direct.ts.
import { badNamespaceError, checkKvsNamespace, namespaceProblem } from '../src/store/kvs/keys.js'
import type { KvsChange, KvsEntry, KvsListOptions, KvsPool, KvsProvider, KvsWatch, KvsWatchOptions } from '../src/store/kvs/store.js'
import { json } from './state-codecs.js'
import { asTypedArray, typedArrayBytes } from './payload.js'

export type { KvsChange, KvsEntry, KvsListOptions, KvsWatch, KvsWatchOptions }

type NumericArray = Parameters<typeof typedArrayBytes>[0]
/** A typed-array class such as `Float32Array`, as {@link Kvs.readTyped} takes it. */
export type TypedArrayClass<T extends NumericArray> = Parameters<typeof asTypedArray<T>>[0]

/** Where the KVS is and which namespace a handle starts on; the supervisor decides it. */
export interface KvsConfig {
  /** The KVS directory (the supervisor's `--kvs-dir`, `$DORA_TS_KVS_DIR`, or the XDG default). */
  dir: string
  /** Size limit of the KVS in bytes. */
  mapSizeBytes: number
  /** The default namespace: the dataflow's name, or its `kvs_namespace`. */
  namespace: string
}

/** What a handle is built on: the directory (for messages), the namespace, and how to reach the store on first use. */
export interface KvsSource {
  dir: string
  namespace: string
  open(): KvsProvider
}

/**
 * A handle on one namespace (pool) of the machine's shared key-value store. Keys are
 * non-empty strings of at most 511 UTF-8 bytes; values are bytes up to 64 MiB.
 *
 * Guarantees: a write that has returned is visible to every later read from any process on
 * the machine; each write is atomic (a reader never sees a torn value); `update` and
 * `compareAndSet` are linearizable per key; writes survive a SIGKILL of the writer and of the
 * supervisor (not a power cut). In an operator, KVS writes commit at once: unlike
 * `saveState`, they are not undone when the handler then throws, and a redelivered input may
 * repeat them.
 */
export interface Kvs {
  /** The namespace this handle reads and writes. */
  readonly name: string
  /** The value of `key`, or undefined when absent. */
  read(key: string): Uint8Array | undefined
  /** Set `key` to `value`; committed when it returns. */
  write(key: string, value: Uint8Array): void
  /** dora's name for {@link read}. */
  kvsRead(key: string): Uint8Array | undefined
  /** dora's name for {@link write}. */
  kvsWrite(key: string, value: Uint8Array): void
  /** Delete `key`; true when it existed. */
  delete(key: string): boolean
  /** Keys starting with `prefix` (default: all) and their values, in key order, from one snapshot. */
  list(prefix?: string, options?: KvsListOptions): KvsEntry[]
  /**
   * Atomic read-modify-write. `fn` gets the current value (undefined when absent) and returns
   * the new one (undefined deletes the key); concurrent updaters in any process never lose an
   * update. Keep `fn` short, synchronous and free of side effects: in a custom node it runs
   * holding the KVS's machine-wide write turnstile (every other writer waits for it, and fails
   * with DORA_KVS_STALLED after 60 s; a process.exit() in it frees it like a kill), in an
   * operator it may run twice (a compare-and-set first; when another writer got in between,
   * again holding the write transaction). If it throws, nothing is written. Returns the new value.
   * @example kvs.update('count', (old) => encodeJson((old ? decodeJson<number>(old) : 0) + 1))
   */
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined
  /**
   * Set `key` to `next` (undefined deletes it) only if its value equals `expected` byte for
   * byte (undefined: only if absent). True when it was set.
   * @example kvs.compareAndSet('leader', undefined, encodeText(node.id)) // claim it if free
   */
  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean
  /**
   * Changes of keys starting with `prefix` made after this call, by any process, as an async
   * iterator of `{ type: 'put', key, value }`, `{ type: 'delete', key }` and (rarely)
   * `{ type: 'lagged' }`. New changes are seen within about 10 ms (`intervalMs`). A watch does
   * not keep the process alive by itself; it ends on `break`, `options.signal` and close.
   * @example for await (const change of kvs.watch('settings/')) if (change.type === 'put') apply(change)
   */
  watch(prefix?: string, options?: KvsWatchOptions): KvsWatch
  /** A handle on another namespace (pool) of the same KVS, e.g. one shared by two dataflows. */
  namespace(name: string): Kvs
  /** The value of `key` decoded as JSON, or undefined when absent. */
  readJson<T = unknown>(key: string): T | undefined
  /** Set `key` to `value` encoded as JSON. */
  writeJson(key: string, value: unknown): void
  /** {@link update} on a JSON value. */
  updateJson<T = unknown>(key: string, fn: (current: T | undefined) => T | undefined): T | undefined
  /** The value of `key` as a typed array (zero-copy when aligned), or undefined when absent. */
  readTyped<T extends NumericArray>(cls: TypedArrayClass<T>, key: string): T | undefined
  /** Set `key` to the bytes of a typed array. */
  writeTyped(key: string, array: NumericArray): void
  /**
   * Release the KVS in this process (thread): watches end, later calls throw
   * DORA_KVS_CLOSED. Closes every handle made with {@link namespace} from the same root.
   * `node.close()` and the end of an operator do it for you. Idempotent.
   */
  close(): void
}

/**
 * A {@link Kvs} on `source`, or for the reason there is none (a message: every use throws
 * DORA_KVS_OPEN with it). The store opens on first use, so a node that never touches the KVS
 * never opens it.
 * @internal Used by the node SDK and the operator worker.
 */
export function createKvs(source: KvsSource | string): Kvs {
  if (typeof source === 'string') {
    return new KvsHandle(
      new KvsRoot(new KvsOpenError(source, { hint: 'run the node with a dora-ts supervisor of the same version (dora-ts run dataflow.yml)' })),
      'default',
    )
  }
  const problem = namespaceProblem(source.namespace)
  // Never throw here (a node must connect even with an odd dataflow name): fail on first use.
  if (problem !== undefined) return new KvsHandle(new KvsRoot(badNamespaceError(problem, source.dir)), 'default')
  return new KvsHandle(new KvsRoot(source), source.namespace)
}

/** The lazily opened store shared by a root handle and the handles made from it. */
class KvsRoot {
  readonly #source: KvsSource | KvsError
  #store: KvsProvider | undefined
  #closed = false

  constructor(source: KvsSource | KvsError) {
    this.#source = source
  }

  store(namespace: string): KvsProvider {
    if (this.#store !== undefined) return this.#store
    const source = this.#source
    if (this.#closed) {
      const dir = source.dir
      throw new KvsClosedError(`the KVS handle on namespace ${JSON.stringify(namespace)} is closed${dir === '' ? '' : ` (${dir})`}`, {
        dir,
        namespace,
        hint: 'use the KVS before closing the node (node.close()) or the handle',
      })
    }
    if (source instanceof KvsError) throw source
    this.#store = source.open()
    return this.#store
  }

  close(): void {
    this.#closed = true
    const store = this.#store
    this.#store = undefined
    store?.close()
  }
}

class KvsHandle implements Kvs {
  readonly name: string
  readonly #root: KvsRoot

  constructor(root: KvsRoot, name: string) {
    this.#root = root
    this.name = name
  }

  #ns(): KvsPool {
    return this.#root.store(this.name).namespace(this.name)
  }

  read(key: string): Uint8Array | undefined {
    return this.#ns().read(key)
  }

  write(key: string, value: Uint8Array): void {
    this.#ns().write(key, value)
  }

  kvsRead(key: string): Uint8Array | undefined {
    return this.read(key)
  }

  kvsWrite(key: string, value: Uint8Array): void {
    this.write(key, value)
  }

  delete(key: string): boolean {
    return this.#ns().delete(key)
  }

  list(prefix = '', options: KvsListOptions = {}): KvsEntry[] {
    return this.#ns().list(prefix, options)
  }

  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined {
    return this.#ns().update(key, fn)
  }

  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean {
    return this.#ns().compareAndSet(key, expected, next)
  }

  watch(prefix = '', options: KvsWatchOptions = {}): KvsWatch {
    return this.#ns().watch(prefix, options)
  }

  namespace(name: string): Kvs {
    checkKvsNamespace(name, '')
    return new KvsHandle(this.#root, name)
  }

  readJson<T = unknown>(key: string): T | undefined {
    const bytes = this.read(key)
    return bytes === undefined ? undefined : json.decode<T>(bytes)
  }

  writeJson(key: string, value: unknown): void {
    this.write(key, encodeJsonValue(value, key))
  }

  updateJson<T = unknown>(key: string, fn: (current: T | undefined) => T | undefined): T | undefined {
    let result: T | undefined
    this.update(key, (bytes) => {
      result = fn(bytes === undefined ? undefined : json.decode<T>(bytes))
      return result === undefined ? undefined : encodeJsonValue(result, key)
    })
    return result
  }

  readTyped<T extends NumericArray>(cls: TypedArrayClass<T>, key: string): T | undefined {
    const bytes = this.read(key)
    return bytes === undefined ? undefined : asTypedArray(cls, bytes)
  }

  writeTyped(key: string, array: NumericArray): void {
    if (!ArrayBuffer.isView(array) || array instanceof DataView) {
      throw new KvsBadValueError(`cannot write key ${JSON.stringify(key)} in KVS namespace ${JSON.stringify(this.name)}: writeTyped takes a typed array`, {
        namespace: this.name,
        key,
        hint: 'pass a Float32Array, Int32Array, ... or use write() with bytes',
      })
    }
    this.write(key, typedArrayBytes(array))
  }

  close(): void {
    this.#root.close()
  }
}

/** JSON bytes of `value`; `undefined` (which JSON cannot hold) is refused rather than written as nothing. */
function encodeJsonValue(value: unknown, key: string): Uint8Array {
  const bytes = json.encode(value) as Uint8Array | undefined
  if (bytes === undefined || bytes.length === 0) {
    throw new KvsBadValueError(`cannot write key ${JSON.stringify(key)}: ${typeof value} has no JSON form`, {
      key,
      hint: 'write a JSON value (object, array, string, number, boolean, null); delete() removes a key',
    })
  }
  return bytes
}
