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
 * the environment, and each operator worker gets a MessagePort to it. Split by the thread each
 * part runs on (as piscina does): this file is the supervisor's side, {@link KvsService};
 * service-thread.ts is the thread; remote.ts is the operator worker's client, `KvsRemote`;
 * service-protocol.ts the messages between them.
 *
 * @module
 */
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { KvsClosedError } from './errors.js'
import { KVS_THREAD_MARK, type KvsServiceConfig } from './service-protocol.js'
import { withoutNodeOptions } from '../../host-env.js'

export type { KvsServiceConfig } from './service-protocol.js'

/** How long close() lets the thread finish before it terminates it (it only hangs on a bug). */
const CLOSE_GRACE_MS = 10_000

/**
 * The thread's entry, always the compiled file: a worker cannot load .ts without a loader, so
 * from the sources (tests run them through tsx) it is the same file under dist/.
 */
export function kvsThreadEntry(moduleUrl: string = import.meta.url): string {
  const here = fileURLToPath(moduleUrl)
  const entry = 'service-thread.js'
  if (here.endsWith('.js')) return join(dirname(here), entry)
  // <root>/src/store/kvs/service.ts -> <root>/dist/src/store/kvs/service-thread.js
  return join(dirname(here), '..', '..', '..', 'dist', 'src', 'store', 'kvs', entry)
}

/**
 * The supervisor's side of the KVS thread: hands out ports to it ({@link connect}), starts
 * it on the first request of any client, and stops it ({@link close}). One per dataflow run.
 *
 * @example
 * ```ts
 * await using service = new KvsService({ dir: defaultKvsDir(), mapSizeBytes: DEFAULT_KVS_MAP_SIZE_BYTES })
 * const port = service.connect()
 * new Worker(operatorEntry, { workerData: { kvsPort: port }, transferList: [port] })
 * ```
 */
export class KvsService implements AsyncDisposable {
  readonly config: KvsServiceConfig
  #worker: Worker | undefined
  #exited: Promise<void> | undefined
  /** Set by the first close(); every later call returns it. */
  #closing: Promise<void> | undefined
  /** Ports handed out whose client has not sent its first request yet (they wait in this thread). */
  readonly #waiting = new Set<MessagePort>()

  constructor(config: KvsServiceConfig) {
    this.config = config
  }

  /** True until {@link close} is called. */
  get open(): boolean {
    return this.#closing === undefined
  }

  /**
   * A port for one client (an operator worker): transfer it to the worker, which wraps it in a
   * `KvsRemote`. The thread starts on the first request of any client, so a dataflow whose
   * operators never use the KVS has none. Throws DORA_KVS_CLOSED after {@link close}.
   */
  connect(): MessagePort {
    if (this.#closing !== undefined) {
      throw new KvsClosedError(`cannot connect an operator to the KVS thread of ${this.config.dir}: the KVS service is closed`, {
        dir: this.config.dir,
        hint: 'this is a bug in dora-ts: it connected an operator after the run ended',
      })
    }
    const { port1, port2 } = new MessageChannel()
    if (this.#worker !== undefined) {
      this.#worker.postMessage({ type: 'connect', port: port1 }, [port1])
      return port2
    }
    // Lazily: the first request wakes this port, here in the supervisor's thread (which must
    // be free to see it: a client in this very thread would block it in Atomics.wait).
    this.#waiting.add(port1)
    port1.once('message', (first: unknown) => {
      this.#waiting.delete(port1)
      if (this.#closing !== undefined) return port1.close()
      // Hand the port over with the request that woke it; later ones travel queued in the port.
      this.#start().postMessage({ type: 'connect', port: port1, first }, [port1])
    })
    port1.unref()
    return port2
  }

  /**
   * Let the thread finish what it was asked, close the store, and exit. Idempotent: every call
   * returns the same promise, which resolves once the thread has exited (at once if it never
   * started). Clients still calling afterwards time out; connect() throws DORA_KVS_CLOSED.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #close(): Promise<void> {
    for (const port of this.#waiting) port.close()
    this.#waiting.clear()
    const worker = this.#worker
    if (worker === undefined) return
    worker.postMessage({ type: 'close' })
    // It exits once its store is closed (keep the process alive until then); it is never
    // terminated mid-transaction, unless it hangs.
    worker.ref()
    const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS)
    try {
      await this.#exited
    } finally {
      clearTimeout(timer)
    }
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    // execArgv [] and no NODE_OPTIONS (src/host-env.ts): the host's --import/--loader preloads
    // (a test runner's, tsx) would run again in the thread and sit in front of every module it
    // loads (see operator/worker-launch.ts).
    const worker = new Worker(kvsThreadEntry(), {
      workerData: { [KVS_THREAD_MARK]: this.config },
      name: 'dora-ts kvs',
      execArgv: [],
      env: withoutNodeOptions(),
    })
    // A thread that dies fails its clients' calls with a timeout; say why on stderr.
    worker.on('error', (err) => process.stderr.write(`dora-ts: the KVS thread failed: ${err.stack ?? String(err)}\n`))
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()))
    // A running thread alone does not keep the supervisor alive; close() refs it while it stops.
    worker.unref()
    this.#worker = worker
    return worker
  }
}
