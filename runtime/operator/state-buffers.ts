/**
 * Buffers of large state values go round between an operator's worker and its host instead of
 * being allocated for every event: the worker seals a saved value into a buffer of its own and
 * transfers it with `done`; once the event committed (LMDB copied the bytes), the host transfers
 * that buffer back with its next post, and the worker seals the next value of that size into it.
 *
 * Why: every transferred buffer that the host drops is external memory its isolate must collect.
 * A self-loop saving 64 KiB per event ran 13 full mark-compacts of the routing thread's heap in
 * 4,800 events ("external memory pressure"), against 1 without state: ~20-28 us of the routing
 * thread per event, on the thread that commits and routes every operator. With the buffers going
 * round, none (measured in a bare two-thread loop: 18 mark-compacts in 20,000 64 KiB messages
 * dropped, 0 returned).
 *
 * Small values (under MIN_TRANSFER_BYTES) are copied by the post, not transferred: they never
 * take part. Runs on both sides; imports nothing but types and the seal.
 *
 * @module
 */
import { ownsWholeBuffer } from '../../src/bytes.js'
import { SEAL_BYTES, sealInto } from '../../src/store/lmdb/checksum.js'
import { MIN_TRANSFER_BYTES, type StateWrite } from './messages.js'

/** At most this many buffers wait on either side (beyond them, they are left to the GC). */
export const MAX_RECYCLED_BUFFERS = 8
/** Nor more than this many bytes of them: a 64 MiB value is not worth pinning. */
export const MAX_RECYCLED_BYTES = 8 * 1024 * 1024

/** Whether one more buffer of `length` bytes may wait beside `count` others of `bytes` in all (either side's bound). */
export function mayKeepRecycled(count: number, bytes: number, length: number): boolean {
  return count < MAX_RECYCLED_BUFFERS && bytes + length <= MAX_RECYCLED_BYTES
}

/**
 * The buffers a committed event's writes may hand back to their worker: sealed values that came
 * transferred (MIN_TRANSFER_BYTES or more), each spanning its whole buffer.
 */
export function recyclableBuffers(writes: readonly StateWrite[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = []
  for (const write of writes) {
    if (!('value' in write) || write.sealed !== true) continue
    const { value } = write
    if (value.byteLength >= MIN_TRANSFER_BYTES && ownsWholeBuffer(value)) out.push(value.buffer)
  }
  return out
}

/** The worker's pool of buffers handed back by its host, by length. */
export class RecycledBuffers {
  readonly #byLength = new Map<number, ArrayBuffer[]>()
  #count = 0
  #bytes = 0

  /** Keep `buffers` (handed back with a post) for values of their length. */
  give(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (!mayKeepRecycled(this.#count, this.#bytes, buffer.byteLength)) return
      let list = this.#byLength.get(buffer.byteLength)
      if (list === undefined) this.#byLength.set(buffer.byteLength, (list = []))
      list.push(buffer)
      this.#count++
      this.#bytes += buffer.byteLength
    }
  }

  /** `value` followed by its seal, in a buffer of its own: a recycled one when one of that length waits. */
  seal(key: string, value: Uint8Array, fresh: (key: string, value: Uint8Array) => Buffer): Buffer {
    const length = value.byteLength + SEAL_BYTES
    const buffer = length >= MIN_TRANSFER_BYTES ? this.#byLength.get(length)?.pop() : undefined
    if (buffer === undefined) return fresh(key, value)
    this.#count--
    this.#bytes -= length
    return sealInto(Buffer.from(buffer), key, value)
  }
}
