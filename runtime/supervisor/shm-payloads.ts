/**
 * The supervisor's bookkeeping of shared-memory payloads (issue 15). A node writes a large
 * payload into a segment file of the run's shm directory and sends its name; from then on the
 * supervisor owns the file:
 *
 * - It counts the custom-node deliveries that hold it: one per receiver queue it entered, plus
 *   one while it is being routed. A delivery lets go when its node consumed it (asked for the
 *   batch after it), when drop_oldest displaced it, never before: a node that dies holding it
 *   gets it again, from the same segment. The last one to let go deletes the file.
 * - An operator receiver (a worker thread, not a process) gets the bytes themselves, read once
 *   per segment at routing time, so the file's life does not depend on operators.
 * - The state store may hold a second name of the file (a hard link it made to keep the
 *   message durable: src/store/state/segments.ts). Such a file is never handed back to its
 *   writer while the store holds it (the writer would overwrite the store's copy): the last
 *   holder here parks it, and it goes back when the store says its own name is gone.
 * - What a node wrote and never announced (killed between the write and the send) is swept
 *   when its process ends; whatever is left at the end of the run goes with the directory (and
 *   the reaper removes the directory if the supervisor dies).
 */
import { readFileSync, renameSync, statSync, unlinkSync, readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { DeliveredEvent, InputDelivery, MessageHeader } from '../../src/events.js'
import type { SharedPayload } from '../../src/protocol/node/messages.js'
import { FREE_SUFFIX, isFreedDirectSegmentOf, isSegmentOf, segmentPrefix } from '../../src/transport/shm-dir.js'

/** Free segment files kept per writer node for reuse (see {@link ShmPayloads.delete}). */
export const POOL_PER_NODE = 8
import { errorMessage } from '../../src/errors.js'

const NO_BYTES = new Uint8Array(0)

/** One segment, shared by every delivery of one output. */
export class SharedSegment implements SharedPayload {
  readonly segment: string
  readonly offset: number
  readonly length: number
  readonly #owner: ShmPayloads
  #refs = 1
  #bytes: Uint8Array | undefined

  constructor(owner: ShmPayloads, shm: SharedPayload) {
    this.#owner = owner
    this.segment = shm.segment
    this.offset = shm.offset
    this.length = shm.length
  }

  /** The file's path in the run's shm directory. */
  get path(): string {
    return join(this.#owner.dir, this.segment)
  }

  /** The payload bytes, read once (for operators, and anything else that needs them in this process). */
  bytes(): Uint8Array {
    if (this.#bytes === undefined) {
      const file = readFileSync(join(this.#owner.dir, this.segment))
      this.#bytes = file.subarray(this.offset, this.offset + this.length)
    }
    return this.#bytes
  }

  retain(): void {
    this.#refs++
  }

  /** One holder is done; the last one deletes the file. */
  release(): void {
    if (this.#refs <= 0) return
    if (--this.#refs === 0) {
      this.#bytes = undefined
      this.#owner.delete(this)
    }
  }
}

export class ShmPayloads {
  readonly dir: string
  /** Payloads of at least this many bytes should come through shared memory (told to nodes at registration). */
  readonly threshold: number
  /** Segments announced and not yet deleted, by name. */
  readonly #live = new Map<string, SharedSegment>()
  /** Per writer node, the free files handed back to it, oldest first (some may have been taken back). */
  readonly #free = new Map<string, string[]>()
  /** Segments every holder let go of while the state store still held a link (see {@link delete}). */
  readonly #parked = new Set<string>()
  readonly #warn: (text: string) => void
  /** Counts for tests and diagnostics. */
  readonly stats = { accepted: 0, deleted: 0, swept: 0, refused: 0 }

  constructor(dir: string, threshold: number, warn: (text: string) => void) {
    this.dir = dir
    this.threshold = threshold
    this.#warn = warn
  }

  /** Segments alive now. */
  get live(): number {
    return this.#live.size
  }

  /**
   * A node announced a segment: check that the name is one of its own and the file holds what
   * it says, then hold it for the routing. Returns why it is refused otherwise (the message is
   * then dropped, and the file, if it is the node's, deleted).
   */
  accept(nodeId: string, shm: SharedPayload): SharedSegment | string {
    if (!isSegmentOf(shm.segment, nodeId) || this.#live.has(shm.segment)) {
      this.stats.refused++
      return `a shared-memory segment name that is not one of its own`
    }
    try {
      const size = statSync(join(this.dir, shm.segment)).size
      if (size < shm.offset + shm.length) throw new Error(`it holds ${size} bytes, not ${shm.offset + shm.length}`)
    } catch (err) {
      this.stats.refused++
      this.#unlink(shm.segment)
      return `an unreadable shared-memory segment ${shm.segment} (${errorMessage(err)})`
    }
    const segment = new SharedSegment(this, shm)
    this.#live.set(shm.segment, segment)
    this.stats.accepted++
    return segment
  }

  /**
   * The delivery of `segment` to one receiver input. A custom node gets the segment itself (and
   * holds it until consumed); any other receiver the bytes. `data` of a node's delivery is read
   * only if something in this process asks for it (e.g. a copy kept for redelivery).
   */
  delivery(segment: SharedSegment, id: string, header: MessageHeader, toCustomNode: boolean): InputDelivery {
    if (!toCustomNode) return { type: 'input', id, header, data: segment.bytes() }
    segment.retain()
    const event: InputDelivery = { type: 'input', id, header, data: NO_BYTES, shm: segment }
    // An own enumerable getter, so a spread copy (redelivery's) still carries the bytes.
    return Object.defineProperty(event, 'data', { enumerable: true, configurable: true, get: () => segment.bytes() })
  }

  /** These deliveries are done with (consumed or dropped): let go of their segments. */
  release(events: readonly DeliveredEvent[]): void {
    for (const event of events) if (event.type === 'input' && event.shm instanceof SharedSegment) event.shm.release()
  }

  /**
   * The process of `nodeId` ended: delete the segments it wrote but never announced (killed
   * between writing one and sending it; announced ones stay until their receivers are done),
   * those its best-effort senders sent it and it never read (named after it), and those its
   * best-effort receivers freed for it to reuse (it never will: a new life starts a new pool).
   */
  sweep(nodeId: string): void {
    const prefix = segmentPrefix(nodeId)
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return
    }
    this.#free.delete(nodeId)
    for (const name of names) {
      if ((!name.startsWith(prefix) || this.#live.has(name)) && !isFreedDirectSegmentOf(name, nodeId)) continue
      this.#parked.delete(name)
      this.#unlink(name)
      this.stats.swept++
    }
  }

  /**
   * Called by the last holder of a segment. The file is not deleted but handed back to its
   * writer for reuse (renamed to `<name>.free`, which the writer's SDK renames to its next
   * name): on tmpfs, writing into pages that already exist is 2-4x cheaper than allocating
   * new ones (bench/RESULTS.md). At most {@link POOL_PER_NODE} free files per node are kept;
   * the oldest beyond that is deleted (if its writer took it back meanwhile, the delete finds
   * nothing: both are atomic renames/unlinks of one name).
   */
  delete(segment: SharedSegment): void {
    if (this.#live.get(segment.segment) !== segment) return
    this.#live.delete(segment.segment)
    this.stats.deleted++
    let links: number
    try {
      links = statSync(join(this.dir, segment.segment)).nlink
    } catch {
      return
    }
    if (links > 1) {
      // The store still holds it (a link of its own, until the receivers that consume it from
      // the outbox committed: an operator's commit comes after this router hold let go). The
      // writer must not write over it yet: parked under its name, handed back when the store
      // says its own name is gone (storeLetGo), so the writer still reuses its pages.
      this.#parked.add(segment.segment)
      return
    }
    this.#handBack(segment.segment)
  }

  /**
   * The state store removed its name of the file adopted from `origin` (a path in this folder):
   * a segment parked for it goes back to its writer now. The store only ever removes its own
   * name, so the count of 1 that {@link #handBack} relies on holds.
   */
  storeLetGo(origin: string): void {
    const name = basename(origin)
    if (dirname(origin) !== this.dir || !this.#parked.delete(name)) return
    this.#handBack(name)
  }

  /** Rename segment `name`, which only this folder names now, to `<name>.free` for its writer (see {@link delete}). */
  #handBack(name: string): void {
    const owner = name.slice(0, name.indexOf('@'))
    const free = `${name}${FREE_SUFFIX}`
    try {
      renameSync(join(this.dir, name), join(this.dir, free))
    } catch {
      this.#unlink(name)
      return
    }
    let pool = this.#free.get(owner)
    if (pool === undefined) this.#free.set(owner, (pool = []))
    pool.push(free)
    while (pool.length > POOL_PER_NODE) this.#unlink(pool.shift()!)
  }

  #unlink(name: string): void {
    try {
      unlinkSync(join(this.dir, name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#warn(`could not delete shared-memory segment ${name}: ${errorMessage(err)}`)
    }
  }
}
