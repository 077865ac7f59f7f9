/**
 * The size budget of a state store: refuses a commit that could push the data file past the
 * map size (DORA_STATE_MAP_FULL), and, under a writable map, gives the file its disk blocks
 * before the commits that need them (data-file.ts), so that a full disk is DORA_STATE_DISK_FULL
 * and never a SIGBUS.
 *
 * Both need the file's high-water mark (the end of its last used page); measuring it costs a
 * few microseconds, so it is measured only when the last measurement plus the upper estimates
 * of the commits since could cross a line (the limit, or the end of the blocks given).
 * Conservative: it assumes a commit needs fresh pages, although LMDB may reuse freed ones.
 *
 * @module
 */
import type { RootDatabase } from 'lmdb'
import { usedBytes } from '../lmdb/used-pages.js'
import { BLOCK_SLACK_BYTES, type DataFileBlocks } from './data-file.js'
import { mapFullHint, StateMapFullError, stateErrorFrom } from './errors.js'

/** See the module comment. lmdb-js grows the map on demand, so LMDB never says MDB_MAP_FULL itself. */
export class SizeBudget {
  readonly #mapSizeBytes: number
  readonly #pageSize: number
  readonly #blocks: DataFileBlocks | undefined
  /** Data file size (bytes of pages up to the last used one) when last measured. */
  #highWater: number
  /** Upper estimate of what the commits since that measurement added. */
  #growth = 0
  /** The part of #growth reserved by commits not yet made (a group waiting for its turn). */
  #pending = 0

  /** `blocks`: the data file's blocks, under a writable map (data-file.ts). */
  constructor(mapSizeBytes: number, pageSize: number, highWater: number, blocks?: DataFileBlocks) {
    this.#mapSizeBytes = mapSizeBytes
    this.#pageSize = pageSize
    this.#highWater = highWater
    this.#blocks = blocks
  }

  /**
   * Count `growth` more bytes, or throw DORA_STATE_MAP_FULL when the file (measured with
   * `env`) cannot take them, DORA_STATE_DISK_FULL when its disk cannot. `growth` 0 (a commit
   * that only deletes): never refused, even when full.
   */
  reserve(env: RootDatabase<Buffer, Buffer>, growth: number, dir: string, operatorKey: string): void {
    if (growth === 0) {
      // Deletes copy a few pages too: keep the slack, but a full disk does not refuse them.
      try {
        this.#cover(env)
      } catch {
        // The slack past the estimate is what they use.
      }
      return
    }
    if (this.#highWater + this.#growth + growth > this.#mapSizeBytes) {
      this.#measure(env)
      if (this.#highWater + this.#pending + growth > this.#mapSizeBytes) {
        // The file never shrinks, but LMDB reuses the pages deletes free: near the limit, the
        // pages in use decide, so a full store takes writes again once state is deleted.
        const used = usedBytes(env, this.#pageSize) ?? this.#highWater
        if (used + growth > this.#mapSizeBytes) {
          throw new StateMapFullError(
            `cannot commit the state of operator "${operatorKey}" in ${dir}: the store is full (${used} of ${this.#mapSizeBytes} bytes used, this event needs up to ${growth} more)`,
            { dir, operator: operatorKey, hint: mapFullHint(this.#mapSizeBytes) },
          )
        }
      }
    }
    this.#growth += growth
    this.#pending += growth
    try {
      this.#cover(env)
    } catch (err) {
      this.#growth -= growth
      this.#pending -= growth
      throw stateErrorFrom(err, { dir, action: 'commit', operator: operatorKey, mapSizeBytes: this.#mapSizeBytes })
    }
  }

  /** A write transaction ended (committed or not): what was reserved for it is no longer pending. */
  settled(): void {
    this.#pending = 0
  }

  /** Under a writable map: blocks for everything the estimate allows, half the slack ahead. */
  #cover(env: RootDatabase<Buffer, Buffer>): void {
    const blocks = this.#blocks
    if (blocks === undefined || this.#highWater + this.#growth + BLOCK_SLACK_BYTES / 2 <= blocks.allocatedTo) return
    this.#measure(env)
    blocks.ensure(this.#highWater, this.#highWater + this.#growth)
  }

  /** Measure the high-water mark; the estimate keeps only the commits not yet made. */
  #measure(env: RootDatabase<Buffer, Buffer>): void {
    const stats = env.getStats() as { lastPageNumber: number }
    this.#highWater = (stats.lastPageNumber + 1) * this.#pageSize
    this.#growth = this.#pending
  }
}
