/**
 * Segment files: large outbox payloads kept durable as files the state store owns, instead of
 * bytes in LMDB (issues 11 and 15). Writing 500 x 64 KB into one LMDB commit costs 1.0-1.4 s
 * on the 2-core VM (overflow-page allocation); writing them as files on tmpfs costs tens of
 * milliseconds, and a custom node's shared-memory segment is not copied at all: the store
 * hard-links it (link(2), O(1)) into its own directory.
 *
 * Where: `<shm root>/store-<hash of the store's real path>/` (`/dev/shm/dora-ts-<uid>/...`),
 * next to the runs' shm directories but never named `run-*`, so neither the reaper nor the
 * sweep of dead runs removes it. tmpfs survives a SIGKILL of any process, not a machine
 * restart: exactly the promise of durability 'process'. With 'power' the payload stays in
 * LMDB, fsync'ed with the commit (see store.ts).
 *
 * Order, which makes a crash at any point safe:
 * - a segment is complete before the LMDB commit that references it (written or linked in the
 *   group flush, before its transaction): a crash before the commit leaves a file nothing
 *   references, swept on the next open;
 * - it is unlinked only after the commit that deletes the last entry referencing it: a crash
 *   in between leaves, again, a file nothing references.
 * Several receivers of one message (fan-out) share one segment: the store counts, in memory,
 * the committed entries that reference each segment (rebuilt from the outbox on open).
 *
 * Names: `<sender, URI-encoded>@<order>`, the sender and sort key of the message: unique per
 * message across runs (a custom node's numbers and an operator's event numbers keep growing),
 * the same for all its receivers. A snapshot copies the segments its copy may reference into
 * its folder as `segment-<name>` (snapshots stay flat); a store reads a segment from its shm
 * directory, else from `<store>/segment-<name>` (where a restore puts a snapshot's).
 *
 * @module
 */
import {
  unlink,
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmdirSync,
  statSync,
  unlinkSync,
  type Stats,
} from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { ensurePrivateDir } from '../../security/private-path.js'
import { shmRoot } from '../../transport/shm-dir.js'
import { unlinkQuietly } from '../../unlink-quietly.js'
import { SegmentSpares, writeOverSpare } from './segment-spares.js'

/** Operator payloads of at least this many bytes become segment files (measured: bench/RESULTS.md). */
export const DEFAULT_SEGMENT_THRESHOLD_BYTES = 64 * 1024

/**
 * Prefix of a payload an operator's worker wrote into the shm folder for the store to take as
 * a segment ({@link SegmentFiles.take}): `.staged-<launch>@<n>`, a segment name (the `@`)
 * that no message's name can be (node and operator ids never start with a `.`). A
 * commit takes it under that name; one no commit took (its event never finished) is removed
 * when its worker is gone, and by the sweep on open, as every file nothing references.
 */
export const STAGED_PREFIX = '.staged-'

/** What a segment's name looks like: `<sender>@<order>`, or a staged payload's (above). */
const SEGMENT_NAME = /^[^/\0]+@[0-9a-z.]+$/

/** Prefix of a segment file in a store's or a snapshot's folder (from a snapshot: see above). */
export const DISK_SEGMENT_PREFIX = 'segment-'

/** What an outbox entry stores instead of its payload: the segment's name and size. */
export interface SegmentRef {
  name: string
  size: number
}

/** `DORA_TS_SEGMENT_THRESHOLD` (bytes; `0` keeps every payload in LMDB), else the default. */
export function segmentThreshold(): number {
  const raw = process.env['DORA_TS_SEGMENT_THRESHOLD']
  if (raw === undefined || raw === '') return DEFAULT_SEGMENT_THRESHOLD_BYTES
  const value = Number(raw)
  return Number.isSafeInteger(value) && value >= 0 ? value : DEFAULT_SEGMENT_THRESHOLD_BYTES
}

/** The shm directory of the store whose real path is `realDir`, or undefined without tmpfs. */
export function segmentDirFor(realDir: string): string | undefined {
  const root = shmRoot()
  if (root === undefined) return undefined
  return join(root, `store-${createHash('sha256').update(realDir).digest('hex').slice(0, 24)}`)
}

/** The segment name of the message of `sender` with sort key `order`. */
export function segmentName(sender: string, order: string): string {
  return `${encodeURIComponent(sender)}@${order}`
}

/** Encode a {@link SegmentRef} (the value stored under the entry's segment key). */
export function encodeSegmentRef(ref: SegmentRef): Buffer {
  return Buffer.from(JSON.stringify({ n: ref.name, s: ref.size }), 'utf8')
}

/** Decode a {@link SegmentRef}; throws an Error saying what is wrong. */
export function decodeSegmentRef(value: Buffer): SegmentRef {
  const json = JSON.parse(value.toString('utf8')) as { n?: unknown; s?: unknown }
  if (typeof json.n !== 'string' || !SEGMENT_NAME.test(json.n) || !Number.isSafeInteger(json.s) || (json.s as number) < 0) {
    throw new Error(`bad segment reference ${JSON.stringify(value.toString('utf8').slice(0, 80))}`)
  }
  return { name: json.n, size: json.s as number }
}

/**
 * The segment files of one store: where they are, how they are written, adopted, read and
 * removed, and how many committed entries reference each.
 */
export class SegmentFiles {
  /** The shm directory (created on first write); undefined without tmpfs (nothing is written). */
  readonly dir: string | undefined
  /** The store's folder, where a restore puts a snapshot's segments (`segment-<name>`). */
  readonly diskDir: string
  readonly #refs = new Map<string, number>()
  /**
   * Segments being unlinked off the routing thread ({@link release} with `later`): a name in
   * here is never written or adopted again until its unlink finished (see {@link write}), and
   * {@link close} unlinks whatever is still pending, synchronously.
   */
  readonly #unlinking = new Set<string>()
  /**
   * The size of each staged payload taken in this process and not let go yet: such a file is
   * in the shm folder under that one name (nothing links it), so letting it go needs no stat.
   */
  readonly #stagedSizes = new Map<string, number>()
  /** Where each file adopted in this process came from (a name in a custom node's run folder). */
  readonly #origins = new Map<string, string>()
  /**
   * Told the run folder's name of an adopted file once the store's own name of it is gone (the
   * file is that name's alone again): the run may then hand it back to its writer (see
   * runtime/supervisor/shm-payloads.ts park). Set by the run that owns the store.
   */
  onAdoptedLetGo: ((origin: string) => void) | undefined
  /** Unlinks deferred while a snapshot copies the store (it may reference them). */
  #pinned = 0
  readonly #deferred = new Set<string>()
  #created = false
  /**
   * Consumed segments kept to be written over (segment-spares.ts), shared with the operators'
   * workers that stage payloads here; undefined without a shm directory.
   */
  readonly spares: SegmentSpares | undefined

  constructor(dir: string | undefined, storeDir: string) {
    this.dir = dir
    this.diskDir = storeDir
    this.spares = dir === undefined ? undefined : new SegmentSpares(dir)
  }

  /** Segments referenced by committed entries now. */
  get referenced(): ReadonlyMap<string, number> {
    return this.#refs
  }

  /** Count one more committed entry referencing `name`. */
  retain(name: string): void {
    this.#refs.set(name, (this.#refs.get(name) ?? 0) + 1)
  }

  /**
   * One entry referencing `name` was deleted (committed): the last one unlinks the file. With
   * `later`, the unlink runs on libuv's thread pool instead of the caller's thread: the group
   * commit of a 64 KB stream spent ~15% of the routing thread in unlink(2) (tmpfs frees the
   * file's pages in the call). Safe at any moment: the commit that let the file go is done, and
   * a crash before the unlink leaves a file nothing references, swept on the next open.
   */
  release(name: string, later = false): void {
    const count = this.#refs.get(name)
    // No entry references it (counted on open and at every put): a second release of one
    // message's segment lets nothing go again (the spare pool must never hold a file twice).
    if (count === undefined) return
    const left = count - 1
    if (left > 0) {
      this.#refs.set(name, left)
      return
    }
    this.#refs.delete(name)
    this.unlinkIfUnreferenced(name, later)
  }

  /** Unlink `name` unless a committed entry references it (a write whose commit failed); `later`: see {@link release}. */
  unlinkIfUnreferenced(name: string, later = false): void {
    if (this.#refs.has(name)) return
    if (this.#pinned > 0) {
      this.#deferred.add(name)
      return
    }
    const stat = this.#fileOf(name)
    if (this.#recycle(name, stat)) return
    // Another name still holds the file (an adopted custom node's segment, named in its run's
    // folder until its receivers are done): removing this one frees no page, so it costs
    // little and is done now, before the callbacks of this commit run. The run then finds the
    // file its own alone when it lets go and hands it back to its writer for reuse
    // (shm-payloads.ts delete) instead of deleting it: a 4 MB send wrote into fresh tmpfs
    // pages every time (~1.8 ms against ~0.7 ms into pages it had, measured).
    const origin = this.#origins.get(name)
    this.#origins.delete(name)
    if (stat !== undefined && stat.nlink > 1) {
      this.#unlink(name)
      if (origin !== undefined) this.onAdoptedLetGo?.(origin)
    } else if (later) this.#unlinkLater(name)
    else this.#unlink(name)
  }

  /**
   * The size and link count of segment `name`'s file in the shm folder, if it is there. A staged
   * payload taken in this process needs no stat: nothing links it, and its size is known.
   */
  #fileOf(name: string): Pick<Stats, 'size' | 'nlink'> | undefined {
    const staged = this.#stagedSizes.get(name)
    if (staged !== undefined) {
      this.#stagedSizes.delete(name)
      return { size: staged, nlink: 1 }
    }
    return this.dir === undefined ? undefined : statSync(join(this.dir, name), { throwIfNoEntry: false })
  }

  /**
   * Keep segment `name` (`stat`: its file's, if it exists), which nothing references any more,
   * as a spare to write the next one over (segment-spares.ts): only a file in the shm folder
   * whose only name this is (an adopted custom node's segment may still be read through its
   * run's name). False: unlink it.
   */
  #recycle(name: string, stat: Pick<Stats, 'size' | 'nlink'> | undefined): boolean {
    if (this.spares === undefined || this.dir === undefined) return false
    if (stat === undefined || stat.nlink !== 1) return false
    return this.spares.offer(name, stat.size, name.startsWith(STAGED_PREFIX))
  }

  /**
   * Write `data` as segment `name`, complete before this returns (the commit that references it
   * comes after). A file left by an attempt that never committed is overwritten.
   */
  write(name: string, data: Uint8Array): void {
    // Never under a name whose unlink is still queued: it could land after this write. The
    // caller then keeps the bytes in LMDB (names are unique per message, so this is a
    // message written again after its consumption: not expected, but not worth a risk).
    if (this.#unlinking.has(name)) throw new Error(`segment ${name} is being unlinked`)
    const path = join(this.#ensureDir(), name)
    writeOverSpare(this.spares, path, data)
  }

  /**
   * Where an operator's worker may write payloads for {@link take} (the shm folder, created
   * now), or undefined without one.
   */
  stagingDir(): string | undefined {
    if (this.dir === undefined) return undefined
    try {
      return this.#ensureDir()
    } catch {
      return undefined
    }
  }

  /**
   * The segment name of `from`, a payload an operator's worker wrote complete into the shm
   * folder ({@link stagingDir}) under a name of its own (`.staged-<launch>@<n>`, a segment
   * name unique to that worker's launch): the file stays and keeps that name, so the commit
   * that references it makes no system call for it (the rename(2) into a name of the message
   * it made before cost the routing thread ~8 us of the ~70 us of a 64 KB message, measured).
   * Undefined when `from` is no such file: the caller then reads the bytes.
   */
  take(from: string, size: number): string | undefined {
    if (this.dir === undefined || dirname(from) !== this.dir) return undefined
    const name = basename(from)
    if (!name.startsWith(STAGED_PREFIX) || !SEGMENT_NAME.test(name) || this.#unlinking.has(name)) return undefined
    this.#stagedSizes.set(name, size)
    return name
  }

  /**
   * Remove the staged payloads whose names start with `STAGED_PREFIX + prefix` (a worker that
   * is gone wrote them) that no committed entry references: a staged file a commit took is a
   * segment under that name. One let go while a snapshot holds the unlinks stays too, and one
   * waiting in the spare pool under its name (the pool's now; close() clears it).
   */
  dropStaged(prefix: string): void {
    if (this.dir === undefined) return
    const pooled = this.spares?.names()
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return
    }
    for (const name of names) {
      if (!name.startsWith(`${STAGED_PREFIX}${prefix}`) || this.#refs.has(name) || this.#deferred.has(name) || pooled?.has(name) === true) continue
      unlinkQuietly(join(this.dir, name))
    }
  }

  /**
   * Make the file `from` (a custom node's shared-memory segment, on the same tmpfs) segment
   * `name` without copying it: a hard link, so the run's live receivers keep reading it under
   * its run name. Returns false when it cannot be linked (another file system): the caller
   * then stores the bytes.
   */
  adopt(name: string, from: string, size: number): boolean {
    // As in write(): not under a name whose unlink is still queued.
    if (this.#unlinking.has(name)) return false
    try {
      const path = join(this.#ensureDir(), name)
      // A file of an attempt that never committed (the name is the message's): replaced.
      unlinkQuietly(path) // none: the usual case
      linkSync(from, path)
      if (statSync(path).size !== size) {
        unlinkSync(path)
        return false
      }
      this.#origins.set(name, from)
      return true
    } catch {
      return false
    }
  }

  /**
   * The bytes of segment `name`, read into a fresh buffer; throws an Error naming the file when
   * it is missing or not `size` bytes long.
   */
  read(name: string, size: number): Buffer {
    const path = this.#find(name)
    if (path === undefined) throw new Error(`its payload file ${join(this.dir ?? this.diskDir, name)} is missing`)
    const fd = openSync(path, constants.O_RDONLY)
    try {
      const actual = fstatSync(fd).size
      if (actual !== size) throw new Error(`its payload file ${path} holds ${actual} bytes, not ${size}`)
      const out = Buffer.allocUnsafe(size)
      let read = 0
      while (read < size) {
        const n = readSync(fd, out, read, size - read, read)
        if (n === 0) throw new Error(`its payload file ${path} ends after ${read} of ${size} bytes`)
        read += n
      }
      return out
    } finally {
      closeSync(fd)
    }
  }

  /** Where segment `name` is: the shm directory, else `<store>/segments`; undefined if neither. */
  #find(name: string): string | undefined {
    for (const path of this.#paths(name)) {
      try {
        statSync(path)
        return path
      } catch {
        // Not here.
      }
    }
    return undefined
  }

  /**
   * On open: delete every file no committed entry references (written for a commit that never
   * happened, or whose last entry was deleted before the unlink). Returns how many went.
   */
  sweep(): number {
    let swept = 0
    for (const [dir, prefix] of this.#dirs()) {
      let names: string[]
      try {
        names = readdirSync(dir)
      } catch {
        continue
      }
      for (const name of names) {
        if (!name.startsWith(prefix) || this.#refs.has(name.slice(prefix.length))) continue
        if (unlinkQuietly(join(dir, name))) swept++
      }
    }
    return swept
  }

  /**
   * The store closes: remove its shm directory if nothing is left in it (rmdir(2) refuses a
   * directory that is not empty, so segments still referenced stay), so that a run whose
   * messages were all consumed leaves nothing on tmpfs.
   */
  close(): void {
    // Unlinks still queued on the thread pool: done now, so the rmdir below can succeed.
    for (const name of this.#unlinking) this.#unlink(name)
    this.#unlinking.clear()
    if (this.dir === undefined) return
    // Payloads staged by workers whose events never committed: nothing references them.
    this.dropStaged('')
    this.spares?.clear()
    try {
      rmdirSync(this.dir)
    } catch {
      // Not empty, or not there: kept as it is.
    }
    this.#created = false
  }

  /** Hold every unlink until {@link unpin}: a snapshot is copying the store. */
  pin(): void {
    this.#pinned++
  }

  /** The snapshot is done: the unlinks it held happen now (unless referenced again). */
  unpin(): void {
    if (--this.#pinned > 0) return
    const deferred = [...this.#deferred]
    this.#deferred.clear()
    // As if let go now: recycled, or unlinked (telling a run that still names an adopted file).
    for (const name of deferred) this.unlinkIfUnreferenced(name)
  }

  /**
   * Copy every segment a snapshot taken while pinned may reference (referenced now, or let go
   * since the pin) into `targetDir` as `segment-<name>`; returns how many. Call while pinned.
   */
  copyAllTo(targetDir: string): number {
    let copied = 0
    for (const name of new Set([...this.#refs.keys(), ...this.#deferred])) {
      const path = this.#find(name)
      if (path === undefined) continue
      copyFileSync(path, join(targetDir, `${DISK_SEGMENT_PREFIX}${name}`))
      copied++
    }
    return copied
  }

  /** Each folder segments may be in, with the prefix of their names there. */
  #dirs(): Array<[string, string]> {
    const disk: [string, string] = [this.diskDir, DISK_SEGMENT_PREFIX]
    return this.dir === undefined ? [disk] : [[this.dir, ''], disk]
  }

  /** Where segment `name` may be. */
  #paths(name: string): string[] {
    return this.#dirs().map(([dir, prefix]) => join(dir, `${prefix}${name}`))
  }

  #ensureDir(): string {
    if (this.dir === undefined) throw new Error('no shared-memory directory for segments')
    if (this.#created) return this.dir
    // 0700 inside the per-user root, checked as the runs' (another user's pre-created root is
    // refused): private, as the run's shm directories.
    ensurePrivateDir(dirname(this.dir), { what: 'shared-memory directory' })
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    this.#created = true
    return this.dir
  }

  #unlink(name: string): void {
    // Not there (or already gone): nothing to do.
    for (const path of this.#paths(name)) unlinkQuietly(path)
  }

  /**
   * {@link #unlink} on the thread pool. A segment is in one folder: the shm one (written or
   * adopted there), or the store's (put there by a restore); the second is tried only when the
   * first has no such file, which saves a failing unlink(2) on a disk file system per message.
   */
  #unlinkLater(name: string): void {
    this.#unlinking.add(name)
    const paths = this.#paths(name)
    const next = (i: number): void => {
      const path = paths[i]
      if (path === undefined) {
        this.#unlinking.delete(name)
        return
      }
      unlink(path, (err) => {
        if (err?.code === 'ENOENT') next(i + 1)
        else this.#unlinking.delete(name)
      })
    }
    next(0)
  }
}
