/**
 * The KVS's size limits: the map size a store is opened with, the largest value, and the
 * check before each write that it cannot push the data file past the map size.
 *
 * lmdb-js grows the map on demand, so LMDB would never report MDB_MAP_FULL by itself: the
 * store enforces the limit, from an upper estimate of what each write adds and a measurement
 * of the data file now and then (other processes write too).
 *
 * @module
 */
import { asBuffer } from '../../bytes.js'
import { describeKvsAction, kvsMapFullHint, KvsBadValueError, KvsMapFullError, KvsOpenError, KvsValueTooLargeError, type KvsErrorContext } from './errors.js'
import type { SharedEnv } from './environment.js'
import { usedBytes } from '../lmdb/used-pages.js'

/** Default size limit of the KVS: 1 GiB (a sparse mapping: costs nothing until used). */
export const DEFAULT_KVS_MAP_SIZE_BYTES = 1024 * 1024 * 1024
/** Smallest accepted map size. */
export const MIN_KVS_MAP_SIZE_BYTES = 1024 * 1024
/** Largest value: 64 MiB (and never more than fits in the map). Share bigger blobs by path. */
export const MAX_KVS_VALUE_BYTES = 64 * 1024 * 1024

// Upper estimate of what one write adds to the file beyond its key and value: LMDB copies the
// root-to-leaf path of each database it touches (namespace, log, __meta__, main, free list).
const WRITE_SLACK_PAGES = 16
const NODE_OVERHEAD_BYTES = 16
/** Measure the data file at least this often, since other processes write too. */
const MEASURE_EVERY_WRITES = 256
const MEASURE_EVERY_MS = 100

/** Throw DORA_KVS_OPEN unless `mapSizeBytes` is an acceptable map size for the KVS in `dir`. */
export function checkKvsMapSize(mapSizeBytes: number, dir: string): void {
  if (!Number.isSafeInteger(mapSizeBytes) || mapSizeBytes < MIN_KVS_MAP_SIZE_BYTES) {
    throw new KvsOpenError(
      `${describeKvsAction({ dir, action: 'open' })}: the map size must be an integer of at least ${MIN_KVS_MAP_SIZE_BYTES} bytes, got ${mapSizeBytes}`,
      {
        dir,
        hint: `give the KVS a map size of ${MIN_KVS_MAP_SIZE_BYTES} bytes or more`,
      },
    )
  }
}

/**
 * Check that `value` is bytes a KVS of `mapSizeBytes` (with pages of `pageSize`) can hold; the
 * value as a Buffer view (no copy).
 */
export function checkKvsValue(value: unknown, pageSize: number, mapSizeBytes: number, context: KvsErrorContext): Buffer {
  if (!(value instanceof Uint8Array)) {
    const what = value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
    throw new KvsBadValueError(
      `${describeKvsAction(context)}: the value is a ${what}, not a Uint8Array`,
      errorOptions(context, 'encode values to bytes first, or use writeJson()/writeTyped()'),
    )
  }
  // Stored twice (the namespace and its change log): half the map is the most a value can take.
  const limit = Math.min(MAX_KVS_VALUE_BYTES, Math.floor((mapSizeBytes - WRITE_SLACK_PAGES * pageSize) / 2))
  if (value.byteLength > limit) {
    const why =
      value.byteLength > MAX_KVS_VALUE_BYTES ? `the limit is ${MAX_KVS_VALUE_BYTES} bytes (64 MiB)` : `a KVS of ${mapSizeBytes} bytes can never hold it`
    throw new KvsValueTooLargeError(
      `${describeKvsAction(context)}: the value is ${value.byteLength} bytes, ${why}`,
      errorOptions(context, 'split the value across several keys, or share large data by file path and keep the path in the KVS'),
    )
  }
  return asBuffer(value)
}

/**
 * Make room for a write of `bytes` (key and value) or refuse it with DORA_KVS_MAP_FULL.
 * Measuring the data file costs a few microseconds, so it is done when the last measurement
 * plus this realm's writes since could exceed the limit, and at least every 256 writes or
 * 100 ms. The file never shrinks, but LMDB reuses the pages that deletes free: so when the
 * file is near the limit, the pages actually in use decide, and a full KVS takes writes again
 * once keys are deleted.
 */
export function reserveRoom(shared: SharedEnv, bytes: number, mapSizeBytes: number, context: KvsErrorContext): void {
  const growth = bytes + NODE_OVERHEAD_BYTES * 2 + WRITE_SLACK_PAGES * shared.pageSize
  const now = performance.now()
  if (
    shared.highWater + shared.growth + growth > mapSizeBytes ||
    shared.writesSinceMeasure >= MEASURE_EVERY_WRITES ||
    now - shared.measuredAt >= MEASURE_EVERY_MS
  ) {
    const stats = shared.env.getStats() as { lastPageNumber: number }
    shared.highWater = (stats.lastPageNumber + 1) * shared.pageSize
    shared.growth = 0
    shared.writesSinceMeasure = 0
    shared.measuredAt = now
    if (shared.highWater + growth > mapSizeBytes) {
      const used = usedBytes(shared.env, shared.pageSize) ?? shared.highWater
      if (used + growth > mapSizeBytes) {
        throw new KvsMapFullError(
          `${describeKvsAction(context)}: the KVS is full (${used} of ${mapSizeBytes} bytes in use, this write needs up to ${growth} more)`,
          errorOptions(context, kvsMapFullHint(mapSizeBytes)),
        )
      }
      // Room in freed pages: measure again at the next write.
      shared.measuredAt = 0
    }
  }
  shared.growth += growth
}

function errorOptions(context: KvsErrorContext, hint: string): { dir: string; namespace: string | undefined; key: string | undefined; hint: string } {
  return { dir: context.dir, namespace: context.namespace, key: context.key, hint }
}
