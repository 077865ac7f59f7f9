/**
 * The on-disk layout of a dataflow's state store, in one place so the store, the CLI listing
 * and the docs agree:
 *
 * ```
 * <state dir>/data.mdb, lock.mdb     one LMDB environment per dataflow
 *   __meta__                         named database of JSON records (readable with mdb_dump -p)
 *     layout          {"format":"dora-ts-state","version":2}
 *     op/<node>/<op>  {"lastEvent":"42","seen":{"camera/image":["41",0]},"launches":"3"} + seal
 *   op/<node>/<op>                   one named database per operator: UTF-8 key -> raw bytes + seal
 *   __outbox__                       messages between operators not yet consumed (outbox.ts), each + seal
 * ```
 *
 * Keys are stored as their plain UTF-8 bytes and values as raw bytes (no msgpack, no
 * ordered-binary prefix), so `mdb_dump -p` shows exactly what the operator saved, followed by
 * the seal (layout 2 on): four bytes of CRC-32 of the key and the value (../lmdb/checksum.ts),
 * checked on every read, so that bytes damaged on disk read as DORA_STATE_CORRUPT instead of as
 * state. Every value but the layout record has one. A store of layout 1 (written before seals)
 * keeps raw values and is read and written as before.
 *
 * @module
 */

/** Identifies a dora-ts state store in its layout record. */
export const LAYOUT_FORMAT = 'dora-ts-state'

/**
 * Version of this layout. Bump it when the meaning of the records changes; an older dora-ts
 * then refuses the store with DORA_STATE_LAYOUT instead of misreading it.
 */
export const LAYOUT_VERSION = 2

/** The oldest layout this dora-ts reads (1: values without seals). */
export const OLDEST_LAYOUT_VERSION = 1

/** Named database holding the layout record and every operator's meta record. */
export const META_DB = '__meta__'

/** Key of the layout record in {@link META_DB}. */
export const LAYOUT_KEY = 'layout'

/** Prefix of the operators' named databases (and of their meta records' keys). */
export const OPERATOR_DB_PREFIX = 'op/'

/**
 * Longest state key, in UTF-8 bytes. lmdb-js would take 1978 bytes, but 511 is LMDB's classic
 * compile-time limit (MDB_MAXKEYSIZE): keeping to it lets `mdb_dump | mdb_load` move the data
 * into any LMDB build. State keys are names, not data, so this costs nothing.
 */
export const MAX_KEY_BYTES = 511

/** Event bookkeeping committed together with an operator's state (see {@link StateStore}). */
export interface OperatorMeta {
  /** Number of the last event whose handler completed and committed (0n if none). */
  lastEvent: bigint
  /** Exactly-once dedup: per upstream producer key, the id [event, index] of the last message committed from it. */
  seen: Map<string, [bigint, number]>
  /**
   * Launches of the operator whose init()/restoreState sent messages (0n if none): their ids,
   * `i<launch>.<index>`, stay unique across restarts. Absent in records written before it existed.
   */
  launches?: bigint
}

/** What a layout record says. */
export interface LayoutRecord {
  format: string
  version: number
}

/** Meta of an operator that never committed. */
export function emptyMeta(): OperatorMeta {
  return { lastEvent: 0n, seen: new Map() }
}

/** Name of an operator's named database: `op/<node>/<operator>`. */
export function operatorDbName(operatorKey: string): string {
  return OPERATOR_DB_PREFIX + operatorKey
}

/** The operator key of a named database, or undefined when it is not an operator's. */
export function operatorKeyOf(dbName: string): string | undefined {
  return dbName.startsWith(OPERATOR_DB_PREFIX) ? dbName.slice(OPERATOR_DB_PREFIX.length) : undefined
}

// With the `u` flag a surrogate pair is one code point, so this matches lone surrogates only:
// they have no UTF-8 form, and two different JS strings would collapse onto the same key bytes.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** Why `key` cannot be a state key, or undefined when it can. */
export function stateKeyProblem(key: unknown, bytes: number): string | undefined {
  if (typeof key !== 'string') return `a state key must be a string, got ${typeof key}`
  if (key.length === 0) return 'a state key must not be empty'
  if (LONE_SURROGATE.test(key)) return `state key ${JSON.stringify(key)} is not well-formed Unicode (it has a lone surrogate)`
  if (bytes > MAX_KEY_BYTES) return `state key ${preview(key)} is ${bytes} UTF-8 bytes long, the limit is ${MAX_KEY_BYTES}`
  return undefined
}

/** Why `operatorKey` cannot name an operator's database, or undefined when it can. */
export function operatorKeyProblem(operatorKey: unknown): string | undefined {
  if (typeof operatorKey !== 'string') return `an operator key must be a string, got ${typeof operatorKey}`
  if (operatorKey.length === 0) return 'an operator key must not be empty'
  // LMDB database names are C strings in the tools (and lmdb-js appends a NUL): no NUL inside.
  if (operatorKey.includes('\0')) return `operator key ${JSON.stringify(operatorKey)} contains a NUL character`
  if (LONE_SURROGATE.test(operatorKey)) return `operator key ${JSON.stringify(operatorKey)} is not well-formed Unicode`
  const bytes = Buffer.byteLength(operatorDbName(operatorKey))
  if (bytes > MAX_KEY_BYTES) return `operator key ${preview(operatorKey)} is too long (${bytes} bytes as a database name, the limit is ${MAX_KEY_BYTES})`
  return undefined
}

function preview(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}...` : key)
}

/** The layout record this dora-ts writes into a new store. */
export function encodeLayout(): Buffer {
  const record: LayoutRecord = { format: LAYOUT_FORMAT, version: LAYOUT_VERSION }
  return Buffer.from(JSON.stringify(record))
}

/** Parse a layout record; undefined when it is not one. */
export function decodeLayout(bytes: Uint8Array): LayoutRecord | undefined {
  const value = parseJson(bytes)
  if (!isRecord(value)) return undefined
  const { format, version } = value
  if (typeof format !== 'string' || typeof version !== 'number' || !Number.isInteger(version)) return undefined
  return { format, version }
}

/** Why `meta` cannot be committed, or undefined when it can. */
export function metaProblem(meta: unknown): string | undefined {
  if (!isRecord(meta)) return 'meta must be an object { lastEvent, seen }'
  const { lastEvent, seen, launches } = meta
  if (typeof lastEvent !== 'bigint' || lastEvent < 0n) return `meta.lastEvent must be a non-negative bigint, got ${describe(lastEvent)}`
  if (launches !== undefined && (typeof launches !== 'bigint' || launches < 0n)) return `meta.launches must be a non-negative bigint, got ${describe(launches)}`
  if (!(seen instanceof Map)) return 'meta.seen must be a Map'
  for (const [producer, id] of seen as Map<unknown, unknown>) {
    if (typeof producer !== 'string') return `meta.seen keys must be strings, got ${describe(producer)}`
    if (!Array.isArray(id) || id.length !== 2) return `meta.seen.get(${JSON.stringify(producer)}) must be [event, index]`
    const [event, index] = id as [unknown, unknown]
    if (typeof event !== 'bigint' || event < 0n) return `meta.seen.get(${JSON.stringify(producer)})[0] must be a non-negative bigint, got ${describe(event)}`
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
      return `meta.seen.get(${JSON.stringify(producer)})[1] must be a non-negative integer, got ${describe(index)}`
    }
  }
  return undefined
}

/**
 * Encode meta as JSON with bigints as decimal strings (exact beyond 2^53, and readable in
 * `mdb_dump -p`). Call {@link metaProblem} first.
 */
export function encodeMeta(meta: OperatorMeta): Buffer {
  const seen: Record<string, [string, number]> = {}
  // defineProperty, not assignment: a producer named "__proto__" must stay an own key.
  for (const [producer, [event, index]] of meta.seen) {
    Object.defineProperty(seen, producer, { value: [event.toString(), index], enumerable: true, writable: true, configurable: true })
  }
  const launches = meta.launches === undefined || meta.launches === 0n ? {} : { launches: meta.launches.toString() }
  return Buffer.from(JSON.stringify({ lastEvent: meta.lastEvent.toString(), seen, ...launches }))
}

/** Decode a meta record; throws an Error saying what is wrong when it does not decode. */
export function decodeMeta(bytes: Uint8Array): OperatorMeta {
  const value = parseJson(bytes)
  if (!isRecord(value)) throw new Error('the meta record is not a JSON object')
  const lastEvent = parseBigint(value.lastEvent, 'lastEvent')
  if (!isRecord(value.seen)) throw new Error('meta "seen" is not an object')
  const seen = new Map<string, [bigint, number]>()
  for (const [producer, id] of Object.entries(value.seen)) {
    if (!Array.isArray(id) || id.length !== 2) throw new Error(`meta "seen" of ${JSON.stringify(producer)} is not [event, index]`)
    const [event, index] = id as [unknown, unknown]
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
      throw new Error(`meta "seen" of ${JSON.stringify(producer)} has a bad index`)
    }
    seen.set(producer, [parseBigint(event, `seen of ${JSON.stringify(producer)}`), index])
  }
  if (value.launches === undefined) return { lastEvent, seen }
  return { lastEvent, seen, launches: parseBigint(value.launches, 'launches') }
}

const DECIMAL = /^(0|[1-9][0-9]*)$/

function parseBigint(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !DECIMAL.test(value)) throw new Error(`meta ${what} is not a decimal string`)
  return BigInt(value)
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch {
    return undefined
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(value: unknown): string {
  return typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value)
}
