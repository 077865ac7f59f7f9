/**
 * The error base of dora-ts. Every failure the product can name has its own subclass with a
 * stable `code`; callers branch on `code`, never on message text. Subclasses live next to the
 * code that throws them (spec/errors.ts, protocol/errors.ts, ...) and are listed in the README's
 * error table.
 *
 * `instanceof` must work across worker-thread realms and duplicate copies of the package, so
 * the classes carry a `Symbol.for` brand and check it in `Symbol.hasInstance` (undici's trick).
 */

const BRAND: unique symbol = Symbol.for('dora-ts.error') as never

/** Shape of an error after it crossed a thread or process boundary. */
export interface SerializedError {
  name: string
  code: string
  message: string
  hint?: string | undefined
  stack?: string | undefined
  cause?: SerializedError | undefined
}

export class DoraError extends Error {
  /** Stable machine-readable identifier, e.g. `DORA_SPEC_UNKNOWN_SOURCE`. */
  readonly code: string
  /** One sentence telling the user what to do about it, printed by the CLI under the message. */
  readonly hint: string | undefined

  constructor(code: string, message: string, options: { hint?: string | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.hint = options.hint
    this.name = new.target.name
    Object.defineProperty(this, BRAND, { value: true })
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

/** A name for an error class, usable as a registry key when rebuilding errors. */
type ErrorClass = new (message: string, options?: { hint?: string; cause?: unknown }) => DoraError

const registry = new Map<string, ErrorClass>()

/** Let {@link deserializeError} rebuild `cls` from its serialized form. */
export function registerErrorClass(cls: ErrorClass): void {
  registry.set(cls.name, cls)
}

/** Turn any thrown value into a plain object that survives structured clone or JSON. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const extra = err as Error & { code?: unknown; hint?: unknown }
    const code = typeof extra.code === 'string' ? extra.code : 'ERR_UNKNOWN'
    const hint = extra.hint
    return {
      name: err.name,
      code,
      message: err.message,
      hint: typeof hint === 'string' ? hint : undefined,
      stack: err.stack,
      cause: err.cause === undefined ? undefined : serializeError(err.cause),
    }
  }
  return { name: 'Error', code: 'ERR_NON_ERROR_THROWN', message: `a non-Error value was thrown: ${safeString(err)}` }
}

/** Rebuild an error serialized by {@link serializeError}, as its own class when registered. */
export function deserializeError(data: SerializedError): Error {
  const cause = data.cause === undefined ? undefined : deserializeError(data.cause)
  const cls = registry.get(data.name)
  let err: Error
  if (cls !== undefined) {
    err = new cls(data.message, { ...(data.hint === undefined ? {} : { hint: data.hint }), cause })
  } else if (data.code.startsWith('DORA_')) {
    err = new DoraError(data.code, data.message, { hint: data.hint, cause })
    err.name = data.name
  } else {
    err = new Error(data.message, cause === undefined ? undefined : { cause })
    err.name = data.name
    Object.assign(err, { code: data.code })
  }
  if (data.stack !== undefined) err.stack = data.stack
  return err
}

function safeString(value: unknown): string {
  try {
    return String(value)
  } catch {
    return '[unprintable]'
  }
}
