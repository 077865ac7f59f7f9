/**
 * dora-ts node SDK: what authors import to write operators and custom nodes.
 *
 * - Operators: `export default defineOperator({ onInput(input, ctx) { ... } })`
 * - Custom nodes: `const node = await Node.connect(); for await (const e of node.events()) ...`
 * - Payload helpers: JSON, text and typed arrays over raw `Uint8Array` bytes.
 * - The machine's shared key-value store: `node.kvs`, `ctx.kvs`, or `openKvs()` elsewhere.
 */
export { Node, type NodeConnectOptions, type NodeEventsOptions, type NodeSendOptions } from './node.js'
export {
  defineOperator,
  type OperatorContext,
  type OperatorDefinition,
  type OperatorHandlers,
  type OperatorClass,
  type OperatorLogger,
  type OperatorSendOptions,
} from './operator.js'
export type {
  DoraEvent,
  InputEvent,
  InputClosedEvent,
  InputRecoveredEvent,
  StopEvent,
  ErrorEvent,
  NodeRestartedEvent,
  NodeFailedEvent,
  InputMetadata,
  SendOptions,
  MetadataValue,
  StopCause,
} from './events.js'
export { msgpack, json, raw, type StateCodec } from './state-codecs.js'
export {
  openKvs,
  type Kvs,
  type KvsChange,
  type KvsEntry,
  type KvsListOptions,
  type KvsWatch,
  type KvsWatchOptions,
  type OpenKvsOptions,
  type TypedArrayClass,
} from './kvs.js'
export {
  KvsError,
  KvsOpenError,
  KvsCorruptError,
  KvsLayoutError,
  KvsBadKeyError,
  KvsBadValueError,
  KvsBadNamespaceError,
  KvsValueTooLargeError,
  KvsMapFullError,
  KvsDiskFullError,
  KvsIoError,
  KvsClosedError,
  type KvsErrorCode,
} from '../src/store/kvs/errors.js'
export { encodeJson, decodeJson, encodeText, decodeText, typedArrayBytes, asTypedArray, Encoding } from './payload.js'
export { NodeConnectError, UnknownOutputError, InvalidSendError, SupervisorGoneError, InvalidOperatorError, InvalidStateKeyError } from './errors.js'
export { ClosedError } from '../src/transport/errors.js'
export { DoraError, type DoraErrorCode } from '../src/errors.js'
