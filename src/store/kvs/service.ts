/**
 * The KVS thread: how operators reach the shared KVS. Custom nodes and the CLI open the LMDB
 * environment themselves (they are processes); operators do not, because they run in worker
 * threads that the supervisor terminates (crash, `timeout`, Stop), and lmdb-js does not
 * survive that: a worker terminated inside a write transaction leaves LMDB's write lock held
 * by a thread that never finishes exiting, which blocks every writer on the machine until the
 * supervisor dies, and one terminated while a cursor is open aborts the whole process
 * (`FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw`); both seen while designing
 * this, with bare lmdb-js in worker threads. test/store/kvs/service.test.ts checks that
 * terminating clients of the KVS thread mid-call blocks and crashes nothing.
 *
 * So each supervisor runs one KVS thread, which it never terminates while it works: it owns
 * the environment, and each operator worker gets a MessagePort to it. The worker's
 * {@link KvsRemote} makes every call synchronous (the API is): it posts the request, blocks in
 * `Atomics.wait` until the thread answers, and takes the answer with `receiveMessageOnPort`.
 * Terminating a worker mid-call is then harmless: the thread finishes the operation and
 * answers a port nobody reads. `update` runs the user's function in the worker, as an
 * optimistic loop of read and compare-and-set (still linearizable; the function may run more
 * than once under contention).
 *
 * @module
 */
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { MessageChannel, receiveMessageOnPort, Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { deserializeError, serializeError, type SerializedError } from '../../errors.js'
import { KvsBadValueError, KvsClosedError, KvsIoError, describeKvsAction, type KvsErrorContext } from './errors.js'
import {
  checkKvsKey,
  createKvsWatch,
  KvsStore,
  checkKvsNamespace,
  watchInterval,
  type KvsChange,
  type KvsEntry,
  type KvsListOptions,
  type KvsPool,
  type KvsProvider,
  type KvsWatch,
  type KvsWatchOptions,
  type LogPosition,
} from './store.js'

/** What the KVS thread needs to open the store. */
export interface KvsServiceConfig {
  dir: string
  mapSizeBytes: number
}

/** How long a call waits for the KVS thread (a write may wait for another process's write lock). */
const CALL_TIMEOUT_MS = 60_000

type Request =
  | { op: 'read'; ns: string; key: string }
  | { op: 'write'; ns: string; key: string; value: Uint8Array }
  | { op: 'delete'; ns: string; key: string }
  | { op: 'list'; ns: string; prefix: string; limit: number | undefined }
  | { op: 'cas'; ns: string; key: string; expected: Uint8Array | undefined; next: Uint8Array | undefined }
  | { op: 'watch-start'; ns: string; prefix: string }
  | { op: 'watch-poll'; ns: string; prefix: string; from: LogPosition; limit: number }

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError }

/** A request as a client posts it: `flag` is shared memory the client sleeps on. */
interface ClientMessage {
  id: number
  request: Request
  flag: Int32Array
}

/** The thread's entry is always the compiled file (a worker cannot load .ts without a loader). */
function threadEntry(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return here
  return join(dirname(here), '..', '..', '..', 'dist', 'src', 'store', 'kvs', 'service.js')
}

const THREAD_MARK = 'dora-ts.kvs-service'

/**
 * The supervisor's side: starts the KVS thread on the first {@link connect} and stops it on
 * {@link close}. One per dataflow run.
 */
export class KvsService {
  readonly config: KvsServiceConfig
  #worker: Worker | undefined
  #exited: Promise<void> | undefined
  #closed = false

  constructor(config: KvsServiceConfig) {
    this.config = config
  }

  /**
   * A port for one client (an operator worker): transfer it to the worker. The thread starts
   * on the first request of any client, so a dataflow whose operators never use the KVS has
   * none.
   */
  connect(): MessagePort {
    if (this.#closed) throw new KvsIoError(`the KVS thread of ${this.config.dir} is closed`, { dir: this.config.dir, hint: 'this is a bug in dora-ts: it connected an operator after the run ended' })
    const { port1, port2 } = new MessageChannel()
    if (this.#worker !== undefined) {
      this.#worker.postMessage({ type: 'connect', port: port1 }, [port1])
      return port2
    }
    // Lazily: this thread must be free to see the first request (a client in this very thread
    // would block it in Atomics.wait: call start() first then).
    port1.once('message', (first: unknown) => {
      if (this.#closed) return port1.close()
      // Hand the port over with the request that woke it; later ones travel queued in the port.
      this.#start().postMessage({ type: 'connect', port: port1, first }, [port1])
    })
    port1.unref()
    return port2
  }

  /** Start the thread now rather than on the first request. */
  start(): void {
    this.#start()
  }

  /** Let the thread finish what it was asked, close the store, and exit. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    if (worker === undefined) return
    this.#worker = undefined
    worker.postMessage({ type: 'close' })
    // It exits once its store is closed (keep the process alive until then); it is never
    // terminated mid-transaction, unless it hangs.
    worker.ref()
    const timer = setTimeout(() => void worker.terminate(), 10_000)
    await this.#exited
    clearTimeout(timer)
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(threadEntry(), { workerData: { [THREAD_MARK]: this.config }, name: 'dora-ts kvs' })
    // A thread that dies fails its clients' calls with a timeout; say why on stderr.
    worker.on('error', (err) => process.stderr.write(`dora-ts: the KVS thread failed: ${err.stack ?? String(err)}\n`))
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()))
    worker.unref()
    this.#worker = worker
    return worker
  }
}

/** The thread: serve each client port, one request at a time, in order. */
function serve(config: KvsServiceConfig): void {
  let store: KvsStore | undefined
  const ports = new Set<MessagePort>()
  const open = (): KvsStore => (store ??= KvsStore.open({ dir: config.dir, mapSizeBytes: config.mapSizeBytes }))
  const handle = (request: Request): unknown => {
    const ns = open().namespace(request.ns)
    switch (request.op) {
      case 'read':
        return ns.read(request.key)
      case 'write':
        return ns.write(request.key, request.value)
      case 'delete':
        return ns.delete(request.key)
      case 'list':
        return ns.list(request.prefix, request.limit === undefined ? {} : { limit: request.limit })
      case 'cas':
        return ns.compareAndSet(request.key, request.expected, request.next)
      case 'watch-start':
        return ns.watchStart(request.prefix)
      case 'watch-poll':
        return ns.changesSince(request.from, request.prefix, request.limit)
    }
  }
  parentPort!.on('message', (message: { type: 'connect'; port: MessagePort; first?: ClientMessage } | { type: 'close' }) => {
    if (message.type === 'close') {
      for (const port of ports) port.close()
      store?.close()
      parentPort!.close()
      return
    }
    const { port, first } = message
    ports.add(port)
    port.on('close', () => ports.delete(port))
    const answer = ({ id, request, flag }: ClientMessage): void => {
      try {
        let reply: Reply
        try {
          reply = { id, ok: true, result: handle(request) }
        } catch (err) {
          reply = { id, ok: false, error: serializeError(err) }
        }
        try {
          port.postMessage(reply)
        } catch (err) {
          // A result that cannot be cloned must still answer the caller, which is waiting.
          port.postMessage({ id, ok: false, error: serializeError(err) } satisfies Reply)
        }
      } finally {
        // The caller sleeps until the flag holds its request's id.
        Atomics.store(flag, 0, id)
        Atomics.notify(flag, 0)
      }
    }
    if (first !== undefined) answer(first)
    port.on('message', answer)
  })
}

if (!isMainThread && typeof workerData === 'object' && workerData !== null && THREAD_MARK in workerData) {
  serve((workerData as Record<string, KvsServiceConfig>)[THREAD_MARK]!)
}

/**
 * The operator worker's side: a {@link KvsProvider} whose every call is a synchronous round
 * trip to the KVS thread (about 20 µs).
 */
export class KvsRemote implements KvsProvider {
  readonly dir: string
  readonly #port: MessagePort
  /** The id of the last request the KVS thread answered (it stores it, then notifies). */
  readonly #flag = new Int32Array(new SharedArrayBuffer(4))
  #lastId = 0
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
      pool = new RemotePool(name, this.dir, (request, context) => this.#call(request, context), this.#watches)
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
      throw new KvsClosedError(`${describeKvsAction(context)}: the KVS handle is closed`, { dir: this.dir, namespace: context.namespace, hint: 'use the KVS before the operator stops' })
    }
  }

  #call(request: Request, context: KvsErrorContext): unknown {
    this.#check(context)
    // Ids only grow (wrapping within int32), so a stale wake-up or answer is told apart.
    const id = (this.#lastId = this.#lastId >= 0x7fff_fff0 ? 1 : this.#lastId + 1)
    this.#port.postMessage({ id, request, flag: this.#flag })
    const deadline = Date.now() + CALL_TIMEOUT_MS
    for (;;) {
      const seen = Atomics.load(this.#flag, 0)
      if (seen === id) {
        const reply = this.#take(id)
        if (reply !== undefined) {
          if (!reply.ok) throw deserializeError(reply.error)
          return reply.result
        }
      }
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new KvsIoError(`${describeKvsAction(context)}: the supervisor's KVS thread did not answer within ${CALL_TIMEOUT_MS / 1000} s`, {
          dir: this.dir,
          namespace: context.namespace,
          hint: `another process may hold the KVS write lock of ${this.dir} for that long; check the supervisor's log`,
        })
      }
      // Sleeps until the thread stores a new id (or briefly, if the answer is still on its way).
      Atomics.wait(this.#flag, 0, seen, seen === id ? 1 : left)
    }
  }

  /** The answer to request `id`, if it has arrived; older answers (of calls that gave up) are dropped. */
  #take(id: number): Reply | undefined {
    for (;;) {
      const reply = receiveMessageOnPort(this.#port)?.message as Reply | undefined
      if (reply === undefined || reply.id === id) return reply
    }
  }
}

type Call = (request: Request, context: KvsErrorContext) => unknown

/** One namespace through the KVS thread. */
class RemotePool implements KvsPool {
  readonly name: string
  readonly #dir: string
  readonly #call: Call
  readonly #watches: Set<KvsWatch>

  constructor(name: string, dir: string, call: Call, watches: Set<KvsWatch>) {
    this.name = name
    this.#dir = dir
    this.#call = call
    this.#watches = watches
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
   * Optimistic: read, compute, compare-and-set, again until nobody wrote in between. As
   * linearizable as the in-transaction update of KvsNamespace; `fn` may run more than once.
   */
  update(key: string, fn: (current: Uint8Array | undefined) => Uint8Array | undefined): Uint8Array | undefined {
    const context = this.#context('update', key)
    checkKvsKey(key, context)
    if (typeof fn !== 'function') {
      throw new KvsBadValueError(`${describeKvsAction(context)}: the update function is a ${typeof fn}`, { dir: this.#dir, namespace: this.name, key, hint: 'pass a function (current) => next' })
    }
    for (;;) {
      const current = this.read(key)
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
      if (this.#call({ op: 'cas', ns: this.name, key, expected: current, next: next as Uint8Array | undefined }, context) === true) return next as Uint8Array | undefined
    }
  }

  watch(prefix = '', options: KvsWatchOptions = {}): KvsWatch {
    const intervalMs = watchInterval(options, this.#dir, this.name)
    const start = this.#call({ op: 'watch-start', ns: this.name, prefix }, this.#context('watch')) as LogPosition
    const watch = createKvsWatch({
      start,
      intervalMs,
      signal: options.signal,
      poll: (from, limit) => this.#call({ op: 'watch-poll', ns: this.name, prefix, from, limit }, this.#context('watch')) as { changes: KvsChange[]; next: LogPosition },
      detach: (w) => this.#watches.delete(w),
    })
    this.#watches.add(watch)
    return watch
  }

  #context(action: KvsErrorContext['action'], key?: string): KvsErrorContext {
    return { dir: this.#dir, action, namespace: this.name, key }
  }
}
