/**
 * The part of the SDK that loads no native addon (no zeromq, no lmdb): everything but the
 * custom-node client and the in-process KVS. Both entries re-export it: index.ts (with the
 * real `Node` and `openKvs`) and operator-entry.ts (what `import ... from 'dora-ts'` resolves
 * to inside an operator's worker, see worker-launch.ts).
 *
 * @module
 */
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
export type { Kvs, KvsChange, KvsEntry, KvsListOptions, KvsWatch, KvsWatchOptions, TypedArrayClass } from './kvs.js'
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
export {
  NodeConnectError,
  UnknownOutputError,
  InvalidSendError,
  MessageTooLargeError,
  SupervisorGoneError,
  InvalidOperatorError,
  InvalidStateKeyError,
  InvalidStateValueError,
} from './errors.js'
export { ClosedError } from '../src/transport/errors.js'
export { DoraError, type DoraErrorCode } from '../src/errors.js'
