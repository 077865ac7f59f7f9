/** Errors of the security boundaries (src/security/), each with a stable code. */
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../errors.js'

/**
 * A directory or file that must be private to this user is not: owned by someone else, open to
 * others, or a symbolic link. Code `DORA_INSECURE_PATH`.
 */
export class InsecurePathError extends DoraError {
  declare readonly code: 'DORA_INSECURE_PATH'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INSECURE_PATH', message, options)
  }
}

/** CURVE keys or the allow list are missing, unreadable or malformed. Code `DORA_CURVE_KEYS`. */
export class CurveKeysError extends DoraError {
  declare readonly code: 'DORA_CURVE_KEYS'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_CURVE_KEYS', message, options)
  }
}

/** A name that becomes part of a path (dataflow, node, namespace, snapshot) is not an identifier. Code `DORA_INVALID_NAME`. */
export class InvalidNameError extends DoraError {
  declare readonly code: 'DORA_INVALID_NAME'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INVALID_NAME', message, options)
  }
}

for (const cls of [InsecurePathError, CurveKeysError, InvalidNameError]) registerErrorClass(cls)
