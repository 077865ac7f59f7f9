/**
 * lmdb-js, loaded on first use: every store opens its environment through {@link lmdbJs}.
 *
 * Why not a plain `import ... from 'lmdb'`: ESM imports load at start-up, and lmdb-js (with
 * msgpackr, which it loads) costs ~45 ms of a process start on the 2-core VM. Every custom
 * node loads the KVS code through the SDK (`node.kvs`), and most never open the KVS; a
 * restarted node pays its start-up again on every crash. The KVS API is synchronous
 * (`node.kvs.read()` on first use opens the store), so the load is a `require`, not an
 * `import()`: lmdb-js ships its CommonJS build for exactly that. Every module of ours loads
 * it from here, so a process holds one copy of lmdb-js, never its ESM and CJS builds side by
 * side (each would keep its own transactions and database cache over the same native
 * environments).
 *
 * @module
 */
import { createRequire } from 'node:module'

type LmdbJs = typeof import('lmdb')

let loaded: LmdbJs | undefined

/** The lmdb-js module: loaded by the first call, the same object after it. */
export function lmdbJs(): LmdbJs {
  return (loaded ??= createRequire(import.meta.url)('lmdb') as LmdbJs)
}
