/**
 * The client a custom node uses to talk to its supervisor: a ZeroMQ DEALER socket on the
 * per-run `ipc://` endpoint, every message framed with Cap'n Proto, payloads as their own frame.
 *
 * @example
 * ```ts
 * import { Node } from 'dora-ts'
 * const node = await Node.connect()
 * for await (const event of node.events()) {
 *   if (event.type === 'input') await node.send('scan', event.data)
 * }
 * await node.close()
 * ```
 */
import { rmSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { Dealer } from 'zeromq'
import { decodeSupervisorToNode, encodeNodeToSupervisor } from '../src/protocol/node/codec.js'
import { MAX_PAUSE_MS, PROTOCOL_VERSION, type Registration, type SupervisorToNode } from '../src/protocol/node/messages.js'
import { SendQueue } from '../src/transport/send-queue.js'
import { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID, ENV_SUPERVISOR_PID } from '../src/transport/env.js'
import { isAlive } from '../src/transport/run-dir.js'
import { nowNs } from '../src/clock.js'
import { DEFAULT_KVS_MAP_SIZE_BYTES } from '../src/store/kvs/store.js'
import type { DoraEvent, SendOptions } from './events.js'
import { checkOutput, checkPayload, InvalidSendError, NodeConnectError } from './errors.js'
import { toDoraEvent, type MessageHeader } from '../src/events.js'
import { encodeJson, Encoding } from './payload.js'
import { createKvs, directSource, type Kvs } from './kvs.js'
import { errorMessage } from '../src/errors.js'

export interface NodeConnectOptions {
  /** Defaults to the `DORA_TS_ENDPOINT` the supervisor set. */
  endpoint?: string
  /** Defaults to the `DORA_TS_NODE_ID` the supervisor set. */
  nodeId?: string
  /** How long to wait for the supervisor to accept the registration (default 10 s). */
  timeoutMs?: number
}

const EMPTY = new Uint8Array(0)
/** How often a node checks that its supervisor still exists. */
const PARENT_POLL_MS = 250
/**
 * Resolve when the function this adds to `waiters` is called (by whoever wakes them) or after
 * `ms`, whichever comes first; the function removes itself either way.
 */
function wakeOrTimeout(waiters: Set<() => void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer)
      waiters.delete(wake)
      resolve()
    }
    const timer = setTimeout(wake, ms)
    waiters.add(wake)
  })
}

/** How long closeOutputs() waits for the supervisor's confirmation before going on. */
export const CLOSE_ACK_TIMEOUT_MS = 30_000
/**
 * How long the socket keeps trying to deliver after close(), in ms (`DORA_TS_NODE_LINGER_MS`,
 * default 2000). close() waits for the supervisor's confirmation first, so nothing the node
 * sent depends on it; it only bounds the wait at exit when the supervisor is gone.
 */
function lingerMs(): number {
  const value = Number(process.env['DORA_TS_NODE_LINGER_MS'] ?? '2000')
  return Number.isInteger(value) && value >= 0 ? value : 2000
}

export class Node implements AsyncDisposable {
  /** This node's id from the YAML. */
  readonly id: string
  readonly dataflowId: string
  readonly dataflowName: string
  /** How many times this node was restarted in this run (dora's `restart_count()`). */
  readonly restartCount: number
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  /**
   * The machine's shared key-value store, on this dataflow's namespace (its name, or its
   * `kvs_namespace`). Opened on first use, with the path and size the supervisor handed over
   * at registration; closed by {@link close}.
   * @example node.kvs.writeJson('pose', { x: 1, y: 2 }); node.kvs.readJson('pose')
   */
  readonly kvs: Kvs

  readonly #socket: Dealer
  readonly #sender: SendQueue
  readonly #buffer: DoraEvent[] = []
  readonly #sequences = new Map<string, bigint>()
  #waiter: ((ended: boolean) => void) | undefined
  #nextRequested = false
  #ended = false
  #closed = false
  #parentWatch: NodeJS.Timeout | undefined
  /** Outputs paused by backpressure (the supervisor's `outputs-paused`), and sends waiting on them. */
  #paused: ReadonlySet<string> = new Set()
  readonly #resumeWaiters = new Set<() => void>()
  #pauseWarned = false
  /** closeOutputs() calls waiting for the supervisor's `outputs-closed`, oldest first. */
  readonly #closeAcks = new Set<() => void>()

  private constructor(socket: Dealer, sender: SendQueue, registration: Registration) {
    this.#socket = socket
    this.#sender = sender
    this.id = registration.nodeId
    this.dataflowId = registration.dataflowId
    this.dataflowName = registration.dataflowName
    this.restartCount = registration.restartCount
    this.inputs = registration.inputs
    this.outputs = registration.outputs
    // A process opens the LMDB environment itself: reads are plain LMDB reads (see kvs.ts).
    this.kvs = createKvs(
      registration.kvsPath === ''
        ? `node "${registration.nodeId}" has no KVS: its supervisor handed over no KVS path at registration (an older dora-ts)`
        : directSource({
            dir: registration.kvsPath,
            mapSizeBytes: registration.kvsMapSize > 0n ? Number(registration.kvsMapSize) : DEFAULT_KVS_MAP_SIZE_BYTES,
            namespace: registration.kvsNamespace === '' ? registration.dataflowName : registration.kvsNamespace,
          }),
    )
  }

  /** dora's `is_restart()`: true when this process replaces one that crashed. */
  get isRestart(): boolean {
    return this.restartCount > 0
  }

  /** Connect to the supervisor that launched this process and register. */
  static async connect(options: NodeConnectOptions = {}): Promise<Node> {
    const endpoint = options.endpoint ?? process.env[ENV_ENDPOINT]
    const nodeId = options.nodeId ?? process.env[ENV_NODE_ID]
    if (endpoint === undefined || nodeId === undefined) {
      throw new NodeConnectError(`this program is a dora-ts node, but ${ENV_ENDPOINT} and ${ENV_NODE_ID} are not set`, {
        hint: 'Start it through a dataflow (dora-ts run dataflow.yml) rather than directly.',
      })
    }
    const socket = new Dealer({ linger: lingerMs() })
    const sender = new SendQueue(socket, () => {})
    socket.connect(endpoint)
    const timeoutMs = options.timeoutMs ?? 10_000
    try {
      await sender.send([encodeNodeToSupervisor({ type: 'register', nodeId, protocolVersion: PROTOCOL_VERSION, pid: process.pid })])
      const reply = await receiveWithin(socket, timeoutMs, endpoint)
      if (reply.type === 'register-rejected') {
        throw new NodeConnectError(`the supervisor rejected node "${nodeId}": ${reply.reason}`, {
          hint: 'Check that the node id matches the dataflow YAML and that dora-ts versions match.',
        })
      }
      if (reply.type !== 'registered') {
        throw new NodeConnectError(`the supervisor answered registration of "${nodeId}" with "${reply.type}"`)
      }
      const node = new Node(socket, sender, reply.registration)
      node.#startReceiving()
      node.#watchSupervisor()
      return node
    } catch (err) {
      sender.close()
      socket.linger = 0
      socket.close()
      throw err
    }
  }

  /**
   * The node's events, in order. Ends after a `stop` event (or when the node is closed).
   * Only one consumer may iterate at a time.
   */
  async *events(): AsyncGenerator<DoraEvent, void, undefined> {
    for (;;) {
      const event = this.#buffer.shift()
      if (event !== undefined) {
        yield event
        if (event.type === 'stop') return
        continue
      }
      if (this.#ended || this.#closed) return
      this.#requestNext()
      const ended = await new Promise<boolean>((resolve) => (this.#waiter = resolve))
      if (ended && this.#buffer.length === 0) return
    }
  }

  /**
   * Send `data` on `outputId`. The bytes go out as their own ZeroMQ frame, uncopied.
   * Resolves once ZeroMQ has queued the message. When a receiver's `backpressure` queue is
   * full, it first waits until that receiver catches up (at most 5 s per send).
   */
  async send(outputId: string, data: Uint8Array, options: SendOptions & { messageId?: string } = {}): Promise<void> {
    if (this.#closed) throw new InvalidSendError(`node "${this.id}" sent on "${outputId}" after close()`)
    checkOutput(this.outputs, outputId, `node "${this.id}"`)
    checkPayload(data, `node "${this.id}"`)
    if (this.#paused.has(outputId)) await this.#whilePaused(outputId)
    const sequence = (this.#sequences.get(outputId) ?? 0n) + 1n
    this.#sequences.set(outputId, sequence)
    const header: MessageHeader = {
      dataflowId: this.dataflowId,
      senderNode: this.id,
      senderOperator: '',
      outputId,
      sequence,
      timestampNs: nowNs(),
      metadata: options.parameters ?? {},
      encoding: options.encoding ?? Encoding.raw,
      messageId: options.messageId ?? '',
      redelivered: false,
    }
    await this.#sender.send([encodeNodeToSupervisor({ type: 'output', header }), data])
  }

  /** Wait until `outputId` is resumed, at most MAX_PAUSE_MS (then send anyway, and say so once). */
  async #whilePaused(outputId: string): Promise<void> {
    const deadline = Date.now() + MAX_PAUSE_MS
    while (this.#paused.has(outputId) && !this.#closed && !this.#ended) {
      const left = deadline - Date.now()
      if (left <= 0) {
        if (!this.#pauseWarned) {
          this.#pauseWarned = true
          process.stderr.write(`dora-ts: node "${this.id}": output "${outputId}" has been paused by backpressure for ${MAX_PAUSE_MS / 1000} s; sending anyway (a cycle of backpressure inputs?)\n`)
        }
        return
      }
      await wakeOrTimeout(this.#resumeWaiters, left)
    }
  }

  /** Send a JSON-serialisable value (encoding `json`). */
  sendJson(outputId: string, value: unknown, options: SendOptions = {}): Promise<void> {
    return this.send(outputId, encodeJson(value), { ...options, encoding: Encoding.json })
  }

  /**
   * Tell the supervisor these outputs will send nothing more (their receivers get InputClosed).
   * Resolves once the supervisor confirms, which also means it has received everything this
   * node sent before (at most {@link CLOSE_ACK_TIMEOUT_MS} if it does not answer).
   */
  async closeOutputs(outputs: readonly string[]): Promise<void> {
    for (const output of outputs) checkOutput(this.outputs, output, `node "${this.id}"`)
    const acked = wakeOrTimeout(this.#closeAcks, CLOSE_ACK_TIMEOUT_MS)
    await this.#sender.send([encodeNodeToSupervisor({ type: 'close-outputs', outputs: [...outputs] })])
    await acked
  }

  /** Close every output and the connection, after flushing what was sent. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      if (this.outputs.length > 0) await this.closeOutputs(this.outputs)
    } catch {
      // The supervisor may already be gone; closing must still release the socket.
    }
    this.#closed = true
    this.#ended = true
    for (const resume of [...this.#resumeWaiters]) resume()
    for (const ack of [...this.#closeAcks]) ack()
    this.kvs.close()
    clearInterval(this.#parentWatch)
    this.#sender.close()
    this.#socket.close()
    this.#wake(true)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #requestNext(): void {
    if (this.#nextRequested || this.#closed) return
    this.#nextRequested = true
    this.#sender.post([encodeNodeToSupervisor({ type: 'next' })])
  }

  #wake(ended: boolean): void {
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.(ended)
  }

  #startReceiving(): void {
    void (async () => {
      try {
        for await (const frames of this.#socket) {
          const [head, payload] = frames
          if (head === undefined) continue
          let message: SupervisorToNode
          try {
            message = decodeSupervisorToNode(head)
          } catch (err) {
            process.stderr.write(`dora-ts: node "${this.id}" dropped an undecodable message: ${errorMessage(err)}\n`)
            continue
          }
          this.#accept(message, payload)
        }
      } catch {
        // The socket was closed: the loop ends.
      }
      this.#ended = true
      this.#wake(true)
    })()
  }

  #accept(message: SupervisorToNode, payload: Buffer | undefined): void {
    let event: DoraEvent
    switch (message.type) {
      case 'outputs-paused':
        // Not an event: flow control for `send`, which may be waiting right now.
        this.#paused = new Set(message.outputs)
        for (const resume of [...this.#resumeWaiters]) resume()
        return
      case 'outputs-closed':
        // Not an event: the answer to the oldest closeOutputs() still waiting.
        this.#closeAcks.values().next().value?.()
        return
      case 'input': {
        const data = payload === undefined ? EMPTY : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
        event = toDoraEvent({ ...message, data })
        break
      }
      case 'input-closed':
      case 'input-recovered':
      case 'stop':
      case 'error':
      case 'node-restarted':
      case 'node-failed':
        event = message
        break
      default:
        // Registration replies are answered in connect(); unknown kinds come from a newer
        // supervisor: ignore them so the protocol can grow.
        return
    }
    // Each batch answers one `next` request; the following pull asks again.
    this.#nextRequested = false
    this.#buffer.push(event)
    this.#wake(false)
  }

  /**
   * A node must not outlive its supervisor (dora #2856 left spinning orphans for hours). The
   * SDK checks the supervisor's pid and, when it is gone, ends the event stream and exits the
   * process shortly after, even if user code is still busy elsewhere.
   */
  #watchSupervisor(): void {
    const pid = Number(process.env[ENV_SUPERVISOR_PID])
    if (!Number.isInteger(pid) || pid <= 0) return
    this.#parentWatch = setInterval(() => {
      if (isAlive(pid)) return
      clearInterval(this.#parentWatch)
      process.stderr.write(`dora-ts: the supervisor (pid ${pid}) is gone; node "${this.id}" exits\n`)
      // The dead supervisor cannot remove its sockets; whichever node notices first does.
      removeOrphanedRunDir(process.env[ENV_ENDPOINT], pid)
      this.#buffer.push({ type: 'stop', cause: 'manual' })
      this.#wake(false)
      void this.close()
      setTimeout(() => process.exit(1), 1000)
    }, PARENT_POLL_MS)
    this.#parentWatch.unref()
  }
}

/** Remove the run directory of a dead supervisor (only a `run-<pid>-*` directory of that pid). */
function removeOrphanedRunDir(endpoint: string | undefined, pid: number): void {
  if (endpoint === undefined || !endpoint.startsWith('ipc://')) return
  const dir = dirname(endpoint.slice('ipc://'.length))
  if (!basename(dir).startsWith(`run-${pid}-`)) return
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch {
    // Another node removed it first, or it is not ours to remove: either way nothing to do.
  }
}

async function receiveWithin(socket: Dealer, timeoutMs: number, endpoint: string): Promise<SupervisorToNode> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new NodeConnectError(`no answer from the supervisor at ${endpoint} within ${timeoutMs} ms`, {
            hint: 'Is the dataflow still running? Nodes must be started by dora-ts, not by hand.',
          }),
        ),
      timeoutMs,
    )
  })
  try {
    const frames = await Promise.race([socket.receive(), timeout])
    const head = frames[0]
    if (head === undefined) throw new NodeConnectError('the supervisor sent an empty registration reply')
    return decodeSupervisorToNode(head)
  } finally {
    clearTimeout(timer)
  }
}

// Re-exported so `dora-ts` users can name the env variables in their own launchers.
export { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID }
