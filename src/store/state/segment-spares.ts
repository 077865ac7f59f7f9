/**
 * Spare segment files: a consumed segment (segments.ts) is kept, renamed, for the next payload
 * to be written over, instead of being unlinked. On tmpfs a new file's pages are allocated and
 * zeroed on write and freed on unlink, and that, not the copy, is most of a segment's cost on
 * the 2-core VM (measured with a CI run beside it: 64 KB written to a new file and unlinked
 * 253 us, over a spare 29 us; 1 MB 996 us against 165 us; 4 MB 4.9 ms against 0.76 ms).
 *
 * The pool is shared by the store's owner (the routing thread, which lets segments go) and the
 * operators' worker threads (which write their large outputs into the shm folder before their
 * event is committed, see runtime/operator/worker.ts): a SharedArrayBuffer of {@link SLOTS}
 * slots, each EMPTY, BUSY (one thread renaming a file in or out) or FULL (a file
 * `.spare-<slot>` of the recorded size is there), changed only by compare-and-exchange, so a
 * spare goes to one writer. A thread that dies between the two steps leaves a slot BUSY: that
 * slot is lost, nothing else (the file is swept with the folder's other unreferenced files
 * when the store opens or closes).
 *
 * Only a file whose only name is the segment's is kept (a custom node's segment adopted with a
 * hard link may still be read through its run's name), and only while the spares hold at most
 * {@link MAX_SPARE_BYTES} and a quarter of the file system (or 1 GiB) is free (hasRoomToSpare): tmpfs is
 * memory, and on a small one the spares' pages are the room other writers need.
 *
 * No native addon and nothing of the store is imported here: operator workers load this module.
 *
 * @module
 */
import { closeSync, constants, ftruncateSync, openSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { unlinkQuietly } from '../../unlink-quietly.js'
import { hasRoomToSpare } from '../../no-room.js'

/** Prefix of a spare's name: no `@`, so never a segment's (the sweep on open removes spares too). */
export const SPARE_PREFIX = '.spare-'

/**
 * Spare files kept at most: enough for a burst (an operator that sends 500 messages of 64 KB in
 * one event lets 500 files go at once, and its next event writes 500).
 */
export const SLOTS = 512

/** Bytes the spares may hold together (tmpfs is memory): a store keeps at most this much idle. */
export const MAX_SPARE_BYTES = 32 * 1024 * 1024

const EMPTY = 0
const BUSY = 1
const FULL = 2
/** Int32 words: per slot [state, size], then the total of the FULL slots' sizes. */
const WORDS = SLOTS * 2 + 1
const TOTAL = SLOTS * 2

export class SegmentSpares {
  readonly buffer: SharedArrayBuffer
  readonly #words: Int32Array
  readonly #dir: string

  /** The pool of the shm folder `dir`; `buffer`: one another thread made (new when omitted). */
  constructor(dir: string, buffer?: SharedArrayBuffer) {
    this.#dir = dir
    this.buffer = buffer ?? new SharedArrayBuffer(WORDS * Int32Array.BYTES_PER_ELEMENT)
    this.#words = new Int32Array(this.buffer)
  }

  /**
   * Keep the file at `path` (`size` bytes, no other name) as a spare; false when the pool is
   * full or the rename failed (the caller then unlinks it).
   */
  offer(path: string, size: number): boolean {
    const w = this.#words
    if (size <= 0 || Atomics.load(w, TOTAL) + size > MAX_SPARE_BYTES || !hasRoomToSpare(this.#dir)) return false
    for (let slot = 0; slot < SLOTS; slot++) {
      if (Atomics.compareExchange(w, slot * 2, EMPTY, BUSY) !== EMPTY) continue
      try {
        renameSync(path, this.#path(slot))
      } catch {
        Atomics.store(w, slot * 2, EMPTY)
        return false
      }
      Atomics.store(w, slot * 2 + 1, size)
      Atomics.add(w, TOTAL, size)
      Atomics.store(w, slot * 2, FULL)
      return true
    }
    return false
  }

  /**
   * Rename the spare that fits `size` best to `path` (the smallest at least as large, else the
   * largest): its old size, which the caller truncates to `size` after writing if larger; or
   * undefined when there is none (the caller creates a new file). A spare over 4 times `size`
   * is passed over: truncating it would free most of its pages on the writer's thread.
   */
  claim(path: string, size: number): number | undefined {
    const w = this.#words
    for (;;) {
      let best = -1
      let bestSize = 0
      for (let slot = 0; slot < SLOTS; slot++) {
        if (Atomics.load(w, slot * 2) !== FULL) continue
        const s = Atomics.load(w, slot * 2 + 1)
        if (s > 4 * size) continue
        const better = best === -1 || (bestSize < size ? s > bestSize : s >= size && s < bestSize)
        if (better) {
          best = slot
          bestSize = s
          // Close enough (payloads of a stream are mostly one size): no need to look further.
          if (s >= size && s - size <= size / 4) break
        }
      }
      if (best === -1) return undefined
      // Another thread took it meanwhile: look again.
      if (Atomics.compareExchange(w, best * 2, FULL, BUSY) !== FULL) continue
      const had = Atomics.load(w, best * 2 + 1)
      Atomics.sub(w, TOTAL, had)
      let renamed = true
      try {
        renameSync(this.#path(best), path)
      } catch {
        renamed = false
      }
      Atomics.store(w, best * 2, EMPTY)
      if (renamed) return had
      // Its file is gone (swept by a close): try another.
    }
  }

  /** Remove every spare (the store closes): the pool is empty after. */
  clear(): void {
    const w = this.#words
    for (let slot = 0; slot < SLOTS; slot++) {
      if (Atomics.compareExchange(w, slot * 2, FULL, BUSY) !== FULL) continue
      unlinkQuietly(this.#path(slot))
      Atomics.sub(w, TOTAL, Atomics.load(w, slot * 2 + 1))
      Atomics.store(w, slot * 2, EMPTY)
    }
  }

  #path(slot: number): string {
    return join(this.#dir, `${SPARE_PREFIX}${slot}`)
  }
}

/**
 * Write `data` as the file `path`, complete when this returns: over a spare of `spares` when
 * one fits (cut to `data`'s size after), else into a new file. A file already at `path`
 * (an attempt that never committed) is replaced either way.
 */
export function writeOverSpare(spares: SegmentSpares | undefined, path: string, data: Uint8Array): void {
  const had = spares?.claim(path, data.byteLength)
  const fd = openSync(path, had === undefined ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_WRONLY, 0o600)
  try {
    for (let written = 0; written < data.byteLength;) written += writeSync(fd, data, written, data.byteLength - written, written)
    // Whatever the spare held past this payload goes (always: the size the pool recorded is
    // not checked against the file, and a reader checks the file's size against the entry's).
    if (had !== undefined) ftruncateSync(fd, data.byteLength)
  } finally {
    closeSync(fd)
  }
}
