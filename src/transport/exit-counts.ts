/**
 * A node's last counts of its direct messages, left by its process as it exits. A node reports
 * them to the supervisor every DIRECT_REPORT_MS over its socket; a process that ends between
 * two reports (it throws, or calls `process.exit()`) cannot send any more, and lost what it
 * counted since the last one: a viewer that read a backlog of 100 frames, dropped 90 of them
 * from its queue and exited at its first had none of those drops in `dora-ts list` or the run's
 * report. So the SDK writes them (the `direct-counts` message, Cap'n Proto as on the socket) to
 * a file of the run's shared-memory directory in its `exit` handler, synchronously, and the
 * supervisor reads it when the process has ended (before its segments are swept, under the
 * same name prefix). Counts are cumulative per process, so the file and a late socket report
 * add together to the same total, never twice. A SIGKILLed process writes nothing: it loses
 * what a report interval counted, as before.
 *
 * @module
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { unlinkQuietly } from '../unlink-quietly.js'
import { decodeNodeToSupervisor, encodeNodeToSupervisor } from '../protocol/node/codec.js'
import type { DirectCounts } from '../protocol/node/messages.js'
import { segmentPrefix } from './shm-dir.js'

/** The file process `restartCount` of node `nodeId` leaves its counts in (under its segment prefix, so swept with its segments). */
export function exitCountsPath(shmDir: string, nodeId: string, restartCount: number): string {
  return join(shmDir, `${segmentPrefix(nodeId)}${restartCount}@counts`)
}

/** Write `counts` for the supervisor to read once this process has ended. Never throws (a run without shared memory, a full tmpfs: the counts stay as last reported). */
export function writeExitCounts(shmDir: string, nodeId: string, restartCount: number, counts: DirectCounts): void {
  if (shmDir === '') return
  const path = exitCountsPath(shmDir, nodeId, restartCount)
  const partial = `${path}.partial`
  try {
    writeFileSync(partial, encodeNodeToSupervisor({ type: 'direct-counts', ...counts }), { mode: 0o600 })
    // Whole or absent: a process killed while writing leaves only the partial file (swept).
    renameSync(partial, path)
  } catch {
    // Best effort by nature: the process is exiting.
  }
}

/** Take (read and delete) what process `restartCount` of `nodeId` left; undefined when nothing or something else is there. Never throws. */
export function takeExitCounts(shmDir: string, nodeId: string, restartCount: number): DirectCounts | undefined {
  if (shmDir === '') return undefined
  const path = exitCountsPath(shmDir, nodeId, restartCount)
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch {
    return undefined
  }
  unlinkQuietly(path) // or swept with the node's segments
  try {
    const message = decodeNodeToSupervisor(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    if (message.type !== 'direct-counts') return undefined
    return {
      sent: message.sent,
      received: message.received,
      dropped: message.dropped,
      ...(message.inputDrops === undefined ? {} : { inputDrops: message.inputDrops }),
    }
  } catch {
    // Not ours to judge further: a damaged file counts nothing.
    return undefined
  }
}
