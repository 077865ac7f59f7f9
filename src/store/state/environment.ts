/**
 * Opening a dataflow's state environment: checking the options, the preflight of the data
 * file, lmdb-js's options, the layout record, and the rule of one open store per directory
 * and process. What {@link StateStore.open} does before it has a store.
 *
 * lmdb-js pitfalls handled here: stale reader slots of SIGKILLed processes (readerCheck() on
 * open), maxDbs defaulting to 12, a path with a dot being taken for a file (noSubdir: false),
 * a bad data file crashing the process (preflight.ts).
 *
 * @module
 */
import { LMDB_PRIVATE_FILES, PRIVATE_FILE_MODE } from '../../security/private-path.js'
import { existsSync, realpathSync } from 'node:fs'
import type { Database, RootDatabase } from 'lmdb'
import { lmdbJs } from '../lmdb/lmdb-js.js'
import type { Durability } from '../../spec/types.js'
import { corruptHint, layoutHint, StateCorruptError, StateLayoutError, StateOpenError, stateErrorFrom } from './errors.js'
import { decodeLayout, encodeLayout, LAYOUT_FORMAT, LAYOUT_KEY, LAYOUT_VERSION, META_DB, OLDEST_LAYOUT_VERSION } from './disk-layout.js'
import { RAW_VALUES, SEALED_VALUES, type ValueSeal } from '../lmdb/checksum.js'
import { markVerified, preflight } from '../lmdb/preflight.js'
import { listDbNames } from '../lmdb/db-names.js'
import { COMMIT_FLAGS } from './commit.js'

/** Default map size of a state store: 1 GiB. */
export const DEFAULT_MAP_SIZE_BYTES = 1024 * 1024 * 1024
/** Smallest accepted map size: a few pages for the meta database and one operator. */
export const MIN_MAP_SIZE_BYTES = 256 * 1024
/** Named databases per environment; lmdb-js's default of 12 would cap a dataflow at 11 operators. */
export const MAX_DBS = 1000
/** Concurrent read transactions (LMDB default 126); lmdb-js takes a slot per read txn (MDB_NOTLS). */
export const MAX_READERS = 512

/** A database with binary keys and values. */
export type Bytes = Database<Buffer, Buffer>

/** An open state environment, as {@link openStateEnvironment} hands it to the store. */
export interface StateEnvironment {
  env: RootDatabase<Buffer, Buffer>
  /** The `__meta__` database (layout and operator meta records). */
  meta: Bytes
  /** The directory with symlinks resolved: give it back with {@link releaseStateDir}. */
  realDir: string
  pageSize: number
  /** Bytes of the data file up to its last used page, when opened. */
  highWater: number
  /** How the store keeps its values: sealed with a checksum (layout 2), or raw (layout 1). */
  seal: ValueSeal
}

/**
 * Directories open in this realm: lmdb-js shares one native environment per file, and a
 * second StateStore on it would see dropped database handles of the first.
 */
const openDirs = new Set<string>()

/** Throw DORA_STATE_OPEN unless `durability` is a durability (for the store in `dir`, or one operator of it). */
export function checkDurability(durability: unknown, dir: string, operator?: string): asserts durability is Durability {
  if (durability === 'process' || durability === 'power') return
  const message =
    operator === undefined
      ? `cannot open the state store in ${dir}: durability must be 'process' or 'power', got ${String(durability)}`
      : `bad durability for operator "${operator}" in ${dir}: ${String(durability)}`
  throw new StateOpenError(message, {
    dir,
    operator,
    hint: operator === undefined ? "use durability 'process' (survives crashes) or 'power' (also survives power loss)" : "use durability 'process' or 'power'",
  })
}

/**
 * Open (or create) the LMDB environment of the state store in `dir` (absolute), and claim the
 * directory for this realm. Never wipes anything: refuses with DORA_STATE_LAYOUT,
 * DORA_STATE_CORRUPT or DORA_STATE_OPEN.
 */
export function openStateEnvironment(dir: string, mapSizeBytes: number): StateEnvironment {
  if (!Number.isSafeInteger(mapSizeBytes) || mapSizeBytes < MIN_MAP_SIZE_BYTES) {
    throw new StateOpenError(
      `cannot open the state store in ${dir}: the map size must be an integer of at least ${MIN_MAP_SIZE_BYTES} bytes, got ${mapSizeBytes}`,
      {
        dir,
        hint: `set the state map size to ${MIN_MAP_SIZE_BYTES} bytes or more`,
      },
    )
  }
  if (existsSync(dir) && openDirs.has(realpathSync(dir))) {
    throw new StateOpenError(`cannot open the state store in ${dir}: it is already open in this process`, {
      dir,
      hint: 'share the open StateStore, or close() it before opening it again',
    })
  }
  // State is opened once per run or CLI command: verify it unless a clean close left it as is.
  // lock.mdb first written as zeros: LMDB writes a new one through a map, on a full disk a
  // SIGBUS (src/store/lmdb/lock-file.ts).
  preflight(dir, { verify: true, lockFile: { mode: PRIVATE_FILE_MODE, maxReaders: MAX_READERS } })
  const realDir = realpathSync(dir)

  let env: RootDatabase<Buffer, Buffer>
  try {
    env = lmdbJs().open<Buffer, Buffer>({
      path: dir,
      noSubdir: false, // lmdb-js takes a path whose last part has a dot ("flow.v2") for a file
      maxDbs: MAX_DBS,
      maxReaders: MAX_READERS,
      mapSize: mapSizeBytes,
      noSync: false, // durability is chosen per transaction, see COMMIT_FLAGS
      overlappingSync: false, // it would flush 'power' commits after they become visible
      keyEncoding: 'binary',
      encoding: 'binary',
      ...LMDB_PRIVATE_FILES, // data.mdb and lock.mdb: readable by this user only
    })
  } catch (err) {
    throw stateErrorFrom(err, { dir, action: 'open' })
  }
  try {
    // A SIGKILLed supervisor leaves its reader slots behind; lmdb-js also does this on open,
    // but the guarantee is ours, so do not depend on it.
    env.readerCheck()
    const { meta, seal } = checkStateLayout(env, dir)
    const stats = env.getStats() as { pageSize: number; lastPageNumber: number }
    openDirs.add(realDir)
    return { env, meta, realDir, pageSize: stats.pageSize, highWater: (stats.lastPageNumber + 1) * stats.pageSize, seal }
  } catch (err) {
    void env.close()
    throw stateErrorFrom(err, { dir, action: 'open' })
  }
}

/** Let the directory be opened again in this realm (once its environment is closed). */
export function releaseStateDir(realDir: string): void {
  // Closed cleanly: the next open need not read it all again (preflight.ts).
  if (openDirs.has(realDir)) markVerified(realDir)
  openDirs.delete(realDir)
}

/**
 * Check the layout record of an existing store, or write it into a new one. Refuses, never
 * wipes: an environment with databases but no layout record is not dora-ts state.
 */
function checkStateLayout(env: RootDatabase<Buffer, Buffer>, dir: string): { meta: Bytes; seal: ValueSeal } {
  const names = listDbNames(env)
  if (names.length > 0 && !names.includes(META_DB)) {
    throw new StateLayoutError(`cannot open the state store in ${dir}: it holds an LMDB environment that is not dora-ts state (no ${META_DB} database)`, {
      dir,
      hint: layoutHint(dir),
    })
  }
  const meta = env.openDB<Buffer, Buffer>({ name: META_DB, keyEncoding: 'binary', encoding: 'binary' })
  const layoutKey = Buffer.from(LAYOUT_KEY)
  const bytes = meta.get(layoutKey)
  if (bytes === undefined) {
    // A new store, or one whose creation was cut short between creating __meta__ and writing
    // the layout record (nothing else can be in it yet): write the record.
    const fresh = names.every((name) => name === META_DB) && meta.getCount() === 0
    if (!fresh) {
      throw new StateLayoutError(`cannot open the state store in ${dir}: its ${META_DB} database has no layout record`, { dir, hint: layoutHint(dir) })
    }
    env.transactionSync(() => meta.putSync(layoutKey, encodeLayout()), COMMIT_FLAGS.power)
    return { meta, seal: SEALED_VALUES }
  }
  const layout = decodeLayout(bytes)
  if (layout === undefined) {
    throw new StateCorruptError(`cannot open the state store in ${dir}: its layout record does not decode`, { dir, hint: corruptHint(dir) })
  }
  if (layout.format !== LAYOUT_FORMAT) {
    throw new StateLayoutError(`cannot open the state store in ${dir}: it holds "${layout.format}" data, not ${LAYOUT_FORMAT}`, { dir, hint: layoutHint(dir) })
  }
  if (layout.version < OLDEST_LAYOUT_VERSION || layout.version > LAYOUT_VERSION) {
    const by = layout.version > LAYOUT_VERSION ? 'a newer' : 'an older'
    throw new StateLayoutError(
      `cannot open the state store in ${dir}: it has layout version ${layout.version}, written by ${by} dora-ts; this one reads versions ${OLDEST_LAYOUT_VERSION} to ${LAYOUT_VERSION}`,
      { dir, hint: layoutHint(dir) },
    )
  }
  // Version 1 was written before seals: its values stay raw, read and written as they were.
  return { meta, seal: layout.version >= 2 ? SEALED_VALUES : RAW_VALUES }
}
