/**
 * Supervises one operator in its own worker thread (piscina's pattern): the worker counts as
 * started only after its READY message; one event is in flight at a time and the next is sent
 * after `done`; a `stopping` flag tells a deliberate end from a crash; both 'error' and 'exit'
 * are watched. ZeroMQ never enters the worker (zeromq.js #411): the worker talks to this host
 * over its MessagePort, with payload buffers transferred where possible.
 */
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { deserializeError } from '../src/errors.js'
import { nowNs } from '../src/clock.js'
import type { MessageHeader } from '../src/protocol/messages.js'
import type { OperatorNodeSpec, OperatorSpec } from '../src/spec/types.js'
import type { DoraEvent } from '../node-sdk/events.js'
import { metadataFromHeader } from '../node-sdk/metadata.js'
import type { Inbox, InboxItem } from './inbox.js'
import type { HostToWorker, OperatorWorkerData, WorkerToHost } from './operator-messages.js'
import { displayName, operatorKey } from './routing.js'
import { forEachLine, LineTail, type Unit, type UnitHost, type UnitResult, type UnitStatus } from './unit.js'

/**
 * The worker entry is always the compiled file: when this module itself runs from the TS
 * sources (tests), map to the build output, since a worker cannot load .ts without a loader.
 */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return join(dirname(here), 'operator-worker.js')
  return join(dirname(here), '..', 'dist', 'runtime', 'operator-worker.js')
}

export interface OperatorHostOptions {
  inbox: Inbox
  restartCount?: number
}

export class OperatorHost implements Unit {
  readonly key: string
  readonly display: string
  readonly nodeId: string
  readonly inbox: Inbox
  readonly spec: OperatorSpec
  readonly node: OperatorNodeSpec
  readonly outputs: readonly string[]
  #status: UnitStatus = 'starting'
  #worker: Worker | undefined
  #busy = false
  #stopSent = false
  #stopping = false
  #endedReported = false
  #failure: string | undefined
  readonly #sequences = new Map<string, bigint>()
  readonly #stderr = new LineTail()
  readonly #host: UnitHost
  readonly #restartCount: number

  constructor(node: OperatorNodeSpec, spec: OperatorSpec, host: UnitHost, options: OperatorHostOptions) {
    this.node = node
    this.spec = spec
    this.key = operatorKey(node, spec)
    this.display = displayName(node, spec)
    this.nodeId = node.id
    this.outputs = spec.outputs
    this.inbox = options.inbox
    this.#host = host
    this.#restartCount = options.restartCount ?? 0
  }

  get status(): UnitStatus {
    return this.#status
  }

  get threadId(): number | undefined {
    return this.#worker?.threadId
  }

  start(): Promise<void> {
    const workerData: OperatorWorkerData = {
      modulePath: this.spec.module,
      language: this.spec.language,
      dataflowId: this.#host.dataflowId,
      dataflowName: this.#host.dataflowName,
      nodeId: this.node.id,
      operatorId: this.spec.id,
      outputs: [...this.spec.outputs],
      restartCount: this.#restartCount,
    }
    const worker = new Worker(workerEntry(), {
      workerData,
      stdout: true,
      stderr: true,
      env: { ...process.env, ...this.node.env },
      name: `dora-ts operator ${this.display}`,
    })
    this.#worker = worker
    forEachLine(worker.stdout, (text) => this.#host.log({ source: this.display, stream: 'stdout', level: 'info', text }))
    forEachLine(worker.stderr, (text) => {
      this.#stderr.push(text)
      this.#host.log({ source: this.display, stream: 'stderr', level: 'warn', text })
    })
    return new Promise((resolve, reject) => {
      let started = false
      worker.on('message', (message: WorkerToHost) => {
        switch (message.type) {
          case 'ready':
            started = true
            this.#status = 'running'
            resolve()
            this.pump()
            return
          case 'load-failed': {
            const error = deserializeError(message.error)
            this.#fail(`failed to load ${this.spec.module}: ${error.message}`)
            reject(error)
            return
          }
          default:
            this.#onMessage(message)
        }
      })
      worker.on('error', (err) => {
        // An uncaught exception or unhandled rejection inside the worker: a crash.
        this.#fail(`crashed: ${err.message}`)
        if (!started) reject(err)
      })
      worker.on('exit', (code) => {
        this.#worker = undefined
        if (!this.#stopping) this.#failure ??= `its worker exited unexpectedly with code ${code}`
        if (!started) reject(new Error(this.#failure ?? `worker exited with code ${code} before it was ready`))
        this.#report()
      })
    })
  }

  pump(): void {
    if (this.#status !== 'running' || this.#busy || this.#stopSent) return
    const item = this.inbox.shift()
    if (item === undefined) return
    const { event, transfer } = toEvent(item)
    if (event.type === 'stop') this.#stopSent = true
    this.#busy = true
    const message: HostToWorker = { type: 'event', event }
    this.#worker!.postMessage(message, transfer)
  }

  terminate(reason: string): void {
    this.#end(reason)
  }

  kill(reason: string): void {
    this.#end(reason)
  }

  #end(reason: string): void {
    if (this.#worker === undefined) return
    this.#failure ??= reason
    this.#stopping = true
    void this.#worker.terminate()
  }

  #onMessage(message: WorkerToHost): void {
    switch (message.type) {
      case 'output':
        this.#emit(message.outputId, message.data, message.encoding, message.parameters)
        return
      case 'done':
        this.#busy = false
        if (this.#stopSent) {
          // Stop was handled: a deliberate, clean end.
          this.#status = 'stopping'
          this.#stopping = true
          void this.#worker?.terminate()
          return
        }
        this.pump()
        return
      case 'failed': {
        const error = deserializeError(message.error)
        this.#fail(`crashed: ${error.message}`)
        return
      }
      case 'log':
        this.#host.log({ source: this.display, stream: 'log', level: message.level, text: message.text })
        return
      default:
        return
    }
  }

  #emit(outputId: string, data: Uint8Array, encoding: string, parameters: MessageHeader['metadata']): void {
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    const header: MessageHeader = {
      dataflowId: this.#host.dataflowId,
      senderNode: this.node.id,
      senderOperator: this.spec.id,
      outputId,
      sequence,
      timestampNs: nowNs(),
      metadata: parameters,
      encoding,
      messageId: '',
      redelivered: false,
    }
    this.#host.emit(this, outputId, header, data)
  }

  #fail(error: string): void {
    this.#failure ??= error
    this.#status = 'failed'
    if (this.#worker !== undefined) {
      this.#stopping = true
      void this.#worker.terminate()
    } else {
      this.#report()
    }
  }

  #report(): void {
    if (this.#endedReported) return
    this.#endedReported = true
    this.#status = this.#failure === undefined ? 'finished' : 'failed'
    const result: UnitResult = { status: this.#status, error: this.#failure, stderrTail: this.#stderr.lines }
    this.#host.ended(this, result)
  }
}

/** Convert a queued item into the event the worker handles, with buffers to transfer. */
function toEvent(item: InboxItem): { event: DoraEvent; transfer: ArrayBuffer[] } {
  switch (item.kind) {
    case 'input': {
      const data = item.payload
      // Transfer when the view owns its whole (non-shared) buffer; a partial view is copied by
      // structured clone, which is what keeps a shared buffer safe.
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer
      return {
        event: { type: 'input', id: item.inputId, data, metadata: metadataFromHeader(item.header) },
        transfer: whole ? [data.buffer as ArrayBuffer] : [],
      }
    }
    case 'input-closed':
      return { event: { type: 'input-closed', id: item.inputId }, transfer: [] }
    case 'stop':
      return { event: { type: 'stop', cause: item.cause }, transfer: [] }
    case 'node-restarted':
      return { event: { type: 'node-restarted', nodeId: item.nodeId }, transfer: [] }
    case 'node-failed':
      return {
        event: { type: 'node-failed', nodeId: item.nodeId, error: item.error, affectedInputs: item.affectedInputs },
        transfer: [],
      }
  }
}
