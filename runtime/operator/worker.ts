/**
 * Entry point of an operator's worker thread. It loads the user's module, builds the operator
 * and runs its handlers one event at a time, reporting `done` after each so the host knows the
 * event completed. Runs on the worker thread: imports only the SDK and types, never the host.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { format } from 'node:util'
import { serializeError } from '../../src/errors.js'
import { copyBytes, ownsWholeBuffer } from '../../src/bytes.js'
import { SEALED_VALUES } from '../../src/store/lmdb/checksum.js'
import type { DoraEvent, SendOptions } from '../../node-sdk/events.js'
import { unpackEvents } from './event-wire.js'
import { describeLoadFailure } from './load-failure.js'
import { exitCallNote } from '../../src/transport/crash-note.js'
import { RecycledBuffers } from './state-buffers.js'
import { WorkerLinks } from './worker-links.js'
import { EventQueue, type Queued } from './event-queue.js'
import { MEMORY_LIMIT_ENV, MemoryWatch, tellHeld } from './memory-watch.js'
import { checkOutput, checkPayload, checkPayloadSize, checkStateValue, InvalidOperatorError, InvalidStateKeyError } from '../../node-sdk/errors.js'
import { toOperatorDefinition, type OperatorContext, type OperatorHandlers, type OperatorSendOptions } from '../../node-sdk/operator.js'
import { encodeJson, Encoding } from '../../node-sdk/payload.js'
import { createKvs } from '../../node-sdk/kvs.js'
import { KvsRemote } from '../../src/store/kvs/remote.js'
import { SegmentSpares, writeOverSpare } from '../../src/store/state/segment-spares.js'
import {
  MIN_TRANSFER_BYTES,
  SPARE_KEY,
  STOPPING,
  type BufferedOutput,
  type SpareWorkerData,
  type HostToWorker,
  type OperatorWorkerData,
  type StateWrite,
  type WorkerToHost,
} from './messages.js'
import type { LogLevel } from '../../src/protocol/node/messages.js'

const port = parentPort!

/** Events waiting to be handled, the host's and those that came over links (event-queue.ts). */
const queue = new EventQueue()
let handlers: OperatorHandlers | undefined
let busy = false

const links = new WorkerLinks((linked) => {
  const displaced = queue.pushLinked(linked)
  if (displaced !== undefined) links.dropped(displaced)
  if (!busy && handlers !== undefined) void drain()
})
// From the start (before boot, before the module loads): an end of a link may come at once.
port.on('message', (message: HostToWorker) => {
  if (message.type === 'link') links.set(message)
})

/** A spare worker (worker-launch.ts) learns its launch from the first message. */
function boot(): Promise<OperatorWorkerData> {
  return new Promise((resolve) => {
    const onMessage = (message: HostToWorker): void => {
      if (message.type !== 'boot') return
      port.off('message', onMessage)
      resolve(message.workerData)
    }
    port.on('message', onMessage)
  })
}

type Imported = { ok: true; exported: unknown } | { ok: false; error: unknown }

const spare = typeof workerData === 'object' && workerData !== null && SPARE_KEY in workerData ? (workerData as SpareWorkerData)[SPARE_KEY] : undefined
// A spare imports its operator's module while it waits: that import is most of a restart's cost.
const preloaded: Promise<Imported> | undefined =
  spare === undefined
    ? undefined
    : importOperatorModule(spare.modulePath, spare.language).then(
        (exported) => ({ ok: true, exported }),
        (error: unknown) => ({ ok: false, error }),
      )
const data: OperatorWorkerData = spare === undefined ? (workerData as OperatorWorkerData) : await boot()
const who = `operator "${data.nodeId}/${data.operatorId}"`

function post(message: WorkerToHost, transfer?: ArrayBuffer[]): void {
  port.postMessage(message, transfer)
}

function log(level: LogLevel, args: unknown[]): void {
  post({ type: 'log', level, text: format(...args) })
}

// An operator's process.exit() ends its thread, and the host saw only the exit code: say where
// it was called (the message arrives before the thread's exit).
process.on('exit', (code) => {
  const why = exitCallNote(code)
  if (why !== undefined) post({ type: 'exiting', why })
})

/** max_memory_mb for buffers too, checked after each event (memory-watch.ts). */
const memory = new MemoryWatch(Number(process.env[MEMORY_LIMIT_ENV]) || undefined)

/**
 * State changes of the event being handled, latest per key. They leave the worker only with
 * `done`, so a worker that dies mid-handler cannot leave a partial write behind.
 */
const pendingWrites = new Map<string, StateWrite>()
/** Buffers of this worker's earlier saved values, handed back by the host once committed. */
const recycled = new RecycledBuffers()
/** Messages sent while handling the event: they leave with `done`, to be routed after the commit. */
let pendingOutputs: BufferedOutput[] = []

const staging = data.staging
const stagedOutputs = new Set(staging?.outputs ?? [])
let staged = 0
/** The store's spare segment files, written over instead of new ones (segment-spares.ts). */
const spares = staging?.spares === undefined ? undefined : new SegmentSpares(staging.dir, staging.spares)
/**
 * A spare this worker may write over under its name: one it staged itself (its launch's prefix).
 * Another launch's name is renamed first: the host drops what a gone launch left by its prefix.
 */
const ownStagedName = (name: string): boolean => staging !== undefined && name.startsWith(staging.prefix)

/**
 * Write `output`'s bytes to a file of the staging folder (see OperatorWorkerData.staging), so
 * that the host's commit references that file instead of writing it on the routing thread;
 * this thread is idle most of the time. Left to the host when it cannot be written.
 */
function stage(output: BufferedOutput): void {
  if (staging === undefined || output.data.byteLength < staging.threshold || !stagedOutputs.has(output.outputId)) return
  const path = `${staging.dir}/${staging.prefix}${++staged}`
  try {
    // Over a spare of this launch under its name (no rename), else at `path`; a file it could
    // not write is removed there. The host then stores the bytes.
    output.file = writeOverSpare(spares, path, output.data, ownStagedName)
  } catch {
    // Nothing to undo.
  }
}

/**
 * The event's writes and the outputs for the host, the buffers to transfer with them (each is
 * the worker's own), and the outputs to post on direct links after them.
 */
function takeResults(): { writes: StateWrite[]; outputs: BufferedOutput[]; transfer: ArrayBuffer[]; linkedOutputs: BufferedOutput[] } {
  const writes = [...pendingWrites.values()]
  pendingWrites.clear()
  const { host: outputs, linked: linkedOutputs } = links.split(pendingOutputs)
  pendingOutputs = []
  if (staging !== undefined) for (const o of outputs) stage(o)
  // Small ones are copied by the post instead (see MIN_TRANSFER_BYTES).
  const transfer = new Set<ArrayBuffer>()
  for (const w of writes) if ('value' in w && w.value.byteLength >= MIN_TRANSFER_BYTES) transfer.add(w.value.buffer as ArrayBuffer)
  for (const o of outputs) if (o.data.byteLength >= MIN_TRANSFER_BYTES) transfer.add(o.data.buffer as ArrayBuffer)
  return { writes, outputs, transfer: [...transfer], linkedOutputs }
}

/** The `done` of an event that wrote and sent nothing. */
const DONE_EMPTY: WorkerToHost = { type: 'done' }

function discardResults(): void {
  pendingWrites.clear()
  pendingOutputs = []
}

function checkStateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidStateKeyError(`${who} used ${typeof key === 'string' ? 'an empty' : `a ${typeof key}`} state key`, {
      hint: 'State keys are non-empty strings, e.g. ctx.saveState("count", bytes).',
    })
  }
}

const ctx: OperatorContext = {
  dataflowId: data.dataflowId,
  dataflowName: data.dataflowName,
  nodeId: data.nodeId,
  operatorId: data.operatorId,
  outputs: data.outputs,
  restartCount: data.restartCount,
  send(outputId: string, bytes: Uint8Array, options: OperatorSendOptions = {}) {
    checkOutput(data.outputs, outputId, who)
    checkPayload(bytes, who)
    checkPayloadSize(bytes, data.maxMessageBytes, who, outputId)
    // The bytes are ours from here on (transferred with `done`): take the caller's buffer when
    // it says so and the view spans it, else copy (the caller may reuse its buffer).
    const payload = options.transfer === true && ownsWholeBuffer(bytes) && bytes.buffer instanceof ArrayBuffer ? bytes : copyBytes(bytes)
    pendingOutputs.push({ outputId, data: payload, encoding: options.encoding ?? Encoding.raw, parameters: { ...(options.parameters ?? {}) } })
  },
  sendJson(outputId: string, value: unknown, options: SendOptions = {}) {
    ctx.send(outputId, encodeJson(value), { ...options, encoding: Encoding.json, transfer: true })
  },
  // Every call is a synchronous round trip to the supervisor's KVS thread: this thread may be
  // terminated at any time, which lmdb-js does not survive (see src/store/kvs/service.ts).
  kvs: createKvs(
    data.kvs === undefined
      ? `${who} has no KVS: its host passed no KVS configuration`
      : { dir: data.kvs.dir, namespace: data.kvs.namespace, open: () => new KvsRemote(data.kvs!.port, data.kvs!.dir) },
  ),
  saveState(key: string, value: Uint8Array) {
    checkStateKey(key)
    checkStateValue(value, key, who)
    // Copy now (the caller may reuse its buffer, and the copy is ours to transfer later), with
    // its seal after it: the checksum is computed here, beside the handler, not on the
    // supervisor's routing thread that commits every operator's events (checksum.ts).
    pendingWrites.set(key, { key, value: recycled.seal(key, value, SEALED_VALUES.seal), sealed: true })
  },
  deleteState(key: string) {
    checkStateKey(key)
    pendingWrites.set(key, { key, delete: true })
  },
  log: {
    debug: (...args) => log('debug', args),
    info: (...args) => log('info', args),
    warn: (...args) => log('warn', args),
    error: (...args) => log('error', args),
  },
}

async function importOperatorModule(modulePath: string, language: OperatorWorkerData['language']): Promise<unknown> {
  if (language === 'typescript') {
    // Operators may be written in TypeScript: tsx compiles them on load. Both hooks are needed
    // since a .ts file outside a "type": "module" package is loaded as CommonJS.
    const esm = await import('tsx/esm/api')
    esm.register()
    const cjs = await import('tsx/cjs/api')
    cjs.register()
  }
  const mod = (await import(pathToFileURL(modulePath).href)) as { default?: unknown }
  let exported = mod.default
  // A TS module compiled as CommonJS nests its default export one level deeper.
  if (toOperatorDefinition(exported) === undefined && typeof exported === 'object' && exported !== null && 'default' in exported) {
    exported = (exported as { default: unknown }).default
  }
  return exported
}

async function load(): Promise<OperatorHandlers> {
  let exported: unknown
  if (preloaded !== undefined && spare?.modulePath === data.modulePath && spare.language === data.language) {
    const imported = await preloaded
    if (!imported.ok) throw imported.error
    exported = imported.exported
  } else exported = await importOperatorModule(data.modulePath, data.language)
  const definition = toOperatorDefinition(exported)
  if (definition === undefined) {
    throw new InvalidOperatorError(`${data.modulePath} does not export an operator`, {
      hint: "Export one as default: export default defineOperator({ onInput(input, ctx) { ... } }) (import { defineOperator } from 'dora-ts'), or a class with an onInput method.",
    })
  }
  const handlers = definition.create(ctx)
  if (data.state.size > 0) await handlers.restoreState?.(data.state, ctx)
  await handlers.init?.(ctx)
  return handlers
}

async function handle(handlers: OperatorHandlers, event: DoraEvent): Promise<void> {
  switch (event.type) {
    case 'input':
      return handlers.onInput(event, ctx)
    case 'input-closed':
      return handlers.onInputClosed?.(event, ctx)
    case 'stop':
      return handlers.onStop?.(event, ctx)
    default:
      return handlers.onEvent?.(event, ctx)
  }
}

/** Set by the host when the dataflow stops (OperatorWorkerData.stop). */
const stopWord = data.stop === undefined ? undefined : new Int32Array(data.stop.word)
/** The inputs whose posted events are handed back, unhandled, once the dataflow stops. */
const waitingAtStop = new Set(data.stop?.inputs ?? [])

/** True for a posted event the dataflow's Stop goes ahead of: it waits for the next run. */
function setAsideAtStop(queued: Queued): boolean {
  const { event } = queued
  return (
    queued.linked === undefined && event.type === 'input' && stopWord !== undefined && waitingAtStop.has(event.id) && Atomics.load(stopWord, 0) === STOPPING
  )
}

/** How long the counts of linked events may wait for a `done` to carry them (ms): `dora-ts list` reads them. */
const COUNTS_WAIT_MS = 200
let countsTimer: NodeJS.Timeout | undefined

/** Send the links' counts within COUNTS_WAIT_MS, unless a `done` takes them first. */
function reportCountsSoon(): void {
  if (countsTimer !== undefined) return
  countsTimer = setTimeout(() => {
    countsTimer = undefined
    const counts = links.takeCounts()
    if (counts !== undefined) post({ type: 'counts', counts })
  }, COUNTS_WAIT_MS)
  countsTimer.unref()
}

/**
 * Handle the queued events strictly one at a time and in order. A linked event's `done` says
 * so (the host numbers it itself); its outputs on links leave after the `done` (worker-links.ts).
 */
async function drain(): Promise<void> {
  const loaded = handlers
  if (loaded === undefined) return
  busy = true
  let setAside = 0
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    // What the last event left held, before the next one runs; busy stays set: the host ends
    // this thread.
    if (overMemory()) return
    if (setAsideAtStop(next)) {
      setAside++
      continue
    }
    // Told before the next handler runs: a crash in it must count against the right event.
    if (setAside > 0) post({ type: 'set-aside', count: setAside })
    setAside = 0
    const linked = next.linked
    if (linked !== undefined) links.handling()
    try {
      await handle(loaded, next.event)
    } catch (err) {
      // A crash: nothing of this event is committed. Stay busy; the host ends this thread.
      discardResults()
      post({ type: 'failed', error: serializeError(err) })
      return
    }
    if (linked !== undefined) links.handled(linked)
    if (pendingWrites.size === 0 && pendingOutputs.length === 0) {
      // The host needs no word of a linked event that did nothing (its activity words say
      // when one runs); a posted event's `done` it does need, and it carries the counts.
      if (linked !== undefined) reportCountsSoon()
      else {
        const counts = links.takeCounts()
        post(counts === undefined ? DONE_EMPTY : { type: 'done', counts })
      }
      continue
    }
    const { writes, outputs, transfer, linkedOutputs } = takeResults()
    if (linked !== undefined && writes.length === 0 && outputs.length === 0) {
      // It only sent on links (a relay between linked operators): nothing to commit or route.
      links.post(linkedOutputs)
      reportCountsSoon()
      continue
    }
    const counts = links.takeCounts()
    post({ type: 'done', writes, outputs, ...(linked === undefined ? {} : { direct: true as const }), ...(counts === undefined ? {} : { counts }) }, transfer)
    if (linkedOutputs.length > 0) {
      links.post(linkedOutputs)
      reportCountsSoon()
    }
  }
  if (setAside > 0) post({ type: 'set-aside', count: setAside })
  if (overMemory()) return
  busy = false
}

/** Over max_memory_mb with what it holds after a full collection: tell the host, which ends the thread. */
function overMemory(): boolean {
  const use = memory.check()
  if (use === undefined) return false
  post({ type: 'memory-exceeded', ...use })
  return true
}

async function main(): Promise<void> {
  let loaded: OperatorHandlers
  try {
    loaded = await load()
  } catch (err) {
    // The host terminates the worker when it reads this; the thread has nothing left to do.
    post({ type: 'load-failed', error: serializeError(err), why: describeLoadFailure(err, data.modulePath) })
    return
  }

  port.on('message', (message: HostToWorker) => {
    if (message.type !== 'events') return
    if (message.recycled !== undefined) recycled.give(message.recycled)
    for (const event of unpackEvents(message)) {
      // What already came over a link was sent before Stop or the input's end reached here:
      // it is handled first; nothing comes after.
      if (event.type === 'stop') links.closeAll()
      else if (event.type === 'input-closed' && links.hasInput(event.id)) links.closeInput(event.id)
      queue.push(event)
    }
    if (!busy) void drain()
  })
  tellHeld(data.held)
  const { writes, outputs, transfer, linkedOutputs } = takeResults()
  const counts = links.takeCounts()
  post({ type: 'ready', writes, outputs, ...(counts === undefined ? {} : { counts }) }, transfer)
  if (linkedOutputs.length > 0) {
    links.post(linkedOutputs)
    reportCountsSoon()
  }
  handlers = loaded
  // Events that came over links while it loaded.
  if (queue.length > 0) void drain()
}

void main()
