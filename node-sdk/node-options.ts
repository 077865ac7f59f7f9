/**
 * The options of {@link Node}'s methods, public through `dora-ts` (node.ts re-exports them).
 *
 * @module
 */
import type { SendOptions } from './events.js'

export interface NodeConnectOptions {
  /** Defaults to the `DORA_TS_ENDPOINT` the supervisor set. */
  endpoint?: string
  /** Defaults to the `DORA_TS_NODE_ID` the supervisor set. */
  nodeId?: string
  /** How long to wait for the supervisor to accept the registration (default 10 s). */
  timeoutMs?: number
  /**
   * Cancels the connection attempt: an abort before the supervisor accepted the registration
   * closes the socket and rejects `connect()` with `signal.reason` (an `AbortError` unless the
   * caller gave another reason). An abort after `connect()` resolved does nothing: close the node.
   * @example
   * ```ts
   * const node = await Node.connect({ signal: AbortSignal.timeout(2_000) })
   * ```
   */
  signal?: AbortSignal
}

/** Options of {@link Node.events}. */
export interface NodeEventsOptions {
  /**
   * Ends this iteration: after an abort the loop gets no further event and finishes normally
   * (no exception). Events not yet taken stay queued for the next `events()` call, and the
   * node stays open.
   * @example
   * ```ts
   * const stop = new AbortController()
   * setTimeout(() => stop.abort(), 1_000)
   * for await (const event of node.events({ signal: stop.signal })) handle(event)
   * ```
   */
  signal?: AbortSignal
}

/** Options of {@link Node.send}: those of every send, plus the message's id and whether its bytes are handed over. */
export interface NodeSendOptions extends SendOptions {
  /**
   * The message's `messageId`, what receivers dedup by. Give one when the node can produce
   * the same message again, such as a source that restarts from a position it saved: the same
   * position, the same id. Default: `<restartCount>.<sequence>` (this process's restart count
   * in the run, then the output's sequence number), unique per output within a run across
   * restarts of the node. `''` sends no id.
   * @example
   * ```ts
   * await node.send('frame', bytes, { messageId: `frame-${position}` })
   * ```
   */
  messageId?: string
  /**
   * Hand `data` over instead of lending it: the SDK (ZeroMQ, on a direct link) may still read
   * it after `send()` resolved, so do not write into it again. Without it, `data` is yours
   * again once `send()` resolves (a buffer you refill for the next frame is safe): where ZeroMQ
   * would still refer to it (a direct link's socket frame of more than 128 bytes, payloads
   * under 256 KiB on a reliable link), the SDK sends a copy. Set it when each message gets a
   * fresh buffer, to save that copy.
   * @example
   * ```ts
   * await node.send('frame', camera.grab(), { transfer: true }) // a new buffer every frame
   * ```
   */
  transfer?: boolean
}
