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
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { serializeError } from '../../errors.js'
import { KvsStore } from './store.js'
import { KVS_THREAD_MARK, type KvsClientMessage, type KvsControlMessage, type KvsReply, type KvsRequest, type KvsServiceConfig } from './service-protocol.js'

/** Serve the client ports the supervisor sends over `control`. */
function serve(config: KvsServiceConfig, control: MessagePort): void {
  let store: KvsStore | undefined
  const ports = new Set<MessagePort>()
  // Opened on the first request, so a store that cannot be opened fails that request (with
  // its error) rather than the thread.
  const open = (): KvsStore => (store ??= KvsStore.open({ dir: config.dir, mapSizeBytes: config.mapSizeBytes, verify: config.verify ?? true }))
  const handle = (request: KvsRequest): unknown => {
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
    const answer = ({ id, request, flag }: KvsClientMessage): void => {
      try {
        let reply: KvsReply
        try {
          reply = { id, ok: true, result: handle(request) }
        } catch (err) {
          reply = { id, ok: false, error: serializeError(err) }
        }
        try {
          port.postMessage(reply)
        } catch (err) {
          // A result that cannot be cloned must still answer the caller, which is waiting.
          port.postMessage({ id, ok: false, error: serializeError(err) } satisfies KvsReply)
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

if (!isMainThread && parentPort !== null && typeof workerData === 'object' && workerData !== null && KVS_THREAD_MARK in workerData) {
  serve((workerData as Record<string, KvsServiceConfig>)[KVS_THREAD_MARK]!, parentPort)
}
