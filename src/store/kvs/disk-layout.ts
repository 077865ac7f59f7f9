/**
 * The on-disk layout of the KVS, in one place so the store, the change log and the docs agree:
 *
 * ```
 * <kvs dir>/data.mdb, lock.mdb
 *   __meta__        layout {"format":"dora-ts-kvs","version":2}; trim/<ns> -> log floor (u64 BE);
 *                   dropped/<ns> -> txn id of its drop (u64 BE): a namespace dropped while other
 *                   processes had the KVS open, emptied but its databases kept (drop.ts)
 *   ns/<name>       one named database per namespace (pool): UTF-8 key -> value bytes + seal
 *   log/<name>      its change log: [txn id u64 BE][index u32 BE] -> [kind][key length u16][key][value] + seal
 * ```
 *
 * The seal (version 2 on, ../lmdb/checksum.ts) is a CRC-32 of the entry's key and value, four
 * bytes after the value, checked on every read: a damaged value reads as DORA_KVS_CORRUPT. A
 * KVS of version 1 (written before seals) keeps raw values and is read and written as before.
 *
 * {@link checkKvsLayout} refuses a directory that holds anything else (operator state, another
 * version), never wipes it.
 *
 * @module
 */
import type { Database, RootDatabase } from 'lmdb'
import { decodeLayout, LAYOUT_KEY, META_DB } from '../state/disk-layout.js'
import { kvsCorruptHint, KvsCorruptError, KvsLayoutError } from './errors.js'
import { ENV_KVS_DIR } from './location.js'
import { listDbNames } from '../lmdb/db-names.js'
import { RAW_VALUES, SEALED_VALUES, type ValueSeal } from '../lmdb/checksum.js'

/** Format and version of the layout record in `__meta__`. */
export const KVS_LAYOUT_FORMAT = 'dora-ts-kvs'
export const KVS_LAYOUT_VERSION = 2
/** The oldest layout this dora-ts still reads (and writes, in its own format): 1, values without seals. */
const OLDEST_KVS_LAYOUT = 1

/** Prefix of a namespace's database name. */
export const NAMESPACE_DB_PREFIX = 'ns/'
/** Prefix of a namespace's change log database name. */
export const LOG_DB_PREFIX = 'log/'
/** Prefix of a namespace's log floor key in `__meta__`: changes below it were trimmed. */
export const TRIM_KEY_PREFIX = 'trim/'
/**
 * Prefix of a dropped namespace's mark in `__meta__`: the namespace is gone (listed nowhere,
 * empty) although its databases still exist, because other processes may hold handles on them.
 * A write into the namespace removes the mark (it comes back, as a first write creates one).
 */
export const DROPPED_KEY_PREFIX = 'dropped/'

/**
 * Check the layout record of an existing KVS, or write it into a new one with `commitFlags`;
 * the `__meta__` database, and how the KVS stores its values. Several processes may create
 * the KVS at once: the record is written under LMDB's write lock, after checking again.
 */
export function checkKvsLayout(env: RootDatabase<Buffer, Buffer>, dir: string, commitFlags: number): { meta: Database<Buffer, Buffer>; seal: ValueSeal } {
  const names = listDbNames(env)
  const layoutHint = `point --kvs-dir (or ${ENV_KVS_DIR}) at a KVS directory, or at an empty one`
  if (names.length > 0 && !names.includes(META_DB)) {
    throw new KvsLayoutError(`cannot open the KVS in ${dir}: it holds an LMDB environment that is not a dora-ts KVS (no ${META_DB} database)`, {
      dir,
      hint: layoutHint,
    })
  }
  const meta = env.openDB<Buffer, Buffer>({ name: META_DB, keyEncoding: 'binary', encoding: 'binary' })
  const layoutKey = Buffer.from(LAYOUT_KEY)
  let bytes = meta.get(layoutKey)
  if (bytes === undefined) {
    env.transactionSync(() => {
      bytes = meta.get(layoutKey)
      if (bytes !== undefined) return
      const fresh = listDbNames(env).every((name) => name === META_DB) && meta.getCount() === 0
      if (!fresh) throw new KvsLayoutError(`cannot open the KVS in ${dir}: its ${META_DB} database has no layout record`, { dir, hint: layoutHint })
      meta.putSync(layoutKey, Buffer.from(JSON.stringify({ format: KVS_LAYOUT_FORMAT, version: KVS_LAYOUT_VERSION })))
    }, commitFlags)
    if (bytes === undefined) return { meta, seal: SEALED_VALUES }
  }
  const layout = decodeLayout(bytes)
  if (layout === undefined) throw new KvsCorruptError(`cannot open the KVS in ${dir}: its layout record does not decode`, { dir, hint: kvsCorruptHint(dir) })
  if (layout.format !== KVS_LAYOUT_FORMAT) {
    const what = layout.format === 'dora-ts-state' ? 'the operator state of a dataflow' : `"${layout.format}" data`
    throw new KvsLayoutError(`cannot open the KVS in ${dir}: it holds ${what}, not a KVS`, { dir, hint: layoutHint })
  }
  if (layout.version < OLDEST_KVS_LAYOUT || layout.version > KVS_LAYOUT_VERSION) {
    const by = layout.version > KVS_LAYOUT_VERSION ? 'a newer' : 'an older'
    throw new KvsLayoutError(
      `cannot open the KVS in ${dir}: it was written by ${by} dora-ts (KVS layout ${layout.version}, this one reads ${OLDEST_KVS_LAYOUT} to ${KVS_LAYOUT_VERSION})`,
      {
        dir,
        hint: `use a dora-ts that matches the KVS in ${dir}, or choose another directory with --kvs-dir`,
      },
    )
  }
  return { meta, seal: layout.version >= 2 ? SEALED_VALUES : RAW_VALUES }
}
