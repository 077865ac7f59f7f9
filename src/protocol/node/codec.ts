/**
 * The one place where node-protocol messages become Cap'n Proto bytes and back: one
 * encode/decode pair per direction, each in the module named after its schema in
 * src/protocol/schema/ (`node-to-supervisor.ts`, `supervisor-to-node.ts`, `node-to-node.ts`),
 * with the parts they share in `fields.ts`. Callers import from here. Field positions come from
 * `../struct-layout.ts`, which the tests check against the Cap'n Proto compiler.
 *
 * Bytes are the standard unpacked serialization with a segment table, so the reference tools
 * interoperate: `capnp decode src/protocol/schema/node-to-supervisor.capnp NodeToSupervisor < frame`.
 *
 * Decoding is eager and defensive (see `wire.ts`): every field is copied into plain objects, so
 * nothing returned refers to the received buffer, and any malformed input surfaces as one
 * {@link ProtocolError}, thrown before the caller sees a partial message.
 *
 * Metadata entries travel in `Object.keys` order, which is insertion order except that
 * integer-like keys (`"2"`) come first, as JavaScript orders them. Empty strings and byte arrays
 * are written as null pointers (every Cap'n Proto reader reads them back as empty).
 *
 * @module
 */

export { MAX_FRAME_BYTES } from '../wire.js'
export { decodeNodeToSupervisor, encodeNodeToSupervisor } from './node-to-supervisor.js'
export { decodeSupervisorToNode, encodeSupervisorToNode } from './supervisor-to-node.js'
export { decodeNodeToNode, encodeNodeToNode } from './node-to-node.js'
