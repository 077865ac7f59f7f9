/**
 * The run's shared-memory directory (issue 15): large payloads between processes travel as
 * files on tmpfs instead of socket bytes. One private directory per run, named after the run
 * directory (`<shm root>/run-<pid>-<hex>`, mode 0700, inside a per-user root also 0700), so the
 * reaper can remove it when the supervisor dies and the next run can sweep one whose
 * supervisor is gone, exactly as for run directories (run-dir.ts).
 *
 * Segment files are named `<nodeId>@<restartCount>@<n>` by the node that writes them: `@` is
 * not allowed in node ids, so the supervisor can tell whose segment a name is, and sweep the
 * ones a killed process wrote but never announced.
 */
import { existsSync, mkdirSync, rmSync, chmodSync } from 'node:fs'
import { userInfo } from 'node:os'
import { basename, join } from 'node:path'
import { ensurePrivateDir } from '../security/private-path.js'
import { sweepStaleRunDirs } from './run-dir.js'

/**
 * Payloads of at least this many bytes go through shared memory. Below it the socket is as fast
 * (a file create, write, read and unlink cost more than copying a few KiB through ZeroMQ): see
 * bench/RESULTS.md, "Shared-memory threshold", for the measurement behind the number.
 */
export const DEFAULT_SHM_THRESHOLD_BYTES = 64 * 1024

/** `DORA_TS_SHM_THRESHOLD` (bytes, `0` turns shared memory off), else the default. */
export function shmThreshold(): number {
  const raw = process.env['DORA_TS_SHM_THRESHOLD']
  if (raw === undefined || raw === '') return DEFAULT_SHM_THRESHOLD_BYTES
  const value = Number(raw)
  return Number.isSafeInteger(value) && value >= 0 ? value : DEFAULT_SHM_THRESHOLD_BYTES
}

/** The per-user folder that holds every run's shm directory: `DORA_TS_SHM_DIR`, else `/dev/shm`. */
export function shmRoot(): string | undefined {
  const base = process.env['DORA_TS_SHM_DIR'] ?? '/dev/shm'
  // No tmpfs (macOS, some containers): payloads stay on the socket.
  if (!existsSync(base)) return undefined
  const uid = typeof process.getuid === 'function' ? process.getuid() : userInfo().username
  return join(base, `dora-ts-${uid}`)
}

/** The shm directory of the run whose run directory is `runDirPath`, or undefined without tmpfs. */
export function shmDirFor(runDirPath: string): string | undefined {
  const root = shmRoot()
  return root === undefined ? undefined : join(root, basename(runDirPath))
}

/** Only `run-<pid>-<hex>` names are ever created or removed, so a bad path cannot delete more. */
const RUN_NAME = /^run-(\d+)-[0-9a-f]+$/

/**
 * Create the private shm directory of a run; undefined when shared memory is off
 * (`DORA_TS_SHM_THRESHOLD=0`), there is no tmpfs, or it cannot be created (then the socket
 * carries everything, as before: shared memory is an optimisation, never a requirement).
 */
export function createShmDir(runDirPath: string): string | undefined {
  if (shmThreshold() === 0) return undefined
  const root = shmRoot()
  if (root === undefined || !RUN_NAME.test(basename(runDirPath))) return undefined
  try {
    // Checked like the runtime directory: another user's pre-created root is refused.
    ensurePrivateDir(root, { what: 'shared-memory directory' })
    sweepStaleShmDirs(root)
    const dir = join(root, basename(runDirPath))
    mkdirSync(dir, { mode: 0o700 })
    chmodSync(dir, 0o700)
    return dir
  } catch {
    return undefined
  }
}

/** Remove a run's shm directory and every segment in it. Idempotent; only a `run-*` directory. */
export function removeShmDir(dir: string | undefined): void {
  if (dir === undefined || !RUN_NAME.test(basename(dir))) return
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch {
    // Gone already, or not ours to remove: nothing more to do.
  }
}

/** Remove the shm directories of runs whose supervisor no longer exists (named as run dirs are). */
export function sweepStaleShmDirs(root: string | undefined = shmRoot()): string[] {
  return root === undefined ? [] : sweepStaleRunDirs(root)
}

/**
 * A segment the supervisor is done with and hands back to its writer: `<name>.free`. The writer
 * renames it to its next name and writes over it; a node may never announce such a name.
 */
export const FREE_SUFFIX = '.free'

/** The segment name prefix of one node: everything it writes starts with it. */
export function segmentPrefix(nodeId: string): string {
  return `${nodeId}@`
}

/** A segment name a node may use: its own prefix, then `<restartCount>@<n>`, nothing that leaves the directory. */
export function isSegmentOf(name: string, nodeId: string): boolean {
  const prefix = segmentPrefix(nodeId)
  return name.startsWith(prefix) && /^\d+@\d+$/.test(name.slice(prefix.length))
}

/**
 * A best-effort link's segment (`<receiver>@<sender>@<restartCount>@<n>.<i>`, see
 * node-sdk/direct-send.ts) that its receivers freed for its sender to reuse (`.free`), written
 * by `nodeId`: once that sender's process is gone, nobody will take it back.
 */
export function isFreedDirectSegmentOf(name: string, nodeId: string): boolean {
  if (!name.endsWith(FREE_SUFFIX)) return false
  const at = name.indexOf('@')
  return at > 0 && name.startsWith(`${nodeId}@`, at + 1) && /^\d+@\d+\.\d+$/.test(name.slice(at + nodeId.length + 2, -FREE_SUFFIX.length))
}
