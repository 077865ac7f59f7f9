/**
 * A custom node's side of shared-memory payloads (issue 15): the sender writes a large payload
 * into a new file of the run's tmpfs directory and sends only its name; a receiver reads the
 * file into one Buffer. That is one copy each way instead of four socket copies through the
 * supervisor. The supervisor owns the files' lifetime (it deletes a segment once every receiver
 * asked for its next batch, and sweeps what a killed node left): a node never deletes one.
 *
 * Node has no mmap; `readSync` into a Buffer allocated to the exact length is the fastest
 * portable read (one kernel copy from the page cache), measured in bench/RESULTS.md.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readSync, renameSync, writeSync, constants } from 'node:fs'
import { join } from 'node:path'
import type { SharedPayload } from '../src/protocol/node/messages.js'
import { FREE_SUFFIX } from '../src/transport/shm-dir.js'

/** Segments this writer remembers as candidates for reuse. */
const REMEMBERED = 64

/** Writes this process's segments: `<nodeId>@<restartCount>@<n>`, each name used once. */
export class ShmWriter {
  readonly #dir: string
  readonly #prefix: string
  #next = 0
  /** Names this process wrote, oldest first: the supervisor hands them back as `<name>.free`. */
  readonly #written: string[] = []

  constructor(dir: string, nodeId: string, restartCount: number) {
    this.#dir = dir
    this.#prefix = `${nodeId}@${restartCount}@`
  }

  /**
   * Write `data` into a new segment and describe it. The file is created exclusively and
   * private (0600); a failure (tmpfs full) throws, and the caller sends on the socket instead.
   */
  write(data: Uint8Array): SharedPayload {
    const segment = `${this.#prefix}${++this.#next}`
    const path = join(this.#dir, segment)
    const fd = this.#reuse(path) ?? openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    this.#written.push(segment)
    if (this.#written.length > REMEMBERED) this.#written.shift()
    try {
      // A reused file keeps its pages; cut it to this payload (a shorter one frees the rest).
      ftruncateSync(fd, data.byteLength)
      let written = 0
      while (written < data.byteLength) written += writeSync(fd, data, written, data.byteLength - written)
    } finally {
      closeSync(fd)
    }
    return { segment, offset: 0, length: data.byteLength }
  }

  /**
   * Take back the oldest segment the supervisor freed, renamed to `path`; undefined when none
   * is free yet. A name that is neither live nor free was deleted (the pool was full): forgotten.
   */
  #reuse(path: string): number | undefined {
    while (this.#written.length > 0) {
      const oldest = join(this.#dir, this.#written[0]!)
      try {
        renameSync(`${oldest}${FREE_SUFFIX}`, path)
        this.#written.shift()
        return openSync(path, constants.O_WRONLY)
      } catch {
        if (existsSync(oldest)) return undefined // still held by receivers: so are the younger ones, most likely
        this.#written.shift()
      }
    }
    return undefined
  }
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
