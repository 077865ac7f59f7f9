/**
 * Spare segment files: a consumed segment (segments.ts) is kept for the next payload to be
 * written over, instead of being unlinked. On tmpfs a new file's pages are allocated and
 * zeroed on write and freed on unlink, and that, not the copy, is most of a segment's cost on
 * the 2-core VM (measured with a CI run beside it: 64 KB written to a new file and unlinked
 * 253 us, over a spare 29 us; 1 MB 996 us against 165 us; 4 MB 4.9 ms against 0.76 ms).
 *
 * The pool is shared by the store's owner (the routing thread, which lets segments go) and the
 * operators' worker threads (which write their large outputs into the shm folder before their
 * event is committed, see runtime/operator/worker.ts): a SharedArrayBuffer of {@link SLOTS}
 * slots, each EMPTY, BUSY (one thread taking a file in or out) or FULL (a file of the recorded
 * size is there under the name the slot records), changed only by compare-and-exchange, so a
 * spare goes to one writer. A staged payload's segment (`.staged-<launch>@<n>`) keeps its name
 * in the pool, and the worker of that launch writes its next payload over it under that name:
 * no rename on either side. Any other file is renamed `.spare-<slot>` going in and renamed
 * to its writer's name coming out. A thread that dies between the two steps leaves a slot
 * BUSY: that slot is lost, nothing else (the file is swept with the folder's other
 * unreferenced files when the store opens or closes).
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
/** Int32 words: per slot [state, size, length of its name], then the total of the FULL slots' sizes. */
const SLOT_WORDS = 3
const WORDS = SLOTS * SLOT_WORDS + 1
const TOTAL = SLOTS * SLOT_WORDS
/**
 * Bytes of a spare's name each slot holds, after the words: a staged payload's name
 * (`.staged-<16 hex>@<n>`, segments.ts) fits; a longer one is renamed to `.spare-<slot>`.
 */
const NAME_BYTES = 64

/** A spare claimed: the file to write (`path`) and the size the pool recorded for it (`had`). */
export interface ClaimedSpare {
  path: string
  had: number
}

export class SegmentSpares {
  readonly buffer: SharedArrayBuffer
  readonly #words: Int32Array
  readonly #names: Uint8Array
  readonly #dir: string
  /** Where this thread's next offer starts looking for an empty slot. */
  #nextOffer = 0

  /** The pool of the shm folder `dir`; `buffer`: one another thread made (new when omitted). */
  constructor(dir: string, buffer?: SharedArrayBuffer) {
    this.#dir = dir
    const wordBytes = WORDS * Int32Array.BYTES_PER_ELEMENT
    this.buffer = buffer ?? new SharedArrayBuffer(wordBytes + SLOTS * NAME_BYTES)
    this.#words = new Int32Array(this.buffer, 0, WORDS)
    this.#names = new Uint8Array(this.buffer, wordBytes)
  }

  /**
   * Keep the file `name` of the folder (`size` bytes, no other name) as a spare; false when the
   * pool is full or the rename failed (the caller then unlinks it). With `keepName` (a staged
   * payload's name, segments.ts) the file stays as it is, no system call: its next writer
   * writes it under that name (the rename to `.spare-<slot>` and back cost ~10-20 us on each
   * side per 64 KB message, with two threads renaming in one folder); otherwise it is renamed.
   */
  offer(name: string, size: number, keepName = false): boolean {
    const w = this.#words
    if (size <= 0 || Atomics.load(w, TOTAL) + size > MAX_SPARE_BYTES || !hasRoomToSpare(this.#dir)) return false
    const kept = keepName ? Buffer.from(name, 'utf8') : undefined
    // From past the slot this thread filled last: in a burst the slots before it are full, and
    // trying each of them again cost an offer ~4 us with 500 spares waiting.
    for (let i = 0; i < SLOTS; i++) {
      const slot = (this.#nextOffer + i) % SLOTS
      if (Atomics.compareExchange(w, slot * SLOT_WORDS, EMPTY, BUSY) !== EMPTY) continue
      this.#nextOffer = (slot + 1) % SLOTS
      let stored = kept
      if (stored === undefined || stored.byteLength > NAME_BYTES) {
        const spareName = `${SPARE_PREFIX}${slot}`
        try {
          renameSync(join(this.#dir, name), join(this.#dir, spareName))
        } catch {
          Atomics.store(w, slot * SLOT_WORDS, EMPTY)
          return false
        }
        stored = Buffer.from(spareName, 'utf8')
      }
      // The name's bytes are written before the state says FULL: a thread that sees FULL (an
      // atomic read of that word) sees them.
      this.#names.set(stored, slot * NAME_BYTES)
      Atomics.store(w, slot * SLOT_WORDS + 2, stored.byteLength)
      Atomics.store(w, slot * SLOT_WORDS + 1, size)
      Atomics.add(w, TOTAL, size)
      Atomics.store(w, slot * SLOT_WORDS, FULL)
      return true
    }
    return false
  }

  /**
   * Take the spare that fits `size` best (the smallest at least as large, else the largest) for
   * a file to be written: `path` (the spare renamed there), or, when `mayKeep` says its name
   * may stay (a name of the writer's own launch), the spare where it is, no system call. Its old
   * size goes with it, which the caller truncates to `size` after writing if larger. Undefined
   * when there is none (the caller creates a new file). A spare over 4 times `size` is passed
   * over: truncating it would free most of its pages on the writer's thread.
   */
  claim(path: string, size: number, mayKeep?: (name: string) => boolean): ClaimedSpare | undefined {
    const w = this.#words
    for (;;) {
      let best = -1
      let bestSize = 0
      for (let slot = 0; slot < SLOTS; slot++) {
        if (Atomics.load(w, slot * SLOT_WORDS) !== FULL) continue
        const s = Atomics.load(w, slot * SLOT_WORDS + 1)
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
      if (Atomics.compareExchange(w, best * SLOT_WORDS, FULL, BUSY) !== FULL) continue
      const had = Atomics.load(w, best * SLOT_WORDS + 1)
      const name = this.#nameOf(best)
      Atomics.sub(w, TOTAL, had)
      let claimed: string | undefined = join(this.#dir, name)
      if (mayKeep?.(name) !== true) {
        try {
          renameSync(claimed, path)
          claimed = path
        } catch {
          claimed = undefined
        }
      }
      Atomics.store(w, best * SLOT_WORDS, EMPTY)
      if (claimed !== undefined) return { path: claimed, had }
      // Its file is gone (swept by a close): try another.
    }
  }

  /** The names of the spares waiting now (a sweep of a folder leaves them: they are the pool's). */
  names(): Set<string> {
    const out = new Set<string>()
    for (let slot = 0; slot < SLOTS; slot++) if (Atomics.load(this.#words, slot * SLOT_WORDS) === FULL) out.add(this.#nameOf(slot))
    return out
  }

  /** Remove every spare (the store closes): the pool is empty after. */
  clear(): void {
    const w = this.#words
    for (let slot = 0; slot < SLOTS; slot++) {
      if (Atomics.compareExchange(w, slot * SLOT_WORDS, FULL, BUSY) !== FULL) continue
      unlinkQuietly(join(this.#dir, this.#nameOf(slot)))
      Atomics.sub(w, TOTAL, Atomics.load(w, slot * SLOT_WORDS + 1))
      Atomics.store(w, slot * SLOT_WORDS, EMPTY)
    }
  }

  #nameOf(slot: number): string {
    const length = Atomics.load(this.#words, slot * SLOT_WORDS + 2)
    return Buffer.from(this.#names.buffer, this.#names.byteOffset + slot * NAME_BYTES, length).toString('utf8')
  }
}

/**
 * Write `data` as a file, complete when this returns: over a spare of `spares` when one fits
 * (cut to `data`'s size after), else into a new file at `path`. Returns the file written:
 * `path`, or a spare that kept its name because `mayKeep` allowed it (see
 * {@link SegmentSpares.claim}). A file already at `path` (an attempt that never committed) is
 * replaced either way. Throws when it cannot be written (a full tmpfs), the file removed.
 */
export function writeOverSpare(spares: SegmentSpares | undefined, path: string, data: Uint8Array, mayKeep?: (name: string) => boolean): string {
  const spare = spares?.claim(path, data.byteLength, mayKeep)
  const target = spare?.path ?? path
  try {
    const fd = openSync(target, spare === undefined ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_WRONLY, 0o600)
    try {
      for (let written = 0; written < data.byteLength;) written += writeSync(fd, data, written, data.byteLength - written, written)
      // Whatever the spare held past this payload goes (always: the size the pool recorded is
      // not checked against the file, and a reader checks the file's size against the entry's).
      if (spare !== undefined) ftruncateSync(fd, data.byteLength)
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    // Half written, under a name nothing references: not left for the next sweep.
    unlinkQuietly(target)
    throw err
  }
  return target
}
