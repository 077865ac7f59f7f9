/**
 * Starting one operator worker thread: the entry file, its workerData, resource limits and
 * environment, its stdout/stderr turned into log lines, and its 'message', 'error' and 'exit'
 * handed to the host only while this launch is the current one (a terminated worker's last
 * words must not reach its successor). The host decides what each of them means.
 *
 * A launch may take a spare: a thread started earlier with the same env and limits, waiting
 * for its workerData in a `boot` message, its operator's module already imported. Starting a
 * thread and importing the module are most of a restart's cost, so an operator that crashed
 * keeps one spare for its next restart. The module's top level thus runs ahead of the launch,
 * while the current worker still runs (create(), restoreState and init run only at boot).
 */
import { Worker, type MessagePort } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { SPARE_KEY, type HostToWorker, type SpareWorkerData, type OperatorWorkerData, type WorkerToHost } from './messages.js'
import { forEachLine, type LineTail, type LogEntry } from '../supervisor/unit.js'
import { MEMORY_LIMIT_ENV } from './memory-watch.js'

/**
 * The worker entry is always the compiled file: when this module itself runs from the TS
 * sources (tests), map to the build output, since a worker cannot load .ts without a loader.
 */
export function workerEntry(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return join(dirname(here), 'worker.js')
  return join(dirname(here), '..', '..', 'dist', 'runtime', 'operator', 'worker.js')
}

/** The export condition under which the `dora-ts` package resolves to its operator entry. */
export const OPERATOR_CONDITION = 'dora-ts-operator'

export interface WorkerLaunch {
  workerData: OperatorWorkerData
  /** A port to the KVS thread, transferred to the worker (it is in `workerData.kvs`). */
  kvsPort?: MessagePort | undefined
  env: NodeJS.ProcessEnv
  /** Name shown in logs and in the thread's name. */
  display: string
  /** Heap limit in MiB; undefined = Node's default. */
  maxMemoryMb?: number | undefined
  log(entry: LogEntry): void
  /** Where its stderr lines are kept for the failure report. */
  stderr: LineTail
  /** False once a newer launch (or the end of the operator) replaced this one: its events are then ignored. */
  current(): boolean
}

export interface WorkerEvents {
  message(message: WorkerToHost): void
  error(err: Error): void
  exit(code: number): void
}

/** What a thread is started with: the same for a launch and for a spare that may replace it. */
export type ThreadOptions = Pick<WorkerLaunch, 'env' | 'display' | 'maxMemoryMb'>

function startThread(options: ThreadOptions, workerData: unknown, kvsPort?: MessagePort): Worker {
  const { maxMemoryMb, display } = options
  return new Worker(workerEntry(), {
    workerData,
    ...(kvsPort === undefined ? {} : { transferList: [kvsPort] }),
    stdout: true,
    stderr: true,
    // msgpackr's optional native accelerator is a native addon too: a worker loads none.
    env: {
      ...options.env,
      MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true',
      // The heap limit below does not cover buffers: the worker watches those (memory-watch.ts).
      ...(maxMemoryMb === undefined ? {} : { [MEMORY_LIMIT_ENV]: String(maxMemoryMb) }),
    },
    name: `dora-ts operator ${display}`,
    // Not the host's flags: its --import/--loader preloads (tsx, a test runner's coverage and
    // mocks) would run again in every operator thread and put their hooks in front of every
    // module it loads. Under tap that made each worker start take 23 s instead of 1.6 s at
    // load 20. The worker registers the one loader it needs (tsx) itself (worker.ts).
    // The one flag it gets: `import ... from 'dora-ts'` in the operator resolves to the entry
    // without native addons (package.json "dora-ts-operator" condition,
    // node-sdk/operator-entry.ts), for ESM and CJS alike.
    execArgv: [`--conditions=${OPERATOR_CONDITION}`],
    ...(maxMemoryMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb } }),
  })
}

/** A started thread waiting for a launch (see the module comment). */
export class SpareWorker {
  #worker: Worker | undefined

  /** `operator`: the module it imports ahead (a launch of another module imports its own). */
  constructor(options: ThreadOptions, operator: SpareWorkerData[typeof SPARE_KEY]) {
    const spareData: SpareWorkerData = { [SPARE_KEY]: operator }
    const worker = startThread(options, spareData)
    // Idle, it must not keep the process alive; if it dies, it is simply not used.
    worker.unref()
    worker.on('error', () => {})
    worker.once('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
    })
    this.#worker = worker
  }

  /** The thread, now the caller's; undefined if it died meanwhile or was taken. */
  take(): Worker | undefined {
    const worker = this.#worker
    this.#worker = undefined
    if (worker === undefined || worker.threadId === -1) return undefined
    worker.ref()
    return worker
  }

  /** End the thread unless it was taken (idempotent). */
  close(): void {
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) void worker.terminate()
  }
}

/** Launch a worker for `launch`, on `spare`'s thread when there is one. */
export function launchWorker(launch: WorkerLaunch, events: WorkerEvents, spare?: SpareWorker): Worker {
  const { kvsPort, display } = launch
  const taken = spare?.take()
  let worker: Worker
  if (taken === undefined) worker = startThread(launch, launch.workerData, kvsPort)
  else {
    worker = taken
    const boot: HostToWorker = { type: 'boot', workerData: launch.workerData }
    worker.postMessage(boot, kvsPort === undefined ? [] : [kvsPort])
  }
  forEachLine(worker.stdout, (text) => launch.log({ source: display, stream: 'stdout', level: 'info', text }))
  forEachLine(worker.stderr, (text) => {
    launch.stderr.push(text)
    launch.log({ source: display, stream: 'stderr', level: 'warn', text })
  })
  worker.on('message', (message: WorkerToHost) => {
    if (launch.current()) events.message(message)
  })
  worker.on('error', (err) => {
    if (launch.current()) events.error(err)
  })
  worker.on('exit', (code) => {
    if (launch.current()) events.exit(code)
  })
  return worker
}
