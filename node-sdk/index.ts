/**
 * dora-ts node SDK: what authors import to write operators and custom nodes.
 *
 * - Operators: `export default defineOperator({ onInput(input, ctx) { ... } })`
 * - Custom nodes: `const node = await Node.connect(); for await (const e of node.events()) ...`
 * - Payload helpers: JSON, text and typed arrays over raw `Uint8Array` bytes.
 * - The machine's shared key-value store: `node.kvs`, `ctx.kvs`, or `openKvs()` elsewhere.
 */
export * from './portable.js'
export { Node, type NodeConnectOptions, type NodeEventsOptions, type NodeSendOptions } from './node.js'
export { openKvs, type OpenKvsOptions } from './kvs-direct.js'
