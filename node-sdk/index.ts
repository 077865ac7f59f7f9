/**
 * dora-ts node SDK: what authors import to write operators and custom nodes.
 *
 * - Operators: `export default defineOperator({ onInput(input, ctx) { ... } })`
 * - Custom nodes: `const node = await Node.connect(); for await (const e of node.events()) ...`
 * - Payload helpers: JSON, text and typed arrays over raw `Uint8Array` bytes.
 * - The machine's shared key-value store: `node.kvs`, `ctx.kvs`, or `openKvs()` elsewhere.
 */
import { CRASH_NOTE_ENV, noteFatalExceptions } from '../src/transport/crash-note.js'

export * from './portable.js'
export { Node, type NodeConnectOptions, type NodeEventsOptions, type NodeSendOptions } from './node.js'
export { openKvs, type OpenKvsOptions } from './kvs-direct.js'

// In a process the supervisor started, the exception that ends it is written where the
// supervisor reads it for the run's report (src/transport/crash-note.ts). From the import,
// not from Node.connect(): a program that throws before it connects is named too. The
// variable goes with it: a helper process this one starts must not write this one's note.
noteFatalExceptions(process.env[CRASH_NOTE_ENV])
delete process.env[CRASH_NOTE_ENV]
