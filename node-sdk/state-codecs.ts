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
import { createRequire } from 'node:module'
import type { Packr } from 'msgpackr'
import { decodeJson, encodeJson } from './payload.js'

export interface StateCodec {
  encode(value: unknown): Uint8Array
  decode<T = unknown>(bytes: Uint8Array): T
}

let packr: Packr | undefined

/**
 * Made on first use: msgpackr costs ~25 ms of a process start, which every custom node (and
 * every restart of one) would pay whether or not it uses the codec. Its CommonJS build, as
 * lmdb-js loads it (src/store/lmdb/lmdb-js.ts). `useRecords: false` keeps the output plain
 * MessagePack any reader understands; `int64AsType` round-trips bigints.
 */
function packer(): Packr {
  if (packr === undefined) {
    const { Packr } = createRequire(import.meta.url)('msgpackr') as typeof import('msgpackr')
    packr = new Packr({ useRecords: false, int64AsType: 'bigint', moreTypes: true })
  }
  return packr
}

export const msgpack: StateCodec = {
  encode: (value) => packer().pack(value),
  decode: <T>(bytes: Uint8Array) => packer().unpack(bytes) as T,
}

export const json: StateCodec = {
  encode: (value) => encodeJson(value),
  decode: <T>(bytes: Uint8Array) => decodeJson<T>(bytes),
}

export const raw = {
  encode: (value: Uint8Array): Uint8Array => value,
  decode: (bytes: Uint8Array): Uint8Array => bytes,
}
