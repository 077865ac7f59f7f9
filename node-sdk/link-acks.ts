/**
 * How far a best-effort receiver has read, told to its sender through a small file, so the
 * sender can bound what is on its way to it in bytes: its own pipe, the kernel's socket buffer
 * and the receiver's pipe together. ZeroMQ's high-water marks count messages, and the
 * receiver's cannot be lowered once a sender has connected: a viewer busy with one frame held
 * 64 of its camera's 4 MB frames (330 MB) whatever the camera did.
 *
 * The receiver writes the sequence of the last large message of each best-effort input as it
 * takes it from its socket (one `pwrite` per message whose payload of at least
 * {@link ACK_FROM_BYTES} came on the socket; small ones are never bounded by bytes, and one in
 * a shared-memory file is bounded by its file, so neither is acknowledged); the sender reads it before a large
 * send and drops the message (counted) when as many as its budget allows are still unread
 * (direct-send.ts). The file is named after the receiver (`<receiver>@ack@...`), so its
 * process end sweeps it like any file sent to it; a sender that finds none bounds nothing by
 * it. Sequences start again with a new sender process, so a record names the sender's life
 * too (its restart count, which every message carries): a restarted sender reads a record of
 * its older life as "none of mine taken yet", and its unacknowledged messages bound what it
 * sends while its receiver stalls. (A record of an older receiver SDK holds the sequence
 * alone: one above all the sender has sent is an older life's, and lets everything through
 * until the receiver acknowledges anew.)
 *
 * @module
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Messages at least this large are acknowledged: those a sender's byte budget can bound (64 x 64 KiB is its smallest budget). */
export const ACK_FROM_BYTES = 64 * 1024

/** A record: the acknowledgement twice, so a reader that meets a write half done sees two that differ, and ignores it. */
const RECORD_BYTES = 16

/**
 * An acknowledgement is one 64-bit word: this bit set (an older SDK's never is: it wrote the
 * sequence alone), the sender's life in the next 16 bits, the sequence in the low 47 (a
 * sender would need 10^14 messages on one output to reach it).
 */
const LIFE_MARK = 1n << 63n
const LIFE_SHIFT = 47n
const SEQ_MASK = (1n << LIFE_SHIFT) - 1n

/** What a receiver acknowledged: the sequence of the last large message it took, and the life of the sender that sent it. */
export interface Ack {
  seq: bigint
  /** The sender's restart count (modulo 65536) when it sent it; undefined: an older receiver's record, the sequence alone. */
  life: number | undefined
}

/** The word recording that `seq`, sent by the sender's life `life`, was taken. */
function ackWord(seq: bigint, life: number): bigint {
  return LIFE_MARK | (BigInt(life & 0xffff) << LIFE_SHIFT) | (seq & SEQ_MASK)
}

function fromWord(word: bigint): Ack {
  if ((word & LIFE_MARK) === 0n) return { seq: word, life: undefined }
  return { seq: word & SEQ_MASK, life: Number((word >> LIFE_SHIFT) & 0xffffn) }
}

/** The file through which `receiverNode` acknowledges, on `inputId`, the messages of `senderNode`'s `outputId`. */
export function ackPath(shmDir: string, receiverNode: string, senderNode: string, outputId: string, inputId: string): string {
  return join(shmDir, `${receiverNode}@ack@${senderNode}@${outputId}@${inputId}`)
}

/**
 * What `path` acknowledges, or undefined when there is nothing yet (no file, not written, or
 * caught mid-write). Opened and closed each time: a receiver that restarts writes a new file
 * under the same name.
 */
export function readAck(path: string): Ack | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }
  try {
    const record = Buffer.alloc(RECORD_BYTES)
    if (readSync(fd, record, 0, RECORD_BYTES, 0) !== RECORD_BYTES) return undefined
    const word = record.readBigUInt64LE(0)
    return word === record.readBigUInt64LE(8) ? fromWord(word) : undefined
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** The receiving end: one file per acknowledged input, opened on its first large message. */
export class AckWriter {
  readonly #shmDir: string
  readonly #nodeId: string
  /** input id -> its file; -1: it could not be opened (acknowledged no more: its sender bounds by messages). */
  readonly #fds = new Map<string, number>()
  readonly #record = Buffer.alloc(RECORD_BYTES)

  constructor(shmDir: string, nodeId: string) {
    this.#shmDir = shmDir
    this.#nodeId = nodeId
  }

  /** The message `seq` of `input`, sent by the life `senderLife` of `senderNode`'s `outputId`, was taken from the socket. */
  write(inputId: string, senderNode: string, outputId: string, seq: bigint, senderLife: number): void {
    let fd = this.#fds.get(inputId)
    if (fd === undefined) {
      try {
        fd = openSync(ackPath(this.#shmDir, this.#nodeId, senderNode, outputId, inputId), 'w', 0o600)
      } catch {
        fd = -1
      }
      this.#fds.set(inputId, fd)
    }
    if (fd < 0) return
    const word = ackWord(seq, senderLife)
    this.#record.writeBigUInt64LE(word, 0)
    this.#record.writeBigUInt64LE(word, 8)
    try {
      writeSync(fd, this.#record, 0, RECORD_BYTES, 0)
    } catch {
      // tmpfs full: the sender reads the last one written, and bounds by it (or by messages).
    }
  }

  close(): void {
    for (const fd of this.#fds.values()) if (fd >= 0) closeSync(fd)
    this.#fds.clear()
  }
}
