/**
 * The log of a reliable direct link (design: docs/design/reliable-direct-links.md): what a
 * custom node sends on one output, appended by the sender's process to files in shared memory
 * and read by each receiver's process from its own cursor, with no supervisor on the path.
 *
 * A send is durable once its entry is appended (one `writev` into tmpfs: it survives a SIGKILL
 * of the sender, of the receivers and of the supervisor, not a power cut, the promise of
 * durability `process`), so `send()` may resolve at once. The socket between the two processes
 * only rings the receiver's bell; the receiver reads the entries in order from the files, so a
 * ring lost while it restarted loses nothing.
 *
 * Layout: `<dir>/<first seq, 20 digits>.log` files, each a run of entries
 *
 *   u32 magic | u32 header bytes | u32 payload bytes | u32 0 | u64 seq | header | payload | u64 seq
 *
 * (little endian). Sequence numbers start at 1 and grow by one, across files, restarts of the
 * sender and runs of the dataflow. The trailing copy of `seq` is written last by the same
 * `writev`, which copies in order, so an entry whose trailer reads right is whole; a sender
 * killed inside its `writev` leaves a torn tail, which readers treat as "not yet" and the next
 * {@link LinkLogWriter.open} cuts off before appending (that entry's `send()` never resolved).
 *
 * A file every receiver has consumed is kept as a spare (at most {@link MAX_SPARES}, and only
 * while a quarter of the file system, or 1 GiB, is free: hasRoomToSpare) and renamed
 * into the next file, whose appends then write over its old bytes in pages tmpfs already
 * holds (64 KB appends: ~25 us instead of 45-60 us). Bytes past the last whole entry of such a
 * file are old entries, of lower seqs: a reader wants the next seq exactly, so they are "not
 * yet" as a torn tail is. (Taking one for an entry would need an old payload to hold, at that
 * exact offset, the magic, the wanted seq and that seq again where its trailer would end.)
 *
 * Each receiver keeps its cursor, the last seq it consumed (and the one in its program's hands),
 * in `<dir>/cursor.<name>` ({@link LinkCursor}); the writer deletes a file once every receiver's cursor is past it, and
 * never deletes the newest, whose name keeps the numbering going.
 *
 * One writer per log at a time: the supervisor runs one process per node and one run per
 * dataflow store.
 *
 * @module
 */
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs'
import { join } from 'node:path'
import { hasRoomToSpare } from '../no-room.js'

/** 'DLK1' little endian: the first word of every entry. */
const MAGIC = 0x314b4c44
/** Bytes before an entry's header: magic, header length, payload length, padding, seq. */
const HEAD_BYTES = 24
/** Bytes after its payload: the seq again. */
const TRAIL_BYTES = 8
/**
 * Most entries of one input read ahead of its program (waiting in the event buffer), and most
 * bytes of their payloads (one entry is always read when none waits): past either, the log
 * keeps the rest until the program has taken half of what waits. Only for an input whose
 * `queue_size` is larger (a smaller queue holds what waits itself, dropping the oldest).
 *
 * Without it a receiver that fell behind read its whole backlog into memory, and since every
 * read came before the program's next event (a busy loop catches up after each one), it spent
 * its time reading ahead instead of handing over: under heavy load a torture sink took ~50
 * messages in 5 s while it read 40 000 ahead (torture seed 20261258), and never caught up.
 * (Read by node-sdk/link-inputs.ts; the pipes of a link's socket are bounded by it too, in
 * node-sdk/direct-send.ts and direct-receive.ts: a socket copy past it would only be dropped.)
 */
export const LINK_READ_AHEAD = 4096
export const LINK_READ_AHEAD_BYTES = 64 * 1024 * 1024

/** A log file is closed for appends once it holds this much (a new one starts). */
export const DEFAULT_LOG_FILE_BYTES = 16 * 1024 * 1024

const LOG_SUFFIX = '.log'
const CURSOR_PREFIX = 'cursor.'
/**
 * A consumed file kept for reuse instead of deleted: the next file starts as a rename of it,
 * so appends write into pages tmpfs has already allocated (a 64 KB append into new pages cost
 * ~200 us on the 2-core VM, most of it page allocation). Never a `.log` name: no reader sees it.
 */
const SPARE_PREFIX = 'spare.'
/** Spare files kept per log at most. */
const MAX_SPARES = 2

/** One entry read back: its number, the message header's bytes and the payload's. */
export interface LinkEntry {
  seq: bigint
  header: Uint8Array
  payload: Uint8Array
}

/** A log file and the seq it starts at. */
interface LogFile {
  first: bigint
  path: string
}

/** The log files of `dir`, oldest first. */
function logFiles(dir: string): LogFile[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return names
    .filter((name) => name.endsWith(LOG_SUFFIX) && /^\d{20}\.log$/.test(name))
    .map((name) => ({ first: BigInt(name.slice(0, 20)), path: join(dir, name) }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
}

function logName(first: bigint): string {
  return `${first.toString().padStart(20, '0')}${LOG_SUFFIX}`
}

/**
 * The entry at `offset` of the file `fd` when it is whole and numbered `seq`: its parts and
 * where the next one starts; undefined when the file ends first, or holds something else
 * there (a torn tail, or bytes a writer is still copying in). `end`: where the entry ends, when
 * the socket said so ({@link LinkPosition}): then one read takes it whole, instead of its head
 * (for its length) and then the entry (a log-only payload's receiver reads every one:
 * {@link LinkLogReader.next}).
 */
function readEntry(fd: number, offset: number, seq: bigint, head: Buffer, end?: number): { entry: LinkEntry; next: number } | undefined {
  const told = end === undefined ? undefined : readSpan(fd, offset, seq, end - offset)
  if (told !== undefined) return told
  // Not told, or not the entry the socket described: its head says how long it is.
  const length = entryLength(fd, offset, seq, head)
  return length === undefined ? undefined : readSpan(fd, offset, seq, length)
}

/**
 * The length of entry `seq` at `offset` of the file `fd` as its head says (read into `head`);
 * undefined when the file ends before a whole head, or another entry (or none) is there.
 */
function entryLength(fd: number, offset: number, seq: bigint, head: Buffer): number | undefined {
  if (readSync(fd, head, 0, HEAD_BYTES, offset) < HEAD_BYTES) return undefined
  if (head.readUInt32LE(0) !== MAGIC || head.readBigUInt64LE(16) !== seq) return undefined
  return HEAD_BYTES + head.readUInt32LE(4) + head.readUInt32LE(8) + TRAIL_BYTES
}

/** The entry `seq` when it fills exactly the `length` bytes at `offset`; undefined when it does not, or the file ends first. */
function readSpan(fd: number, offset: number, seq: bigint, length: number): { entry: LinkEntry; next: number } | undefined {
  if (length < HEAD_BYTES + TRAIL_BYTES) return undefined
  const whole = Buffer.allocUnsafe(length)
  if (readSync(fd, whole, 0, length, offset) < length) return undefined
  if (whole.readUInt32LE(0) !== MAGIC || whole.readBigUInt64LE(16) !== seq) return undefined
  const headerEnd = HEAD_BYTES + whole.readUInt32LE(4)
  const payloadEnd = headerEnd + whole.readUInt32LE(8)
  if (payloadEnd + TRAIL_BYTES !== length || whole.readBigUInt64LE(payloadEnd) !== seq) return undefined
  return { entry: { seq, header: whole.subarray(HEAD_BYTES, headerEnd), payload: whole.subarray(headerEnd, payloadEnd) }, next: offset + length }
}

/**
 * Walk the file `fd`, whose first entry is `first`, from its start to entry `until` (not
 * included) or to the first entry that is not there whole: that entry's seq and offset. Each
 * step reads only an entry's head, which says where the entry ends: appends go in order, so
 * only the newest entry of a file can be torn, and only the last one walked past is read whole
 * to check it. (Reading every entry whole made a receiver's start after a backlog, and each
 * start of a sender, read up to a whole 16 MB file: 0.75 s of CPU at a torture sink's start
 * under load.)
 */
function walkEntries(fd: number, first: bigint, head: Buffer, until?: bigint): { seq: bigint; offset: number } {
  let offset = 0
  let seq = first
  let previous: number | undefined
  for (; until === undefined || seq < until; seq++) {
    const length = entryLength(fd, offset, seq, head)
    if (length === undefined) break
    previous = offset
    offset += length
  }
  if (previous !== undefined && readEntry(fd, previous, seq - 1n, head) === undefined) return { seq: seq - 1n, offset: previous }
  return { seq, offset }
}

/**
 * Where an appended entry is: its seq, the first seq of its file and the offset just past it
 * there. Sent along with the message (as seq, end, and whether file = seq), it lets a receiver
 * that got the entry from the socket move its reader past it without reading it
 * ({@link LinkLogReader.passed}).
 */
export interface LinkPosition {
  seq: bigint
  file: bigint
  end: number
}

/** Options of {@link LinkLogWriter.open}. */
export interface LinkLogWriterOptions {
  /** Start a new file past this many bytes (default {@link DEFAULT_LOG_FILE_BYTES}). */
  fileBytes?: number
}

/**
 * The appending end of a link log, in the sender's process.
 *
 * @example
 * ```ts
 * const log = LinkLogWriter.open(dir)
 * const seq = log.append(headerBytes, payload) // durable from here
 * ring(seq)                                     // tell the receivers there is more
 * ```
 */
export class LinkLogWriter {
  readonly #dir: string
  readonly #fileBytes: number
  #fd: number
  /** The first seq of the file appended to now (its name). */
  #file: bigint
  #size: number
  #next: bigint
  readonly #head = Buffer.alloc(HEAD_BYTES)
  readonly #trail = Buffer.alloc(TRAIL_BYTES)
  #closed = false
  /**
   * Whether consumed files may be kept as spares: not after the file system was found full
   * ({@link makeRoom}), where the pages a spare holds are the room the log needs.
   */
  #keepSpares = true
  /**
   * Files older than the newest may exist (left by an earlier writer, or rotated out since the
   * last {@link collect} and not all consumed then): until then a collection, which lists the
   * folder, has nothing to look at.
   */
  #olderFiles = true

  private constructor(dir: string, fd: number, file: bigint, size: number, next: bigint, fileBytes: number) {
    this.#dir = dir
    this.#fd = fd
    this.#file = file
    this.#size = size
    this.#next = next
    this.#fileBytes = fileBytes
  }

  /**
   * Open the log of `dir` (made if missing) for appending: the newest file is read to its last
   * whole entry and cut there, so numbering goes on after the last entry a send confirmed.
   */
  static open(dir: string, options: LinkLogWriterOptions = {}): LinkLogWriter {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const fileBytes = options.fileBytes ?? DEFAULT_LOG_FILE_BYTES
    const newest = logFiles(dir).at(-1)
    if (newest === undefined) {
      const fd = openSync(join(dir, logName(1n)), constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600)
      return new LinkLogWriter(dir, fd, 1n, 0, 1n, fileBytes)
    }
    const fd = openSync(newest.path, constants.O_RDWR)
    try {
      const { seq, offset } = walkEntries(fd, newest.first, Buffer.alloc(HEAD_BYTES))
      // A torn tail: the entry its killed writer was copying in. Its send never resolved.
      if (fstatSync(fd).size > offset) ftruncateSync(fd, offset)
      return new LinkLogWriter(dir, fd, newest.first, offset, seq, fileBytes)
    } catch (err) {
      closeSync(fd)
      throw err
    }
  }

  /** The seq the next {@link append} gets. */
  get nextSeq(): bigint {
    return this.#next
  }

  /**
   * Append one entry and return where it is. Durable when this returns (the file is in shared
   * memory: see the module). On a short write (the file system is full) the tail is cut back,
   * nothing is appended, and the error says so.
   */
  append(header: Uint8Array, payload: Uint8Array): LinkPosition {
    if (this.#closed) throw new Error('the link log is closed')
    if (this.#size >= this.#fileBytes) this.#rotate()
    const seq = this.#next
    this.#head.writeUInt32LE(MAGIC, 0)
    this.#head.writeUInt32LE(header.byteLength, 4)
    this.#head.writeUInt32LE(payload.byteLength, 8)
    this.#head.writeUInt32LE(0, 12)
    this.#head.writeBigUInt64LE(seq, 16)
    this.#trail.writeBigUInt64LE(seq, 0)
    const total = HEAD_BYTES + header.byteLength + payload.byteLength + TRAIL_BYTES
    let written: number
    try {
      written = writevSync(this.#fd, [this.#head, header, payload, this.#trail], this.#size)
    } catch (err) {
      this.#cutBack()
      throw err
    }
    if (written !== total) {
      this.#cutBack()
      const err = new Error(`the link log in ${this.#dir} took ${written} of ${total} bytes (is its file system full?)`) as NodeJS.ErrnoException
      err.code = 'ENOSPC'
      throw err
    }
    this.#size += total
    this.#next = seq + 1n
    return { seq, file: this.#file, end: this.#size }
  }

  /**
   * Delete the files every receiver has consumed: `consumed` is the lowest cursor among them
   * (0 while one of them has none). Never the newest file, whose name carries the numbering.
   *
   * `bound`, when given, is the newest seq the receivers would drop unread if they came to it
   * now (their `drop_oldest` queue keeps fewer newer ones): files holding nothing past it go
   * too, consumed or not, so a receiver that stopped reading (hung, killed and not restarted)
   * holds its sender's log to about its `queue_size` newest messages, not all of them. A
   * reader that comes to such a gap goes on at the oldest entry left and counts the ones it
   * passed ({@link LinkLogReader.takeSkipped}).
   */
  collect(consumed: bigint, bound?: bigint): number {
    if (!this.#olderFiles) return 0
    const files = logFiles(this.#dir)
    let removed = 0
    let spares = this.#spares().length
    let unconsumed = false
    for (let i = 0; i + 1 < files.length; i++) {
      // File i holds seqs first(i) .. first(i + 1) - 1.
      const last = files[i + 1]!.first - 1n
      if (last > consumed) {
        if (bound === undefined || last > bound) {
          unconsumed = true
          break
        }
        // Unconsumed and past the bound: unlinked, never a spare. A reader may still be
        // reading it through its descriptor, and a spare's bytes are written over.
        unlinkSync(files[i]!.path)
        removed++
        continue
      }
      // Readers never look at a spare: one still reading this file (at its end, about to move
      // on) finds no entry of its seq in what is written over it (seqs only grow), and moves on.
      if (this.#keepSpares && spares < MAX_SPARES && hasRoomToSpare(this.#dir)) {
        renameSync(files[i]!.path, join(this.#dir, `${SPARE_PREFIX}${files[i]!.first}`))
        spares++
      } else unlinkSync(files[i]!.path)
      removed++
    }
    this.#olderFiles = unconsumed
    return removed
  }

  /**
   * After an {@link append} failed for want of room (`ENOSPC`): give back what the log holds
   * that no receiver needs, so the append can be tried again. Its spare files go (and no more
   * are kept: on this file system their pages are the room), and a non-empty newest file is
   * closed for appends, so that its consumed entries can go with {@link collect} as any older
   * file's do (it closes only at {@link DEFAULT_LOG_FILE_BYTES}: in a tmpfs smaller than that,
   * Docker's 64 MB /dev/shm with 6 MB frames say, the entries of a receiver that had caught up
   * held the room for good). `consumed`, `bound`: as for {@link collect}.
   */
  makeRoom(consumed: bigint, bound?: bigint): number {
    this.#keepSpares = false
    this.#dropSpares()
    if (!this.#closed && this.#size > 0) this.#rotate()
    return this.collect(consumed, bound)
  }

  /** Files older than the newest may be there to {@link collect}. */
  get hasOlderFiles(): boolean {
    return this.#olderFiles
  }

  /**
   * {@link collect}, and when every entry is consumed, start an empty newest file first so the
   * last one (which holds them) can go too: a link whose receivers are caught up then holds
   * no bytes of consumed messages in shared memory.
   */
  compact(consumed: bigint, bound?: bigint): number {
    if (!this.#closed && consumed >= this.#next - 1n && this.#size > 0) this.#rotate()
    const removed = this.collect(consumed, bound)
    this.#dropSpares()
    return removed
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    closeSync(this.#fd)
  }

  #cutBack(): void {
    try {
      ftruncateSync(this.#fd, this.#size)
    } catch {
      // The next open cuts a torn tail off anyway.
    }
  }

  /** Delete this log's spare files. */
  #dropSpares(): void {
    for (const spare of this.#spares()) unlinkSync(join(this.#dir, spare))
  }

  /** The names of this log's spare files. */
  #spares(): string[] {
    return readdirSync(this.#dir).filter((n) => n.startsWith(SPARE_PREFIX))
  }

  #rotate(): void {
    const path = join(this.#dir, logName(this.#next))
    // A spare's old bytes stay past what is written: entries of lower seqs, never read as the
    // ones expected (and the next open cuts them off).
    const spare = this.#spares()[0]
    if (spare !== undefined) renameSync(join(this.#dir, spare), path)
    const fd = openSync(path, constants.O_RDWR | (spare === undefined ? constants.O_CREAT | constants.O_EXCL : 0), 0o600)
    closeSync(this.#fd)
    this.#fd = fd
    this.#file = this.#next
    this.#size = 0
    this.#olderFiles = true
  }
}

/**
 * The reading end of a link log, in a receiver's process: entries in order from just after
 * `after` (its cursor). {@link next} returns undefined when no whole entry follows yet; call it
 * again when the sender rings.
 */
export class LinkLogReader {
  readonly #dir: string
  #fd = -1
  #offset = 0
  /** The first seq of the file open now, and of the one after it (when known). */
  #fileFirst = 0n
  #expected: bigint
  readonly #head = Buffer.alloc(HEAD_BYTES)
  #closed = false
  /** Entries passed because the writer had dropped them (see {@link takeSkipped}). */
  #skipped = 0n

  constructor(dir: string, after: bigint) {
    this.#dir = dir
    this.#expected = after + 1n
  }

  /** The seq the next entry read will have. */
  get expected(): bigint {
    return this.#expected
  }

  /**
   * How many entries this reader passed since the last call because they were gone: the
   * writer drops what its receivers' queues would drop anyway ({@link LinkLogWriter.collect}'s
   * bound), and the reader goes on at the oldest entry left. (For a reader of a receiver that
   * never read this log, what it passes at its first look is other receivers' past, not its
   * losses: its caller knows that from the cursor.)
   */
  takeSkipped(): bigint {
    const skipped = this.#skipped
    this.#skipped = 0n
    return skipped
  }

  /**
   * The next whole entry, or undefined when there is none yet. `end`: where the socket said
   * this entry ends in the file being read ({@link LinkPosition}; not for one that starts a new
   * file), so that one read takes it.
   */
  next(end?: number): LinkEntry | undefined {
    if (this.#closed) return undefined
    if (this.#fd < 0 && !this.#seek()) return undefined
    let read = readEntry(this.#fd, this.#offset, this.#expected, this.#head, end)
    // Nothing more here: the writer may have gone on in a newer file.
    if (read === undefined && this.#switchToNewer()) read = readEntry(this.#fd, this.#offset, this.#expected, this.#head)
    if (read === undefined) return undefined
    this.#offset = read.next
    this.#expected++
    return read.entry
  }

  /**
   * The entry `at` was received another way (the socket carries `seq`, `end` and whether it
   * starts a new file): the next read starts after it. Only for the entry {@link expected};
   * false (nothing changes) for any other.
   */
  passed(at: { seq: bigint; end: number; newFile: boolean }): boolean {
    if (this.#closed || at.seq !== this.#expected) return false
    if (at.newFile) {
      let fd: number
      try {
        fd = openSync(join(this.#dir, logName(at.seq)), constants.O_RDONLY)
      } catch {
        return false
      }
      if (this.#fd >= 0) closeSync(this.#fd)
      this.#fd = fd
      this.#fileFirst = at.seq
    } else if (this.#fd < 0 && !this.#seek()) return false
    this.#offset = at.end
    this.#expected = at.seq + 1n
    return true
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }

  /** Open the file holding `#expected` and find the entry in it; false when there is none yet. */
  #seek(): boolean {
    // The newest file that starts at or before the entry wanted; the oldest when all start after
    // it (files this receiver had consumed were collected, or dropped past its queue: nothing
    // before the oldest is there to read).
    const opened = this.#openListed((files) => {
      let file = files[0]
      for (const f of files) if (f.first <= this.#expected) file = f
      return file
    })
    if (opened === undefined) return false
    const { file, fd } = opened
    if (file.first > this.#expected) {
      this.#skipped += file.first - this.#expected
      this.#expected = file.first
    }
    // Short of the entry wanted when it is not written yet (the cursor is ahead of the file
    // only if the log was removed under it): start at what is there.
    const { seq, offset } = walkEntries(fd, file.first, this.#head, this.#expected)
    this.#expected = seq
    this.#fd = fd
    this.#offset = offset
    this.#fileFirst = file.first
    return true
  }

  /**
   * The writer started a file at `#expected`: move to it. Or the writer dropped the entries
   * from `#expected` on (every file left starts after it: see {@link LinkLogWriter.collect}'s
   * bound): move to the oldest file left, counting the entries passed.
   */
  #switchToNewer(): boolean {
    const opened = this.#openListed((files) => {
      const newer = files.find((f) => f.first === this.#expected && f.first !== this.#fileFirst)
      if (newer !== undefined) return newer
      // Files go oldest first, and the one holding `#expected` (or the writer's newest, which
      // is never removed) is there until then: all starting past it means it went.
      const oldest = files[0]
      return oldest !== undefined && oldest.first > this.#expected ? oldest : undefined
    })
    if (opened === undefined) return false
    closeSync(this.#fd)
    this.#fd = opened.fd
    this.#offset = 0
    this.#fileFirst = opened.file.first
    this.#skipped += opened.file.first - this.#expected
    this.#expected = opened.file.first
    return true
  }

  /**
   * Open the log file `pick` chooses among those listed now; undefined when it chooses none. A
   * file listed may be gone by the time it is opened (its writer removed it): listed again.
   */
  #openListed(pick: (files: LogFile[]) => LogFile | undefined): { file: LogFile; fd: number } | undefined {
    for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
      const file = pick(logFiles(this.#dir))
      if (file === undefined) return undefined
      const fd = openIfThere(file.path)
      if (fd !== undefined) return { file, fd }
    }
    return undefined
  }
}

/**
 * Tries at opening a log file just listed: each failure means its writer removed it meanwhile,
 * and it never removes the newest, so a second listing almost always does.
 */
const OPEN_ATTEMPTS = 16

/** Open `path` to read; undefined when it is gone (its writer removed it since it was listed). */
function openIfThere(path: string): number | undefined {
  try {
    return openSync(path, constants.O_RDONLY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Mixed into a cursor slot's check word, so zeros (a new file, a hole) never read as whole. */
const CURSOR_CHECK = 0x5a5a5a5a5a5a5a5an
/** The same for the slots that also hold `read` (written since 2026-12-05): another word. */
const CURSOR_CHECK_READ = 0x3c3c3c3c3c3c3c3cn
/** A slot: generation, consumed, inHand, read, check word. */
const SLOT_BYTES = 40
/** A slot as written before `read`: generation, consumed, inHand, check word. */
const OLD_SLOT_BYTES = 32
const U64 = 0xffffffffffffffffn

/** What a receiver's cursor file says. */
export interface CursorValue {
  /** Every entry up to this seq is consumed (0: none). */
  consumed: bigint
  /**
   * The entry that was in the program's hands when this was written (0: none): it may have
   * been acted on without being consumed, so a receiver that starts again marks it redelivered.
   */
  inHand: bigint
  /**
   * No entry after this one was read by the process that wrote it (0: none read, or not
   * known: a cursor written before this field). An entry past it that the log no longer holds
   * is a drop nobody has counted (runtime/supervisor/link-drops.ts).
   */
  read: bigint
}

/**
 * A receiver's cursor on a link log, in `<dir>/cursor.<name>`: {@link CursorValue}. Two
 * 40-byte slots (generation, consumed, inHand, read, a check word) written in turn, so a write
 * torn by a kill leaves the other slot standing; the whole slot of the higher generation is
 * the cursor. One `pwrite` per {@link set}. A file of the 32-byte slots written before `read`
 * existed is read as such (`read` 0), and goes on in the new slots from its next write.
 */
export class LinkCursor {
  readonly #fd: number
  #value: CursorValue
  #slot: number
  #generation: bigint
  readonly #buf = Buffer.alloc(SLOT_BYTES)
  #closed = false

  constructor(dir: string, name: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.#fd = openSync(cursorPath(dir, name), constants.O_RDWR | constants.O_CREAT, 0o600)
    const { value, slot, generation, bytes } = readCursorFd(this.#fd)
    if (bytes < 2 * SLOT_BYTES) fillCursorFile(this.#fd, bytes)
    this.#value = value
    this.#slot = slot
    this.#generation = generation
  }

  /** What the file says now. */
  get value(): CursorValue {
    return this.#value
  }

  /**
   * Write `value` (`consumed` never moves back: a lower one is raised to the current; `read`
   * left out stays as it is).
   */
  set(value: { consumed: bigint; inHand: bigint; read?: bigint | undefined }): void {
    if (this.#closed) return
    const consumed = value.consumed > this.#value.consumed ? value.consumed : this.#value.consumed
    const read = value.read ?? this.#value.read
    if (consumed === this.#value.consumed && value.inHand === this.#value.inHand && read === this.#value.read) return
    this.#slot ^= 1
    this.#generation++
    this.#buf.writeBigUInt64LE(this.#generation, 0)
    this.#buf.writeBigUInt64LE(consumed, 8)
    this.#buf.writeBigUInt64LE(value.inHand, 16)
    this.#buf.writeBigUInt64LE(read, 24)
    this.#buf.writeBigUInt64LE((this.#generation ^ consumed ^ value.inHand ^ read ^ CURSOR_CHECK_READ) & U64, 32)
    writeSync(this.#fd, this.#buf, 0, SLOT_BYTES, this.#slot * SLOT_BYTES)
    this.#value = { consumed, inHand: value.inHand, read }
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    closeSync(this.#fd)
  }
}

/**
 * Give a cursor file its two slots' bytes now (zeros, which never read as a slot), from
 * `from` on. The supervisor makes every cursor before a sender starts (runtime/supervisor/
 * link-logs.ts), so its page is taken then: on a tmpfs a page is allocated at its first write,
 * and a receiver whose first write came after its sender had filled /dev/shm failed with
 * ENOSPC, leaving the sender nothing it could collect to make room.
 */
function fillCursorFile(fd: number, from: number): void {
  const zeros = Buffer.alloc(2 * SLOT_BYTES - from)
  writeSync(fd, zeros, 0, zeros.byteLength, from)
}

function readCursorFd(fd: number): { value: CursorValue; slot: number; generation: bigint; bytes: number } {
  const buf = Buffer.alloc(2 * SLOT_BYTES)
  const got = readSync(fd, buf, 0, buf.byteLength, 0)
  let value: CursorValue = { consumed: 0n, inHand: 0n, read: 0n }
  let slot = 1 // the first write goes to slot 0
  let generation = 0n
  for (let s = 0; s < 2 && got >= (s + 1) * SLOT_BYTES; s++) {
    const at = s * SLOT_BYTES
    const gen = buf.readBigUInt64LE(at)
    const consumed = buf.readBigUInt64LE(at + 8)
    const inHand = buf.readBigUInt64LE(at + 16)
    const read = buf.readBigUInt64LE(at + 24)
    if (((gen ^ consumed ^ inHand ^ read ^ CURSOR_CHECK_READ) & U64) !== buf.readBigUInt64LE(at + 32)) continue
    if (gen > generation) {
      value = { consumed, inHand, read }
      slot = s
      generation = gen
    }
  }
  if (generation > 0n) return { value, slot, generation, bytes: got }
  // No slot of the current layout: a file written before `read` (its slots are 32 bytes). Its
  // generation goes on, so whichever new slot is written first outranks what is left of it.
  for (let s = 0; s < 2 && got >= (s + 1) * OLD_SLOT_BYTES; s++) {
    const at = s * OLD_SLOT_BYTES
    const gen = buf.readBigUInt64LE(at)
    const consumed = buf.readBigUInt64LE(at + 8)
    const inHand = buf.readBigUInt64LE(at + 16)
    if (((gen ^ consumed ^ inHand ^ CURSOR_CHECK) & U64) !== buf.readBigUInt64LE(at + 24)) continue
    if (gen > generation) {
      value = { consumed, inHand, read: 0n }
      generation = gen
    }
  }
  return { value, slot, generation, bytes: got }
}

/** The file of cursor `name` in the log folder `dir`. */
export function cursorPath(dir: string, name: string): string {
  return join(dir, `${CURSOR_PREFIX}${name}`)
}

/** The names of the cursors in `dir` (`cursor.<name>` files), none when it does not exist. */
export function cursorNames(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((n) => n.startsWith(CURSOR_PREFIX)).map((n) => n.slice(CURSOR_PREFIX.length))
}

/** The last entry the process that wrote `cursor` may have read (consumed, held or read ahead): none after it was. */
export function lastMayHaveRead(cursor: CursorValue): bigint {
  let last = cursor.consumed
  if (cursor.inHand > last) last = cursor.inHand
  if (cursor.read > last) last = cursor.read
  return last
}

/** What cursor `name` in `dir` says; undefined when it has no file. */
export function readCursor(dir: string, name: string): CursorValue | undefined {
  let fd: number
  try {
    fd = openSync(cursorPath(dir, name), constants.O_RDONLY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return readCursorFd(fd).value
  } finally {
    closeSync(fd)
  }
}

/**
 * The seq the oldest log file of `dir` starts at: every entry before it is gone (consumed, or
 * past the writer's bound). Undefined when the log has no file.
 */
export function oldestLogSeq(dir: string): bigint | undefined {
  return logFiles(dir)[0]?.first
}

/**
 * The seq of the newest whole entry of the log in `dir` (0 when it has none): a reader made
 * with it reads what is appended from now on (`dora-ts topic echo`). Walks only the heads of
 * the newest file's entries.
 */
export function newestLogSeq(dir: string): bigint {
  // The newest file may be renamed away by a rotation while it is looked at: look again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const newest = logFiles(dir).at(-1)
    if (newest === undefined) return 0n
    let fd: number
    try {
      fd = openSync(newest.path, constants.O_RDONLY)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    try {
      return walkEntries(fd, newest.first, Buffer.alloc(HEAD_BYTES)).seq - 1n
    } finally {
      closeSync(fd)
    }
  }
  return 0n
}

/**
 * The lowest cursor among `names` in `dir` (0 when one has none yet): what the writer may
 * collect up to ({@link LinkLogWriter.collect}).
 */
export function lowestCursor(dir: string, names: readonly string[]): bigint {
  let lowest: bigint | undefined
  for (const name of names) {
    const cursor = readCursor(dir, name)
    if (cursor === undefined) return 0n
    if (lowest === undefined || cursor.consumed < lowest) lowest = cursor.consumed
  }
  return lowest ?? 0n
}
