/**
 * Room on a file system, tmpfs mostly: whether an error says there is none (full, or over
 * quota: a writer can outlast it, by making room, LinkLogWriter.makeRoom, or trying again
 * later, node-sdk/shm-fallback.ts, where any other error is for good), and whether there is
 * enough to keep spare files.
 *
 * No native addon and nothing of the stores is imported here: operator workers load this module.
 *
 * @module
 */
import { statfsSync } from 'node:fs'

/** Whether `err` is ENOSPC or EDQUOT. */
export function isNoRoom(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** Free bytes past which spare files are always affordable (see {@link hasRoomToSpare}). */
const AMPLE_BYTES = 1024 * 1024 * 1024

/**
 * How long an answer of {@link hasRoomToSpare} stands for its folder (ms): a statfs costs
 * ~2.5 us, a twentieth of what a 64 KB message between operators costs the routing thread, which
 * gives back one segment per message.
 */
export const ANSWER_MS = 20
const answers = new Map<string, { at: number; roomy: boolean }>()

/**
 * Whether the file system holding `dir` can afford spare files (consumed files kept for the
 * next write to go over: src/store/state/segment-spares.ts, src/transport/link-log.ts): a
 * quarter of it or 1 GiB free. A spare spares tmpfs the allocation of fresh pages; on a small
 * tmpfs (Docker's /dev/shm is 64 MB unless told otherwise) its pages are the room the next
 * write needs: an 8 MB one held seven 1 MB spares of the store while a node's writes failed
 * for want of room. True when the file system cannot be asked. An answer stands for
 * {@link ANSWER_MS}.
 */
export function hasRoomToSpare(dir: string): boolean {
  const now = performance.now()
  const known = answers.get(dir)
  if (known !== undefined && now - known.at < ANSWER_MS) return known.roomy
  let roomy = true
  try {
    const { bavail, blocks, bsize } = statfsSync(dir)
    roomy = bavail * 4 >= blocks || bavail * bsize >= AMPLE_BYTES
  } catch {
    // Cannot be asked: no reason to give spares up.
  }
  answers.set(dir, { at: now, roomy })
  return roomy
}
