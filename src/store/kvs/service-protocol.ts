/**
 * The messages between the supervisor's KVS thread (service-thread.ts) and its clients, the
 * operator workers (remote.ts), and what the supervisor (service.ts) hands the thread. Types,
 * constants and one predicate: each side imports this without loading the other.
 *
 * ```
 * client -> thread   ClientMessage {id, request, flag}   on the client's MessagePort
 * thread -> client   Reply {id, ok, result | error}      on the same port, then flag := id
 * (a locked update: 'update' answered with the value, then 'update-next' or 'update-abort',
 * answered when committed or dropped; every message the client posts until then adds 1 to ack)
 * supervisor -> thread   {type: 'connect', port, first?} | {type: 'close'}   on parentPort
 * ```
 *
 * @module
 */
import type { MessagePort } from 'node:worker_threads'
import type { SerializedError } from '../../errors.js'
import type { LogPosition } from './change-log.js'

/** What the KVS thread needs to open the store. */
export interface KvsServiceConfig {
  dir: string
  mapSizeBytes: number
  /**
   * Read the whole store in a probe process before trusting it (default true: the supervisor
   * verifies, see KvsStoreOptions.verify). A node's own KVS thread does not: nodes open the
   * KVS often, and the supervisor verified it.
   */
  verify?: boolean
}

/** The key of the thread's config in its `workerData`: marks a Worker as the KVS thread. */
export const KVS_THREAD_MARK = 'dora-ts.kvs-service'

/** One KVS operation, as a client asks the thread for it. */
export type KvsRequest =
  | { op: 'read'; ns: string; key: string }
  | { op: 'write'; ns: string; key: string; value: Uint8Array }
  | { op: 'delete'; ns: string; key: string }
  | { op: 'list'; ns: string; prefix: string; limit: number | undefined }
  | { op: 'cas'; ns: string; key: string; expected: Uint8Array | undefined; next: Uint8Array | undefined }
  | { op: 'watch-start'; ns: string; prefix: string }
  | { op: 'watch-poll'; ns: string; prefix: string; from: LogPosition; limit: number }
  /**
   * The locked update (remote.ts, KvsRemote's update under contention): the thread takes the
   * write transaction, answers with the key's value, and holds the transaction until the
   * client's `update-next` (written and committed: answered true) or `update-abort` comes, or
   * {@link UPDATE_HOLD_MS} passed (nothing written; a late `update-next` is answered false and
   * the client tries again). Every message the client posts meanwhile adds 1 to `ack`, which the
   * thread sleeps on; the calls its function makes are served inside the transaction.
   */
  | { op: 'update'; ns: string; key: string; ack: Int32Array }
  | { op: 'update-next'; next: Uint8Array | undefined }
  | { op: 'update-abort' }

/**
 * How long the KVS thread holds a write transaction for a client's locked update, waiting for
 * its next value (ms). The client computes it at once; this bounds what a client thread
 * terminated in the middle (its operator crashed, was killed or timed out) costs every other
 * writer: the write lock, once, for this long.
 */
export const UPDATE_HOLD_MS = 1000

/** The client's second half of a locked update: its next value, or its abort. */
export function endsUpdate(request: KvsRequest): request is Extract<KvsRequest, { op: 'update-next' | 'update-abort' }> {
  return request.op === 'update-next' || request.op === 'update-abort'
}

/** The thread's answer to request `id`: its result, or the error it threw (serialized). */
export type KvsReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError }

/** A request as a client posts it: `flag` is shared memory the client sleeps on. */
export interface KvsClientMessage {
  id: number
  request: KvsRequest
  flag: Int32Array
}

/** What the supervisor posts to the thread. */
export type KvsControlMessage = { type: 'connect'; port: MessagePort; first?: KvsClientMessage } | { type: 'close' }
