/** Errors the SDK raises in user code, each with a stable code (see the README's table). */
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../src/errors.js'

/** The node could not reach or register with its supervisor. */
export class NodeConnectError extends DoraError {
  declare readonly code: 'DORA_NODE_CONNECT'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_NODE_CONNECT', message, options)
  }
}

/** `send()` named an output the YAML does not declare for this node or operator. */
export class UnknownOutputError extends DoraError {
  declare readonly code: 'DORA_UNKNOWN_OUTPUT'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_UNKNOWN_OUTPUT', message, options)
  }
}

/**
 * A payload that is not a `Uint8Array`. (A send during or after `close()` rejects with a
 * `ClosedError`, code `DORA_CLOSED`, instead.)
 */
export class InvalidSendError extends DoraError {
  declare readonly code: 'DORA_INVALID_SEND'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INVALID_SEND', message, options)
  }
}

/**
 * A payload bigger than the dataflow's `max_message_size`: refused before it touches the
 * socket, because ZeroMQ would silently drop the connection of a peer that sends an over-size
 * frame (the supervisor's ROUTER enforces the same limit).
 */
export class MessageTooLargeError extends DoraError {
  declare readonly code: 'DORA_MESSAGE_TOO_LARGE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_MESSAGE_TOO_LARGE', message, options)
  }
}

/**
 * A send on a reliable direct link could not be appended to its link log (the shared-memory
 * file system is full, or the log's folder is gone): nothing of it was appended or sent, so
 * it can be sent again once there is room.
 */
export class LinkLogWriteError extends DoraError {
  declare readonly code: 'DORA_LINK_LOG_WRITE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_LINK_LOG_WRITE', message, options)
  }
}

/**
 * The supervisor that launched this node is gone (its process no longer exists). The node
 * ends its event stream with a `stop` event and releases its connection; this error is the
 * `cause` of the `ClosedError` that sends get afterwards.
 */
export class SupervisorGoneError extends DoraError {
  declare readonly code: 'DORA_SUPERVISOR_GONE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_SUPERVISOR_GONE', message, options)
  }
}

/** The operator module does not export an operator the runtime can run. */
export class InvalidOperatorError extends DoraError {
  declare readonly code: 'DORA_INVALID_OPERATOR'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INVALID_OPERATOR', message, options)
  }
}

/**
 * saveState/deleteState with a key that is not a non-empty string, thrown into the handler.
 * Its own code, not the store's DORA_STATE_BAD_KEY: it is caught at the call in the operator's
 * thread, while the store's code is a key the store itself refused (empty, or over LMDB's limit).
 */
export class InvalidStateKeyError extends DoraError {
  declare readonly code: 'DORA_INVALID_STATE_KEY'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INVALID_STATE_KEY', message, options)
  }
}

export class InvalidStateValueError extends DoraError {
  declare readonly code: 'DORA_INVALID_STATE_VALUE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INVALID_STATE_VALUE', message, options)
  }
}

for (const cls of [
  NodeConnectError,
  UnknownOutputError,
  InvalidSendError,
  MessageTooLargeError,
  LinkLogWriteError,
  SupervisorGoneError,
  InvalidOperatorError,
  InvalidStateKeyError,
  InvalidStateValueError,
])
  registerErrorClass(cls)

export function checkOutput(outputs: readonly string[], outputId: string, who: string): void {
  if (outputs.includes(outputId)) return
  const declared = outputs.length === 0 ? 'it declares no outputs' : `its outputs are: ${outputs.join(', ')}`
  throw new UnknownOutputError(`${who} sent on output "${outputId}", but ${declared}`, {
    hint: `Add "${outputId}" to the outputs: list of ${who} in the dataflow YAML, or send on a declared output.`,
  })
}

export function checkMessageId(messageId: unknown, who: string): void {
  if (messageId === undefined || typeof messageId === 'string') return
  throw new InvalidSendError(`${who} passed a ${messageId === null ? 'null' : typeof messageId} messageId; a messageId is a string`, {
    hint: 'Pass a string that identifies the message (the same one when the same message is sent again), or leave messageId out for the default.',
  })
}

export function checkPayload(data: unknown, who: string): asserts data is Uint8Array {
  if (data instanceof Uint8Array) return
  throw new InvalidSendError(`${who} tried to send a ${kindOf(data)} payload; payloads are Uint8Array`, {
    hint: 'Encode the value first, e.g. with encodeJson(value) or typedArrayBytes(array), or use sendJson().',
  })
}

/** Refuse a saveState value that is not bytes (it said "tried to send a number payload", though nothing was sent). */
export function checkStateValue(value: unknown, key: string, who: string): asserts value is Uint8Array {
  if (value instanceof Uint8Array) return
  throw new InvalidStateValueError(`${who} passed saveState(${JSON.stringify(key)}) a ${kindOf(value)} value; state values are Uint8Array`, {
    hint: "Encode the value first, e.g. with msgpack.encode(value) or json.encode(value) (import { msgpack } from 'dora-ts'), and decode it in restoreState.",
  })
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : typeof value
}

/**
 * Refuse a payload over `limit` bytes (the dataflow's `max_message_size`), naming the sender,
 * the output and the YAML key that raises the limit. `limit` 0: no limit known (an older
 * supervisor), nothing checked.
 */
export function checkPayloadSize(data: Uint8Array, limit: number, who: string, outputId: string): void {
  if (limit <= 0 || data.byteLength <= limit) return
  throw new MessageTooLargeError(
    `${who} tried to send ${formatBytes(data.byteLength)} on output "${outputId}", over the dataflow's max_message_size of ${formatBytes(limit)}; nothing was sent`,
    {
      hint: `Raise the limit with max_message_size: in the dataflow YAML (e.g. max_message_size: ${suggestLimit(data.byteLength)}), or split the payload.`,
    },
  )
}

/** `123 B`, `1.5 MiB`: readable and exact enough for an error message. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]} (${bytes} bytes)`
}

/** The next power-of-two MiB that fits `bytes`, as the YAML would say it. */
function suggestLimit(bytes: number): string {
  let mib = 1
  while (mib * 1024 * 1024 < bytes) mib *= 2
  return `${mib}MiB`
}
