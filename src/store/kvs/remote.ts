/**
 * The operator worker's side of the KVS thread: {@link KvsRemote}, a {@link KvsProvider}
 * whose every call is a synchronous round trip to the supervisor's KVS thread (about 20 µs).
 *
 * Why a thread at all is said in service.ts. The client posts the request with a shared
 * `Int32Array` flag, blocks in `Atomics.wait` until the thread stores the request's id in it,
 * and takes the answer with `receiveMessageOnPort`: so the synchronous KVS API stays
 * synchronous, and terminating the worker mid-call is harmless (the thread finishes the
 * operation and answers a port nobody reads). `update` runs the user's function here, in the
 * worker: first optimistically (read, then compare-and-set), and when another writer got in
 * between, locked (the thread holds the write transaction while the function runs), so a
 * stream of writers updating the same key cannot starve an operator (see RemotePool.update).
 *
 * Runs in every operator worker, so it imports no LMDB: only key checks, the watch iterator,
 * errors, the message types, and the readers of the write lock's and the turnstile's holders
 * (write-lock.ts, write-turnstile.ts: plain files, for a call that timed out).
 *
 * @module
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { deserializeError } from '../../errors.js'
import { describeKvsAction, KvsBadValueError, KvsClosedError, KvsStalledError, type KvsErrorContext } from './errors.js'
import { describeStall, writeLockHolder } from './write-lock.js'
import { kvsStallMs, turnstileHolder } from './write-turnstile.js'
import { checkKvsKey, checkKvsNamespace } from './keys.js'
import { createKvsWatch, watchInterval, type KvsChange, type KvsWatch, type KvsWatchOptions } from './watch.js'
import type { LogPosition } from './change-log.js'
import type { KvsEntry, KvsListOptions, KvsPool, KvsProvider } from './pool.js'
import type { KvsReply, KvsRequest } from './service-protocol.js'

/**
 * How long a call waits for the KVS thread: longer than the thread's own bound on a wait for
 * the write turnstile (write-turnstile.ts), so a write held up by another process gets the
 * thread's DORA_KVS_STALLED naming the holder, and this bound only catches a stuck thread.
 */
const callTimeoutMs = (): number => kvsStallMs() + 30_000

/**
 * An operator worker's KVS: the client of one port to the supervisor's KVS thread (from
 * KvsService.connect, transferred to the worker).
 *
 * @example
 * ```ts
 * const kvs = new KvsRemote(workerData.kvsPort, workerData.kvsDir)
 * kvs.namespace('robot').write('pose', bytes)
 * kvs.close()
 * ```
 */
export class KvsRemote implements KvsProvider {
  readonly dir: string
  readonly #port: MessagePort
  /** The id of the last request the KVS thread answered (it stores it, then notifies). */
  readonly #flag = new Int32Array(new SharedArrayBuffer(4))
  #lastId = 0
  /**
   * While a locked update's function runs: its `ack`, which every call posted meanwhile bumps
   * (the KVS thread, holding the transaction, sleeps on it and serves those calls in it).
   */
  #held: Int32Array | undefined
  readonly #namespaces = new Map<string, KvsPool>()
  readonly #watches = new Set<KvsWatch>()
  #closed = false

  constructor(port: MessagePort, dir: string) {
    this.#port = port
    this.dir = dir
  }

  namespace(name: string): KvsPool {
    this.#check({ dir: this.dir, action: 'open', namespace: name })
    checkKvsNamespace(name, this.dir)
    let pool = this.#namespaces.get(name)
    if (pool === undefined) {
      pool = new RemotePool(
        name,
        this.dir,
        (request, context, ack) => this.#call(request, context, ack),
        this.#watches,
        (ack, run) => this.#holding(ack, run),
      )
      this.#namespaces.set(name, pool)
    }
    return pool
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const watch of [...this.#watches]) watch.close()
    this.#port.close()
  }

  #check(context: KvsErrorContext): void {
    if (this.#closed) {
      throw new KvsClosedError(`${describeKvsAction(context)}: the KVS handle is closed`, {
        dir: this.dir,
        namespace: context.namespace,
        hint: 'use the KVS before the operator stops',
      })
    }
  }

  /** `run()` with `ack` as the locked update in progress (see #held); nested ones restore the outer one. */
  #holding<T>(ack: Int32Array, run: () => T): T {
    const outer = this.#held
    this.#held = ack
    try {
      return run()
    } finally {
      this.#held = outer
    }
  }

  /**
   * Ask the thread and wait for its answer. `ack`: the locked update this ends (else the one in
   * progress, if any), bumped once the request is posted: the thread waits on it.
   */
  #call(request: KvsRequest, context: KvsErrorContext, ack?: Int32Array): unknown {
    this.#check(context)
    // Ids only grow (wrapping within int32), so a stale wake-up or answer is told apart.
    const id = (this.#lastId = this.#lastId >= 0x7fff_fff0 ? 1 : this.#lastId + 1)
    this.#port.postMessage({ id, request, flag: this.#flag })
    const signal = ack ?? this.#held
    if (signal !== undefined) {
      Atomics.add(signal, 0, 1)
      Atomics.notify(signal, 0)
    }
    const timeoutMs = callTimeoutMs()
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const seen = Atomics.load(this.#flag, 0)
      if (seen === id) {
        const reply = this.#take(id)
        if (reply !== undefined) {
          if (!reply.ok) throw deserializeError(reply.error)
          return reply.result
        }
      }
      const left = deadline - performance.now()
      if (left <= 0) {
        // Instead of waiting forever (issue 12: writers blocked on a lock whose holder never
        // let go): say who holds the write lock, and what to do.
        const { why, hint } = describeStall(this.dir, writeLockHolder(this.dir), turnstileHolder(this.dir))
        throw new KvsStalledError(`${describeKvsAction(context)}: the supervisor's KVS thread did not answer within ${timeoutMs / 1000} s; ${why}`, {
          dir: this.dir,
          namespace: context.namespace,
          hint,
        })
      }
      // Sleeps until the thread stores a new id (or briefly, if the answer is still on its way).
      Atomics.wait(this.#flag, 0, seen, seen === id ? 1 : left)
    }
  }

  /** The answer to request `id`, if it has arrived; older answers (of calls that gave up) are dropped. */
  #take(id: number): KvsReply | undefined {
    for (;;) {
      const reply = receiveMessageOnPort(this.#port)?.message as KvsReply | undefined
      if (reply === undefined || reply.id === id) return reply
    }
  }
}

type Call = (request: KvsRequest, context: KvsErrorContext, ack?: Int32Array) => unknown
/** Run a locked update's function with its `ack` in effect (KvsRemote.#holding). */
type Holding = <T>(ack: Int32Array, run: () => T) => T

/** One namespace through the KVS thread. */
class RemotePool implements KvsPool {
  readonly name: string
  readonly #dir: string
  readonly #call: Call
  readonly #watches: Set<KvsWatch>

  readonly #holding: Holding

  constructor(name: string, dir: string, call: Call, watches: Set<KvsWatch>, holding: Holding) {
    this.name = name
    this.#dir = dir
    this.#call = call
    this.#watches = watches
    this.#holding = holding
  }

  read(key: string): Uint8Array | undefined {
    return this.#call({ op: 'read', ns: this.name, key }, this.#context('read', key)) as Uint8Array | undefined
  }

  write(key: string, value: Uint8Array): void {
    this.#call({ op: 'write', ns: this.name, key, value }, this.#context('write', key))
  }

  delete(key: string): boolean {
    return this.#call({ op: 'delete', ns: this.name, key }, this.#context('delete', key)) as boolean
  }

  list(prefix = '', options: KvsListOptions = {}): KvsEntry[] {
    return this.#call({ op: 'list', ns: this.name, prefix, limit: options.limit }, this.#context('list')) as KvsEntry[]
  }

  compareAndSet(key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean {
    return this.#call({ op: 'cas', ns: this.name, key, expected, next }, this.#context('compare-and-set', key)) as boolean
  }

  /**
   * As linearizable as the in-transaction update of KvsNamespace; `fn` runs once or twice (more
   * only after a locked try the thread gave up on).
   * First optimistic: read, compute, compare-and-set. When another writer got in between, the
   * next try is locked: the thread takes the write transaction, hands over the value, and
   * commits what `fn` makes of it (the function runs once more, the write cannot fail for a
   * newer value). Optimistic tries alone starved an operator beside processes updating the
   * same key in a loop: its compare-and-set waits for the write lock after them and finds the
   * value changed, time after time (in the KVS torture, an operator's update took 0.2-0.6 s
   * every few seconds, up to 10 s; a process's, 62 ms at most). A locked try the thread gave
   * up on (the function ran longer than UPDATE_HOLD_MS) is followed by an optimistic one.
   */
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined {
    const context = this.#context('update', key)
    checkKvsKey(key, context)
    if (typeof fn !== 'function') {
      throw new KvsBadValueError(`${describeKvsAction(context)}: the update function is a ${typeof fn}`, {
        dir: this.#dir,
        namespace: this.name,
        key,
        hint: 'pass a function (current) => next',
      })
    }
    for (let locked = false; ; locked = !locked) {
      if (locked) {
        const done = this.#lockedUpdate(key, fn, context)
        if (done !== undefined) return done.next
        continue
      }
      const current = this.read(key)
      const next = this.#apply(fn, current, context)
      if (this.#call({ op: 'cas', ns: this.name, key, expected: current, next }, context) === true) return next
    }
  }

  /** One locked try of {@link update}: what it wrote, or undefined when the thread gave up on it. */
  #lockedUpdate(
    key: string,
    fn: (current: Uint8Array | undefined) => Uint8Array | undefined,
    context: KvsErrorContext,
  ): { next: Uint8Array | undefined } | undefined {
    const ack = new Int32Array(new SharedArrayBuffer(4))
    const current = this.#call({ op: 'update', ns: this.name, key, ack }, context) as Uint8Array | undefined
    let next: Uint8Array | undefined
    try {
      // Its KVS calls meanwhile are served in the held transaction (and wake the thread).
      next = this.#holding(ack, () => this.#apply(fn, current, context))
    } catch (err) {
      // The thread holds the write transaction for this: let it go before passing the error on
      // (the function's own error, whatever the abort meets: a handle closed meanwhile).
      try {
        this.#call({ op: 'update-abort' }, context, ack)
      } catch {
        // The thread drops the transaction after UPDATE_HOLD_MS anyway.
      }
      throw err
    }
    return this.#call({ op: 'update-next', next }, context, ack) === true ? { next } : undefined
  }

  /** `fn(current)`, which must be bytes or undefined, and not a Promise. */
  #apply(fn: (current: Uint8Array | undefined) => Uint8Array | undefined, current: Uint8Array | undefined, context: KvsErrorContext): Uint8Array | undefined {
    const key = context.key
    const next: unknown = fn(current)
    if (typeof (next as { then?: unknown } | null)?.then === 'function') {
      throw new KvsBadValueError(`${describeKvsAction(context)}: the update function returned a Promise; it must be synchronous`, {
        dir: this.#dir,
        namespace: this.name,
        key,
        hint: 'compute the new value synchronously from the current one; do any waiting before calling update()',
      })
    }
    if (next !== undefined && !(next instanceof Uint8Array)) {
      const what = next === null ? 'null' : typeof next === 'object' ? (next.constructor?.name ?? 'object') : typeof next
      throw new KvsBadValueError(`${describeKvsAction(context)}: the value is a ${what}, not a Uint8Array`, {
        dir: this.#dir,
        namespace: this.name,
        key,
        hint: 'encode values to bytes first, or use updateJson()',
      })
    }
    return next
  }

  watch(prefix = '', options: KvsWatchOptions = {}): KvsWatch {
    const intervalMs = watchInterval(options, this.#dir, this.name)
    const start = this.#call({ op: 'watch-start', ns: this.name, prefix }, this.#context('watch')) as LogPosition
    const watch = createKvsWatch({
      start,
      intervalMs,
      signal: options.signal,
      poll: (from, limit) =>
        this.#call({ op: 'watch-poll', ns: this.name, prefix, from, limit }, this.#context('watch')) as { changes: KvsChange[]; next: LogPosition },
      detach: (w) => this.#watches.delete(w),
    })
    this.#watches.add(watch)
    return watch
  }

  #context(action: KvsErrorContext['action'], key?: string): KvsErrorContext {
    return { dir: this.#dir, action, namespace: this.name, key }
  }
}
