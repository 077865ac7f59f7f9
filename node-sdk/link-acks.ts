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
 * it. Sequences start again with a new sender process: an acknowledgement above all it has
 * sent is an older life's, and lets everything through until the receiver acknowledges anew.
 *
 * @module
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Messages at least this large are acknowledged: those a sender's byte budget can bound (64 x 64 KiB is its smallest budget). */
export const ACK_FROM_BYTES = 64 * 1024

/** A record: the sequence twice, so a reader that meets a write half done sees two that differ, and ignores it. */
const RECORD_BYTES = 16

/** The file through which `receiverNode` acknowledges, on `inputId`, the messages of `senderNode`'s `outputId`. */
export function ackPath(shmDir: string, receiverNode: string, senderNode: string, outputId: string, inputId: string): string {
  return join(shmDir, `${receiverNode}@ack@${senderNode}@${outputId}@${inputId}`)
}

/**
 * The sequence acknowledged in `path`, or undefined when there is none yet (no file, not
 * written, or caught mid-write). Opened and closed each time: a receiver that restarts writes a
 * new file under the same name.
 */
export function readAck(path: string): bigint | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }
  try {
    const record = Buffer.alloc(RECORD_BYTES)
    if (readSync(fd, record, 0, RECORD_BYTES, 0) !== RECORD_BYTES) return undefined
    const seq = record.readBigUInt64LE(0)
    return seq === record.readBigUInt64LE(8) ? seq : undefined
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

  /** The message `seq` of `input` (fed by `senderNode`'s `outputId`) was taken from the socket. */
  write(inputId: string, senderNode: string, outputId: string, seq: bigint): void {
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
    this.#record.writeBigUInt64LE(seq, 0)
    this.#record.writeBigUInt64LE(seq, 8)
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
