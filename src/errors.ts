/**
 * The error base of dora-ts. Every failure the product can name has its own subclass with a
 * stable `code` from the one table in {@link ERROR_CODES} (src/error-codes.ts); callers branch on
 * `code`, never on message text. Subclasses live next to the code that throws them
 * (spec/errors.ts, protocol/errors.ts, ...) and register here so that an error which crossed a
 * thread or a process is rebuilt as its own class, with its context fields.
 *
 * `instanceof` must work across worker-thread realms and duplicate copies of the package, so
 * the classes carry a `Symbol.for` brand and check it in `Symbol.hasInstance` (undici's trick).
 *
 * @module
 */

import { inspect } from 'node:util'
import { ERROR_CODES, isDoraErrorCode, type DoraErrorCode } from './error-codes.js'

export { ERROR_CODES, errorCodes, isDoraErrorCode, type CodesStartingWith, type DoraErrorCode, type ErrorCodeInfo } from './error-codes.js'

const BRAND: unique symbol = Symbol.for('dora-ts.error') as never

/** A value of an error's context: what survives both JSON and structured clone unchanged. */
export type ErrorContextValue = string | number | boolean | undefined

/**
 * The fields that say where a failure happened (a SpecError's file/line/column/node, a state
 * error's dir/operator, ...). Each class family narrows it to its own fields.
 */
export type ErrorContext = { readonly [field: string]: ErrorContextValue }

/** Shape of an error after it crossed a thread or process boundary. */
export interface SerializedError {
  name: string
  /** A {@link DoraErrorCode}, a Node code (`ENOENT`, ...), or `ERR_UNKNOWN`. */
  code: string
  message: string
  hint?: string | undefined
  stack?: string | undefined
  cause?: SerializedError | undefined
  /** The class's context fields ({@link DoraError.context}); absent when it has none. */
  context?: ErrorContext | undefined
  /** The member errors of an aggregate ({@link SpecErrors}, `AggregateError`). */
  errors?: SerializedError[] | undefined
}

/** Options every {@link DoraError} constructor takes. */
export interface DoraErrorOptions {
  /** What the user should do; defaults to the code's hint in {@link ERROR_CODES}, if any. */
  hint?: string | undefined
  cause?: unknown
}

export class DoraError extends Error {
  /** Stable machine-readable identifier, e.g. `DORA_SPEC_UNKNOWN_SOURCE`. */
  readonly code: DoraErrorCode
  /** One sentence telling the user what to do about it, printed by the CLI under the message. */
  readonly hint: string | undefined

  constructor(code: DoraErrorCode, message: string, options: DoraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    // `?.` because a code from a newer peer (see deserializeError) has no row here.
    this.hint = options.hint ?? (ERROR_CODES[code] as { hint?: string } | undefined)?.hint
    this.name = new.target.name
    Object.defineProperty(this, BRAND, { value: true })
  }

  /**
   * The fields that locate the failure, carried by {@link serializeError} across threads and
   * processes and handed back to the constructor by {@link deserializeError}. Empty here;
   * classes with fields (file, dir, operator, ...) override it.
   */
  get context(): ErrorContext {
    return {}
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false
    if (!(BRAND in value)) return false
    // Subclasses: compare by name so a DoraError from another realm still matches its class.
    if (this === DoraError) return true
    return (value as unknown as Error).name === this.name || Object.prototype.isPrototypeOf.call(this.prototype, value)
  }

  /** The message with its hint, as the CLI prints it. */
  describe(): string {
    return this.hint === undefined ? this.message : `${this.message}\n${this.hint}`
  }

  toJSON(): SerializedError {
    return serializeError(this)
  }
}

/**
 * A bug in dora-ts seen on the other side of a boundary: the supervisor answers a control
 * request with `DORA_INTERNAL` when a handler throws something that is not a {@link DoraError}.
 */
export class InternalError extends DoraError {
  declare readonly code: 'DORA_INTERNAL'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_INTERNAL', message, options)
  }
}

/** What {@link deserializeError} hands a class's reviver. */
export interface ReviveInput {
  message: string
  hint: string | undefined
  cause: unknown
  context: ErrorContext
  /** Rebuilt member errors, for aggregates. */
  errors: Error[]
}

/** Rebuild an instance of one class from its serialized parts. */
export type Reviver = (input: ReviveInput) => DoraError

/** A class whose constructor is `(message, options)` where options take its context fields. */
type StandardErrorClass = new (message: string, options?: never) => DoraError

const registry = new Map<DoraErrorCode, Reviver>()
const codeOfClass = new Map<string, DoraErrorCode>(Object.entries(ERROR_CODES).map(([code, info]) => [info.className, code as DoraErrorCode]))

/**
 * Let {@link deserializeError} rebuild `cls`. The class must have a row in {@link ERROR_CODES}
 * (found by its name); classes whose constructor is not `(message, options)` pass a `revive`.
 *
 * @throws Error when the class is not in the table: a programming error, caught on import.
 */
export function registerErrorClass(cls: StandardErrorClass): void
export function registerErrorClass(cls: abstract new (...args: never) => DoraError, revive: Reviver): void
export function registerErrorClass(cls: abstract new (...args: never) => DoraError, revive?: Reviver): void {
  const code = codeOfClass.get(cls.name)
  if (code === undefined) throw new Error(`error class ${cls.name} has no row in src/error-codes.ts; add one with its code and meaning`)
  // The context fields are the options the class's constructor takes (file, dir, ...).
  const standard = cls as unknown as new (message: string, options: DoraErrorOptions & { [field: string]: unknown }) => DoraError
  registry.set(code, revive ?? ((input) => new standard(input.message, { ...input.context, hint: input.hint, cause: input.cause })))
}

/** Whether {@link deserializeError} can rebuild `code` as its own class in this process. */
export function isRegisteredCode(code: DoraErrorCode): boolean {
  return registry.has(code)
}

/** Turn any thrown value into a plain object that survives structured clone or JSON. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const extra = err as Error & { code?: unknown; hint?: unknown; errors?: unknown }
    const code = typeof extra.code === 'string' ? extra.code : 'ERR_UNKNOWN'
    const hint = extra.hint
    const context = err instanceof DoraError ? definedFields(err.context) : undefined
    return {
      name: err.name,
      code,
      message: err.message,
      hint: typeof hint === 'string' ? hint : undefined,
      stack: err.stack,
      cause: err.cause === undefined ? undefined : serializeError(err.cause),
      context,
      errors: Array.isArray(extra.errors) ? extra.errors.map(serializeError) : undefined,
    }
  }
  return { name: 'Error', code: 'ERR_NON_ERROR_THROWN', message: errorMessage(err) }
}

/**
 * Rebuild an error serialized by {@link serializeError}: as its own class (with its context
 * fields) when that class is registered in this process, as a {@link DoraError} named after
 * the class otherwise, and as a plain `Error` carrying `code` when it was not a dora-ts error.
 */
export function deserializeError(data: SerializedError): Error {
  const cause = data.cause === undefined ? undefined : deserializeError(data.cause)
  const errors = (data.errors ?? []).map(deserializeError)
  let err: Error
  const revive = isDoraErrorCode(data.code) ? registry.get(data.code) : undefined
  if (revive !== undefined) {
    err = revive({ message: data.message, hint: data.hint, cause, context: data.context ?? {}, errors })
  } else if (data.code.startsWith('DORA_')) {
    // A code whose class this process did not load, or (from a newer peer) one not in this
    // version's table: keep the code verbatim so callers can still branch on it.
    err = new DoraError(data.code as DoraErrorCode, data.message, { hint: data.hint, cause })
    err.name = isDoraErrorCode(data.code) ? ERROR_CODES[data.code].className : data.name
  } else {
    err =
      data.name === 'AggregateError'
        ? new AggregateError(errors, data.message, { cause })
        : new Error(data.message, cause === undefined ? undefined : { cause })
    err.name = data.name
    Object.assign(err, { code: data.code })
  }
  if (data.stack !== undefined) err.stack = data.stack
  return err
}

/**
 * The message of any thrown value, for text that goes to a user or a log. Use it instead of
 * `(err as Error).message`, which prints "undefined" when a string or an object was thrown.
 *
 * @example
 * ```ts
 * catch (err) {
 *   printer.error(`could not start ${path}: ${errorMessage(err)}`)
 * }
 * ```
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message === '' ? err.name : err.message
  if (typeof err === 'string') return err
  // A structured-cloned error or an error-like object from a library.
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string' && err.message !== '') return err.message
  return `a non-Error value was thrown: ${safeInspect(err)}`
}

/** The stack of an Error (its message when it has none), or {@link errorMessage} of anything else. */
export function errorStack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? errorMessage(err)) : errorMessage(err)
}

function definedFields(context: ErrorContext): ErrorContext | undefined {
  const entries = Object.entries(context).filter(([, value]) => value !== undefined)
  return entries.length === 0 ? undefined : Object.fromEntries(entries)
}

function safeInspect(value: unknown): string {
  try {
    return inspect(value, { depth: 2, breakLength: Infinity })
  } catch {
    return '[unprintable]'
  }
}

registerErrorClass(InternalError)
