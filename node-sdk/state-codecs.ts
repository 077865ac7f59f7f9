/**
 * Serializers for operator state (and KVS values), so authors do not hand-roll them. State is
 * bytes; pick the codec that fits each key:
 *
 * - `msgpack`: compact and fast; keeps Dates, typed arrays and bigints (Maps come back as plain
 *   objects). The default choice.
 * - `json`: readable with `mdb_dump` and across languages; slower and larger.
 * - `raw`: bytes as they are (a Float32Array of a filter's memory, an image).
 *
 * dora's design note applies: keep fast-changing state under its own small key, so each event
 * rewrites only what changed.
 *
 * @example
 * ctx.saveState('count', msgpack.encode(count))
 * // ...
 * restoreState(state) { count = msgpack.decode<number>(state.get('count')!) }
 */
import { Packr } from 'msgpackr'
import { decodeJson, encodeJson } from './payload.js'

export interface StateCodec {
  encode(value: unknown): Uint8Array
  decode<T = unknown>(bytes: Uint8Array): T
}

// `useRecords: false` keeps the output plain MessagePack any reader understands; `int64AsType`
// round-trips bigints.
const packr = new Packr({ useRecords: false, int64AsType: 'bigint', moreTypes: true })

export const msgpack: StateCodec = {
  encode: (value) => packr.pack(value),
  decode: <T>(bytes: Uint8Array) => packr.unpack(bytes) as T,
}

export const json: StateCodec = {
  encode: (value) => encodeJson(value),
  decode: <T>(bytes: Uint8Array) => decodeJson<T>(bytes),
}

export const raw = {
  encode: (value: Uint8Array): Uint8Array => value,
  decode: (bytes: Uint8Array): Uint8Array => bytes,
}
