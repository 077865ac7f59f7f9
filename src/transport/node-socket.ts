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
export function nodeRouterOptions(): NonNullable<ConstructorParameters<typeof Router>[0]> {
  return { linger: 0, mandatory: false, sendHighWaterMark: 0 }
}
