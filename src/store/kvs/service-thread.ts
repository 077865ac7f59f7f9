/**
 * The KVS thread itself: the entry of the Worker that {@link KvsService} (service.ts) starts.
 * It owns the store and serves each client port (an operator worker's {@link KvsRemote}), one
 * request at a time, in order, until the supervisor posts 'close'; then it closes the ports and
 * the store, and exits once nothing is left to keep it alive.
 *
 * This module does its work only when it runs as the KVS thread (its `workerData` carries
 * {@link KVS_THREAD_MARK}); imported anywhere else it does nothing.
 *
 * @module
 */
import { isMainThread, parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads'
import { serializeError } from '../../errors.js'
import { KvsStore } from './store.js'
import {
  endsUpdate,
  KVS_THREAD_MARK,
  UPDATE_HOLD_MS,
  type KvsClientMessage,
  type KvsControlMessage,
  type KvsReply,
  type KvsRequest,
  type KvsServiceConfig,
} from './service-protocol.js'

/** Answer a client: the reply on its port, then its flag set to the request's id (it sleeps on it). */
function reply(port: MessagePort, flag: Int32Array, answer: KvsReply): void {
  try {
    try {
      port.postMessage(answer)
    } catch (err) {
      // A result that cannot be cloned must still answer the caller, which is waiting.
      port.postMessage({ id: answer.id, ok: false, error: serializeError(err) } satisfies KvsReply)
    }
  } finally {
    Atomics.store(flag, 0, answer.id)
    Atomics.notify(flag, 0)
  }
}

/**
 * Wait for the client's `update-next` or `update-abort` while holding its update's transaction,
 * serving (with `other`) the calls its function makes meanwhile, which join the transaction as
 * they do in a process. The client adds 1 to `ack` after each message it posts meanwhile.
 * Undefined after `boundMs` without the answer.
 */
function awaitClient(port: MessagePort, ack: Int32Array, boundMs: number, other: (message: KvsClientMessage) => void): KvsClientMessage | undefined {
  const deadline = performance.now() + boundMs
  for (;;) {
    // Read before looking at the port: a message posted after the look changes it, so the wait
    // below returns at once.
    const seen = Atomics.load(ack, 0)
    const received = receiveMessageOnPort(port)?.message as KvsClientMessage | undefined
    if (received !== undefined) {
      if (endsUpdate(received.request)) return received
      other(received)
      continue
    }
    const left = deadline - performance.now()
    if (left <= 0) return undefined
    Atomics.wait(ack, 0, seen, left)
  }
}

/** Thrown inside a locked update's transaction to drop it: the client gave up, or did not answer. */
class UpdateDropped extends Error {}

/**
 * A client's locked update (service-protocol.ts, `update`): in one write transaction, the key's
 * value goes to the client, whose next value is written and committed with it. Answers the
 * `update` request with the value, then the client's `update-next` with true once committed
 * (false when dropped, or its error), or its `update-abort` with false.
 */
function serveUpdate(
  store: () => KvsStore,
  port: MessagePort,
  { id, flag }: KvsClientMessage,
  request: Extract<KvsRequest, { op: 'update' }>,
  other: (message: KvsClientMessage) => void,
): void {
  let answered = false
  let next: KvsClientMessage | undefined
  try {
    store()
      .namespace(request.ns)
      .update(request.key, (current) => {
        reply(port, flag, { id, ok: true, result: current })
        answered = true
        next = awaitClient(port, request.ack, UPDATE_HOLD_MS, other)
        if (next?.request.op !== 'update-next') throw new UpdateDropped()
        return next.request.next
      })
    reply(port, next!.flag, { id: next!.id, ok: true, result: true })
  } catch (err) {
    if (!answered) reply(port, flag, { id, ok: false, error: serializeError(err) })
    else if (next !== undefined) {
      const dropped = err instanceof UpdateDropped
      reply(port, next.flag, dropped ? { id: next.id, ok: true, result: false } : { id: next.id, ok: false, error: serializeError(err) })
    }
    // Else the client did not answer in time: its late `update-next` is answered false (serve).
  }
}

/** Serve the client ports the supervisor sends over `control`. */
function serve(config: KvsServiceConfig, control: MessagePort): void {
  let store: KvsStore | undefined
  const ports = new Set<MessagePort>()
  // Opened on the first request, so a store that cannot be opened fails that request (with
  // its error) rather than the thread.
  const open = (): KvsStore => (store ??= KvsStore.open({ dir: config.dir, mapSizeBytes: config.mapSizeBytes, verify: config.verify ?? true }))
  const handle = (request: KvsRequest): unknown => {
    // The second half of a locked update that was dropped meanwhile: nothing was written.
    if (endsUpdate(request)) return false
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
      case 'update':
        throw new Error('a locked update is served by serveUpdate')
    }
  }
  control.on('message', (message: KvsControlMessage) => {
    if (message.type === 'close') {
      for (const port of ports) port.close()
      store?.close()
      // Nothing else holds the event loop: the thread exits.
      control.close()
      return
    }
    const { port, first } = message
    ports.add(port)
    port.on('close', () => ports.delete(port))
    const answer = (message: KvsClientMessage): void => {
      const { id, request, flag } = message
      if (request.op === 'update') {
        serveUpdate(open, port, message, request, answer)
        return
      }
      let result: KvsReply
      try {
        result = { id, ok: true, result: handle(request) }
      } catch (err) {
        result = { id, ok: false, error: serializeError(err) }
      }
      reply(port, flag, result)
    }
    if (first !== undefined) answer(first)
    port.on('message', answer)
  })
}

if (!isMainThread && parentPort !== null && typeof workerData === 'object' && workerData !== null && KVS_THREAD_MARK in workerData) {
  serve((workerData as Record<string, KvsServiceConfig>)[KVS_THREAD_MARK]!, parentPort)
}
