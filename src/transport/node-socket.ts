/**
 * Socket options of the supervisor's end of the custom-node endpoint (a ROUTER the nodes'
 * DEALERs connect to), kept next to the rest of the transport so the two sides are read together.
 */
import type { Router } from 'zeromq'

/**
 * The supervisor's node ROUTER. No send high-water mark: a ROUTER silently drops what exceeds
 * it. The bound on what is in flight to a node is the inbox and the node's `next` requests.
 * `mandatory: false`: a send to a node that has gone is dropped rather than an error.
 * `linger: 0`: once the run is over, nothing it still queued for a node matters.
 */
export function nodeRouterOptions(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES): NonNullable<ConstructorParameters<typeof Router>[0]> {
  // `maxMessageSize`: libzmq reads each frame's announced size first and drops the connection
  // of a peer that announces more, before allocating it (issue 13: a 300 MB frame was taken
  // into memory, RSS 84 -> 984 MB).
  return { linger: 0, mandatory: false, sendHighWaterMark: 0, maxMessageSize: maxMessageBytes }
}

/**
 * Largest frame (a payload, or a header) a node may send: generous for camera frames and point
 * clouds, small enough that a flood of them cannot exhaust the supervisor's memory.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

/**
 * Largest frame taken from a connection that has not registered: a registration is a few
 * hundred bytes, and decoding anything bigger from an unknown peer is work it makes us do.
 */
export const MAX_UNREGISTERED_FRAME_BYTES = 4096
