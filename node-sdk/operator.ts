/**
 * Operators: TS/JS modules the supervisor loads in-process, each in its own worker thread.
 *
 * @example
 * ```ts
 * import { defineOperator, decodeJson } from 'dora-ts'
 * export default defineOperator({
 *   onInput(input, ctx) {
 *     const scan = decodeJson<number[]>(input.data)
 *     ctx.sendJson('nearest', Math.min(...scan))
 *   },
 * })
 * ```
 */
import type { DoraEvent, InputClosedEvent, InputEvent, MetadataValue, SendOptions, StopEvent } from './events.js'
import type { Kvs } from './kvs.js'

export interface OperatorLogger {
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** Options for {@link OperatorContext.send}. */
export interface OperatorSendOptions extends SendOptions {
  /**
   * Hand the payload's `ArrayBuffer` to the runtime instead of copying it (zero-copy for large
   * payloads). The buffer may be detached afterwards (a payload under 16 KiB is copied all the
   * same): do not touch `data` again. Only takes effect when `data` spans its whole buffer.
   */
  transfer?: boolean
}

/** What an operator's handlers get besides the event. */
export interface OperatorContext {
  readonly dataflowId: string
  readonly dataflowName: string
  readonly nodeId: string
  readonly operatorId: string
  /** The outputs declared in the YAML. */
  readonly outputs: readonly string[]
  /** How many times this operator was restarted in this run (dora's `restart_count()`). */
  readonly restartCount: number
  /** Send `data` on a declared output. The bytes are copied unless `transfer` is set. */
  send(outputId: string, data: Uint8Array, options?: OperatorSendOptions): void
  /** Send a JSON-serialisable value (encoding `json`). */
  sendJson(outputId: string, value: unknown, options?: SendOptions): void
  /** Lines appear in the dataflow's output prefixed with `node/operator`. */
  readonly log: OperatorLogger
  /**
   * Save `value` under `key` in this operator's private state (the latest value per key wins).
   * Every saveState/deleteState made while handling one event commits atomically when the
   * handler returns (or its promise resolves); a handler that throws commits nothing. The
   * bytes are copied at the call. Keep fast-changing state under its own small key.
   * @example ctx.saveState('count', encodeJson(count))
   */
  saveState(key: string, value: Uint8Array): void
  /** Delete `key` from this operator's state, atomically with the rest of the event. */
  deleteState(key: string): void
  /**
   * The machine's shared key-value store, on this dataflow's namespace: the same store custom
   * nodes see as `node.kvs`, reached through the supervisor's KVS thread. Unlike saveState, a
   * KVS write commits at once (it is not undone when the handler throws, and a redelivered
   * input may repeat it).
   * @example ctx.kvs.update('hits', (old) => encodeJson((old ? decodeJson<number>(old) : 0) + 1))
   */
  readonly kvs: Kvs
}

type MaybePromise<T> = T | Promise<T>

/** The handlers an operator implements; only `onInput` is required. */
export interface OperatorHandlers {
  /**
   * Called before the first event whenever saved state exists (after a crash, and when the
   * dataflow starts again), with exactly the state of the last completed event.
   */
  restoreState?(state: Map<string, Uint8Array>, ctx: OperatorContext): MaybePromise<void>
  /** Called once after the operator loaded (and after restoreState), before any event. */
  init?(ctx: OperatorContext): MaybePromise<void>
  onInput(input: InputEvent, ctx: OperatorContext): MaybePromise<void>
  onInputClosed?(event: InputClosedEvent, ctx: OperatorContext): MaybePromise<void>
  /** Called once when the operator stops; it may still send. */
  onStop?(event: StopEvent, ctx: OperatorContext): MaybePromise<void>
  /** Any other event (node-restarted, node-failed, error, and kinds added later). */
  onEvent?(event: Exclude<DoraEvent, InputEvent | InputClosedEvent | StopEvent>, ctx: OperatorContext): MaybePromise<void>
}

/** A class whose instances implement {@link OperatorHandlers}; constructed with the context. */
export type OperatorClass = new (ctx: OperatorContext) => OperatorHandlers

const OPERATOR_BRAND = Symbol.for('dora-ts.operator')

/** What `defineOperator` returns and an operator module exports as its default. */
export interface OperatorDefinition {
  readonly [OPERATOR_BRAND]: true
  /** Builds a fresh instance for each (re)start of the operator. */
  create(ctx: OperatorContext): OperatorHandlers
}

/**
 * Define an operator. Pass the handlers, or a factory that builds them (use a factory when the
 * operator keeps state in closures: each restart gets a fresh instance).
 */
export function defineOperator(handlers: OperatorHandlers | ((ctx: OperatorContext) => OperatorHandlers)): OperatorDefinition {
  const create = typeof handlers === 'function' ? handlers : () => handlers
  return { [OPERATOR_BRAND]: true, create }
}

export function isOperatorDefinition(value: unknown): value is OperatorDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OPERATOR_BRAND] === true
}

/**
 * Turn whatever a module exported into a definition: a `defineOperator` result, a class with
 * an `onInput` method, or a plain object with `onInput`. Returns undefined when it is none.
 */
export function toOperatorDefinition(exported: unknown): OperatorDefinition | undefined {
  if (isOperatorDefinition(exported)) return exported
  if (typeof exported === 'function' && typeof (exported.prototype as { onInput?: unknown } | undefined)?.onInput === 'function') {
    const cls = exported as OperatorClass
    return defineOperator((ctx) => new cls(ctx))
  }
  if (typeof exported === 'object' && exported !== null && typeof (exported as { onInput?: unknown }).onInput === 'function') {
    return defineOperator(exported as OperatorHandlers)
  }
  return undefined
}

export type { MetadataValue }
