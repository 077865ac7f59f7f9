/**
 * The outbox writes of one LMDB write transaction, with their segment files (segments.ts):
 * {@link OutboxTxn.prepare} writes or adopts the segments BEFORE the transaction, the
 * transaction then puts entries that reference them and removes consumed ones (noting which
 * segments those referenced), and only once it committed does {@link OutboxTxn.committed}
 * count the new references and unlink the segments no entry references any more. A failed
 * transaction ({@link OutboxTxn.failed}) removes the files it prepared and nothing else.
 *
 * @module
 */
import { readFileSync, rmSync } from 'node:fs'
import type { Bytes } from './environment.js'
import { dataKey, segmentKey, senderAndOrder, type OutboxPut } from './outbox.js'
import { decodeSegmentRef, encodeSegmentRef, segmentName, type SegmentFiles, type SegmentRef } from './segments.js'
import type { ValueSeal } from '../lmdb/checksum.js'

/** How the payloads of one transaction's puts are kept. */
export interface SegmentPolicy {
  /** The store's segment files (read even when it cannot write new ones: {@link writable}). */
  files: SegmentFiles
  /** Whether new segments can be made (a shm directory, a threshold above 0). */
  writable: boolean
  /** Payloads of at least this many bytes become segments (operators'; a node's file always is). */
  threshold: number
}

/** Where one put's payload goes: a segment, or bytes under its data key. */
type Placement = { ref: SegmentRef; value: Buffer } | { data: Buffer }

/** A payload placed as the segment file `name` of `size` bytes, with its encoded reference. */
function segmentPlacement(name: string, size: number): Placement {
  const ref = { name, size }
  return { ref, value: encodeSegmentRef(ref) }
}

export class OutboxTxn {
  readonly #policy: SegmentPolicy
  /** How the store keeps values (every put is sealed with it, every reference read opened). */
  readonly #seal: ValueSeal
  /** Placement of each payload, by the buffer or file path the puts of one message share. */
  readonly #placed = new Map<Buffer | string, Placement>()
  /** Segments this transaction wrote or adopted (removed again if it fails). */
  readonly #prepared = new Set<string>()
  readonly #retained: string[] = []
  readonly #released: string[] = []

  constructor(policy: SegmentPolicy, seal: ValueSeal) {
    this.#policy = policy
    this.#seal = seal
  }

  /**
   * Before the transaction: write (operator payloads from the threshold up) or adopt (custom
   * node files) the segments of `puts`, durable entries of `durable` ('power': payloads stay
   * in LMDB, fsync'ed with the commit). Throws when a file cannot be written or read.
   */
  prepare(puts: readonly OutboxPut[], power: boolean): void {
    const files = power || !this.#policy.writable ? undefined : this.#policy.files
    for (const put of puts) {
      const source = put.file?.path ?? put.data
      if (source === undefined || this.#placed.has(source)) continue
      if (put.file?.owned === true) {
        // Staged by the operator's worker: a segment under the name it has.
        const staged = files?.take(put.file.path, put.file.size)
        if (staged !== undefined) {
          put.file.segment = staged
          this.#prepared.add(staged)
          this.#placed.set(source, segmentPlacement(staged, put.file.size))
        } else {
          // Not moved ('power', another folder): the bytes, then the staged file goes.
          this.#placed.set(source, { data: readFileSync(put.file.path).subarray(0, put.file.size) })
          rmSync(put.file.path, { force: true })
        }
        continue
      }
      const named = senderAndOrder(put.key)
      const name = named === undefined ? undefined : segmentName(named.sender, named.order)
      if (put.file !== undefined) {
        if (files !== undefined && name !== undefined && files.adopt(name, put.file.path, put.file.size)) {
          this.#prepared.add(name)
          this.#placed.set(source, segmentPlacement(name, put.file.size))
        } else {
          // No store segments here ('power', no tmpfs, another file system): the bytes, as before.
          this.#placed.set(source, { data: readFileSync(put.file.path).subarray(0, put.file.size) })
        }
        continue
      }
      const data = put.data as Buffer
      if (files !== undefined && name !== undefined && data.byteLength >= this.#policy.threshold && this.#write(files, name, data)) {
        this.#placed.set(source, segmentPlacement(name, data.byteLength))
      } else {
        this.#placed.set(source, { data })
      }
    }
  }

  /** Write one segment; false when it cannot be (tmpfs full): the bytes then go into LMDB. */
  #write(files: SegmentFiles, name: string, data: Buffer): boolean {
    this.#prepared.add(name)
    try {
      files.write(name, data)
      return true
    } catch {
      return false
    }
  }

  /** Inside the transaction: add one entry (its payload placed by {@link prepare}). */
  put(db: Bytes, put: OutboxPut): void {
    // The key may be there already (written again after a crash): its old segment is let go.
    if (this.#tracking()) this.#noteRemoved(db, put.key)
    this.#putSealed(db, put.key, put.value)
    const source = put.file?.path ?? put.data
    const placed = source === undefined ? undefined : this.#placed.get(source)
    if (placed === undefined) {
      if (put.data !== undefined) this.#putSealed(db, dataKey(put.key), put.data)
      return
    }
    if ('data' in placed) {
      this.#putSealed(db, dataKey(put.key), placed.data)
      db.removeSync(segmentKey(put.key))
      return
    }
    this.#putSealed(db, segmentKey(put.key), placed.value)
    db.removeSync(dataKey(put.key))
    this.#retained.push(placed.ref.name)
  }

  /**
   * Inside the transaction: remove an entry and its payload, wherever it is (the caller need
   * not know: removing a missing key is one B-tree lookup).
   */
  remove(db: Bytes, key: Buffer): void {
    db.removeSync(key)
    db.removeSync(dataKey(key))
    // Without any segment referenced (small messages only), no lookup for one.
    if (!this.#tracking()) return
    this.#noteRemoved(db, key)
    db.removeSync(segmentKey(key))
  }

  /**
   * Inside the transaction: remove an entry whose payload is behind its header (see
   * OutboxChange.removeInline): one delete instead of {@link remove}'s two or three, and no
   * payload key to build (the consuming side of a small-message stream).
   */
  removeInline(db: Bytes, key: Buffer): void {
    db.removeSync(key)
  }

  /**
   * Inside the transaction: remove an entry known to reference segment `name` (see
   * OutboxChange.removeSegment): two deletes, where {@link remove} makes three and reads the
   * reference (a get, its checksum and its JSON: ~8 us of the routing thread per 64 KB message).
   */
  removeSegment(db: Bytes, key: Buffer, name: string): void {
    db.removeSync(key)
    db.removeSync(segmentKey(key))
    this.#released.push(name)
  }

  /** Whether any entry may reference a segment: one committed, or one put in this transaction. */
  #tracking(): boolean {
    return this.#policy.files.referenced.size > 0 || this.#retained.length > 0
  }

  /**
   * The transaction committed: count the new references, unlink what nothing references;
   * `later`: on libuv's thread pool rather than now (see SegmentFiles.release).
   */
  committed(later = false): void {
    const files = this.#policy.files
    for (const name of this.#retained) files.retain(name)
    for (const name of this.#released) files.release(name, later)
    // Prepared for a put the transaction did not make after all (a failed event of the group).
    for (const name of this.#prepared) files.unlinkIfUnreferenced(name, later)
  }

  /** The transaction failed (nothing of it was written): remove the files it prepared. */
  failed(): void {
    for (const name of this.#prepared) this.#policy.files.unlinkIfUnreferenced(name)
  }

  #putSealed(db: Bytes, key: Buffer, value: Buffer): void {
    db.putSync(key, this.#seal.sealTransient(key, value))
  }

  #noteRemoved(db: Bytes, key: Buffer): void {
    // get(), not getBinaryFast(): that one's buffer cannot even be copied with Buffer.from.
    const refKey = segmentKey(key)
    const ref = db.get(refKey)
    if (ref === undefined) return
    try {
      this.#released.push(decodeSegmentRef(this.#seal.open(refKey, ref, 'a segment reference')).name)
    } catch {
      // A damaged reference: the entry goes; its file, if any, is swept on the next open.
    }
  }
}
