/**
 * A custom node's side of shared-memory payloads (issue 15): the sender writes a large payload
 * into a file of the run's tmpfs directory (one its readers handed back, when there is one: see
 * {@link SegmentPool}) and sends only its name; a receiver reads the file into one Buffer. That
 * is one copy each way instead of four socket copies through the supervisor. On the supervisor
 * path the supervisor owns the files' lifetime (it hands a segment back once every receiver
 * asked for its next batch, and sweeps what a killed node left); on a best-effort link, where
 * no supervisor is involved, each receiver lets go of its own name once read
 * ({@link releaseSegment}), and the supervisor sweeps what a killed receiver left.
 *
 * Node has no mmap; `readSync` into a Buffer allocated to the exact length is the fastest
 * portable read (one kernel copy from the page cache), measured in bench/RESULTS.md.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readSync, renameSync, statSync, writeSync, constants } from 'node:fs'
import { join } from 'node:path'
import { unlinkQuietly } from '../src/unlink-quietly.js'
import type { SharedPayload } from '../src/protocol/node/messages.js'
import { FREE_SUFFIX } from '../src/transport/shm-dir.js'

/** Segments a writer remembers as candidates for reuse. */
const REMEMBERED = 64

/**
 * The files one writer wrote, taken back for reuse once their readers hand them back (shared by
 * the supervisor path's {@link ShmWriter} and the best-effort links' DirectSender). A file's
 * readers hand it back by renaming one of its names to `<name>.free`; the writer renames that
 * to the next name it needs and writes over it: on tmpfs, writing into pages that already exist
 * is 2-4x cheaper than allocating new ones (bench/RESULTS.md). Oldest first, so the next file
 * taken back is the one most likely free.
 */
export class SegmentPool {
  readonly #dir: string
  /** The names of each file written, oldest first (several: one per receiver, hard links). */
  readonly #written: (readonly string[])[] = []

  constructor(dir: string) {
    this.#dir = dir
  }

  /**
   * Write `data` into segment `name`, reusing a freed file when there is one, else a new file
   * (created exclusively, private: 0600). Throws what the file system throws (tmpfs full), and
   * leaves no file then: a part written would hold the room a later try needs.
   */
  write(name: string, data: Uint8Array): void {
    const path = join(this.#dir, name)
    const fd = this.#reuse(path) ?? openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    try {
      // A reused file keeps its pages; cut it to this payload (a shorter one frees the rest).
      ftruncateSync(fd, data.byteLength)
      let written = 0
      while (written < data.byteLength) written += writeSync(fd, data, written, data.byteLength - written)
    } catch (err) {
      unlinkQuietly(path)
      throw err
    } finally {
      closeSync(fd)
    }
  }

  /** Remember the names of a file written (any of them may come back as `.free`). */
  written(names: readonly string[]): void {
    this.#written.push(names)
    if (this.#written.length > REMEMBERED) this.#written.shift()
  }

  /** Delete the remembered files that are free now, and forget them all (the writer is done). */
  drain(): void {
    for (const names of this.#written.splice(0)) {
      for (const name of names) unlinkQuietly(join(this.#dir, `${name}${FREE_SUFFIX}`))
    }
  }

  /**
   * Take back the oldest file its readers freed, renamed to `path`; undefined when none is free
   * yet. A file none of whose names is live or free was deleted (a pool was full, or a reader
   * could not hand it back): forgotten.
   */
  #reuse(path: string): number | undefined {
    while (this.#written.length > 0) {
      const oldest = this.#written[0]!
      for (const name of oldest) {
        try {
          renameSync(join(this.#dir, `${name}${FREE_SUFFIX}`), path)
        } catch {
          continue
        }
        this.#written.shift()
        return openSync(path, constants.O_WRONLY)
      }
      // Still held by a reader: so are the younger ones, most likely.
      if (oldest.some((name) => existsSync(join(this.#dir, name)))) return undefined
      this.#written.shift()
    }
    return undefined
  }
}

/** Writes this process's segments: `<nodeId>@<restartCount>@<n>`, each name used once. */
export class ShmWriter {
  readonly #prefix: string
  readonly #pool: SegmentPool
  #next = 0

  constructor(dir: string, nodeId: string, restartCount: number) {
    this.#prefix = `${nodeId}@${restartCount}@`
    this.#pool = new SegmentPool(dir)
  }

  /**
   * Write `data` into a new segment and describe it; the supervisor hands the file back as
   * `<name>.free` once every receiver is done. A failure (tmpfs full) throws, and the caller
   * sends on the socket instead.
   */
  write(data: Uint8Array): SharedPayload {
    const segment = `${this.#prefix}${++this.#next}`
    this.#pool.write(segment, data)
    this.#pool.written([segment])
    return { segment, offset: 0, length: data.byteLength }
  }
}

/**
 * A reader is done with its name of a segment: hand the file back to its writer (`.free`) when
 * that name is the file's last, else just drop the name (other readers still hold the file;
 * the last of them hands it back). Two readers letting go at once may both see the other's name
 * and both unlink: the file is then freed rather than reused, never leaked.
 */
export function releaseSegment(path: string): void {
  try {
    if (statSync(path).nlink === 1) {
      renameSync(path, `${path}${FREE_SUFFIX}`)
      return
    }
  } catch {
    // Gone already (swept at the end of the run), or it could not be renamed: drop the name.
  }
  unlinkQuietly(path)
}

/**
 * The path of segment `name` in `dir`, or undefined for a name that would leave it (a `/`) or
 * starts with `.`: names come over a socket, and no segment's does.
 */
export function segmentPath(dir: string, name: string): string | undefined {
  return name.includes('/') || name.startsWith('.') ? undefined : join(dir, name)
}

/**
 * Read a shared payload into a new Buffer. The name comes from the supervisor, which checked
 * it; a segment that is shorter than announced is an error (it was not written by the SDK).
 */
export function readShared(dir: string, shm: SharedPayload): Buffer {
  const path = segmentPath(dir, shm.segment)
  if (path === undefined) throw new Error(`refusing shared-memory segment name ${JSON.stringify(shm.segment)}`)
  const fd = openSync(path, constants.O_RDONLY)
  try {
    const out = Buffer.allocUnsafe(shm.length)
    let read = 0
    while (read < shm.length) {
      const n = readSync(fd, out, read, shm.length - read, shm.offset + read)
      if (n === 0) throw new Error(`shared-memory segment ${shm.segment} ends after ${read} of ${shm.length} bytes`)
      read += n
    }
    return out
  } finally {
    closeSync(fd)
  }
}
