/**
 * The probe: a throw-away child process that opens a store read-only and reads all of it, so
 * that damage which makes LMDB crash (SIGSEGV, SIGBUS, SIGABRT: it trusts its pages), loop or
 * deadlock does it there and not in the supervisor or the CLI ({@link probeStore}).
 *
 * Two things bound the probe's life, because a probe that lives on holds the store's files
 * open and a user who waits for it sees nothing (issue 12, found in the torture run):
 * - its time, scaled with the size of the file ({@link probeBoundMs}): on some damaged pages the
 *   probe does not crash but deadlocks (gdb: the main thread blocked on a V8 mutex while
 *   building the JS error of an LMDB failure), and a fixed 120 s made a user wait two minutes
 *   for a 4 MB store. A probe past its bound is reported as a damaged store.
 * - its parent: when the CLI or the supervisor is SIGKILLed during the probe (users kill things
 *   at any moment), the probe must die too, whatever its main thread is doing. See the
 *   lifeline in {@link PROBE_SOURCE}.
 *
 * @module
 */

import { spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { LMDB_LAYOUT_KNOWN } from './layout.js'
import { corruptHint, StateCorruptError, StateOpenError } from '../state/errors.js'
import type { DataFileReport } from './preflight.js'
import { withoutNodeOptions } from '../../host-env.js'
import { findPageDamage } from './page-check.js'

/**
 * The probe's fixed allowance: starting node and importing lmdb-js. About 0.3 s on a quiet
 * machine; the shared 2-core CI machine at load 20-30 runs each process 10-20x slower, so
 * this is a margin of some 100x over a quiet start. A healthy store that exceeds its bound is
 * refused as damaged, so the bound errs on the generous side.
 */
export const PROBE_FLOOR_MS = 30_000
/**
 * The probe's allowance per MiB of data.mdb: 50 ms, i.e. 20 MiB/s. A quiet machine reads
 * about 1 GB/s; on the 2-core CI machine at load 20 a 138 MB store took 3.2-5.2 s including
 * the start (README, damaged files: 26-43 MB/s), so this is under the slowest read measured
 * there and 50x under a quiet one. A 4 MB store gets 30.2 s, a 20 GB one about 17 minutes.
 */
export const PROBE_MS_PER_MIB = 50

/**
 * How long the probe of a data.mdb of `bytes` bytes may take before it counts as hung:
 * {@link PROBE_FLOOR_MS} plus {@link PROBE_MS_PER_MIB} per MiB.
 */
export function probeBoundMs(bytes: number): number {
  return PROBE_FLOOR_MS + Math.ceil((Math.max(0, bytes) / 0x100000) * PROBE_MS_PER_MIB)
}

/** Options of {@link probeStore}. */
export interface ProbeOptions {
  /** The probe's time bound; default {@link probeBoundMs} of the file's size. Tests set a small one. */
  boundMs?: number
}

/**
 * Test-only: when set in the probe's environment to a file path, the probe writes its pid to
 * that file once the store is open and then blocks its main thread forever (as a deadlock in
 * LMDB would), so tests can check the time bound and the parent-death lifeline. Read only by
 * the probe's own source; not a user setting.
 */
export const PROBE_HANG_ENV = 'DORA_TS_TEST_PROBE_HANG'

// The lifeline: a socket pair whose other end only the parent holds (stdio[3]; libuv opens it
// close-on-exec, so no other child inherits it). When the parent dies, however it dies, the
// kernel closes its end and the probe reads end-of-file. The watch runs in a worker thread with
// its own isolate and event loop, started and confirmed before the store is touched: a
// deadlocked main thread runs no JS, so a watchdog there would never fire. On EOF the worker
// SIGKILLs its own process, which needs nothing from the main thread. Why not the
// alternatives: polling process.ppid works too but only notices on its next tick; Linux's
// PR_SET_PDEATHSIG is not reachable from node without an addon (or util-linux's setpriv, not on
// every robot), and it is tied to the thread that spawned the probe rather than to the process
// (the supervisor probes from its KVS worker thread). A blocking readSync of the fd would park
// the worker in a system call that terminate() cannot interrupt, which could hold up the
// probe's exit, so the worker reads through a net.Socket (epoll, in its own event loop).
// Not on Windows: there fd 3 is not a socket a net.Socket can read, and dora-ts targets Linux.
const LIFELINE_SOURCE = `
import { Socket } from 'node:net'
import { parentPort } from 'node:worker_threads'
const die = () => process.kill(process.pid, 'SIGKILL')
const lifeline = new Socket({ fd: 3, readable: true, writable: false })
lifeline.on('data', () => {})
lifeline.on('end', die)
lifeline.on('error', die)
parentPort.postMessage('watching')
`

// Opens the environment read-only and reads every record of every database, so each page a
// later load() would touch is touched here first; a crash here is damage. Damage that does not
// crash LMDB is caught where the tree contradicts itself: keys out of order, or a count of
// entries other than the database records (a damaged branch page once hid 23 of 51 entries).
// Then it walks the pages themselves (page-check.ts): damage only a write meets (a leaf's
// free-space bounds, the free list) made the first write abort the process.
// An error is reported on its own stderr line after PROBE_ERROR_MARK, as JSON {message, code}:
// node's report of an uncaught error starts with the source line that threw, which the parent
// used to quote instead of the message (issue 12). Runs as `node --input-type=module -e`, so
// it works the same from src/ and from dist/. The lifeline worker is unref()'d: a probe that
// is done exits without waiting for its parent.
const PROBE_ERROR_MARK = 'dora-ts probe error: '
const PROBE_SOURCE = `
const [lmdbUrl, dir, lifeline, checkPages] = process.argv.slice(1)
try {
  if (lifeline === '1') {
    // Best effort: a lifeline that cannot start must not make a healthy store look damaged.
    try {
      const { Worker } = await import('node:worker_threads')
      const watchdog = new Worker(new URL('data:text/javascript,' + encodeURIComponent(${JSON.stringify(LIFELINE_SOURCE)})))
      watchdog.on('error', () => {})
      await new Promise((resolve) => {
        watchdog.once('message', resolve)
        watchdog.once('exit', resolve)
      })
      watchdog.unref()
    } catch {}
  }
  const { open } = await import(lmdbUrl)
  // permissionsMode: the lock.mdb this open may create stays private (issue 13), as in the parent.
  const env = open({ path: dir, noSubdir: false, readOnly: true, maxDbs: 1000, keyEncoding: 'binary', encoding: 'binary', permissionsMode: 0o600 })
  const hang = process.env.${PROBE_HANG_ENV}
  if (hang) {
    const { renameSync, writeFileSync } = await import('node:fs')
    writeFileSync(hang + '.tmp', String(process.pid))
    renameSync(hang + '.tmp', hang)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  }
  // Collect the names first: opening a database while a cursor walks the main one fails.
  const names = Array.from(env.getKeys(), (raw) => Buffer.from(raw).toString('utf8').replace(/\\0$/, ''))
  let bytes = 0
  for (const name of names) {
    const db = env.openDB({ name, keyEncoding: 'binary', encoding: 'binary' })
    let count = 0
    let previous
    for (const { key, value } of db.getRange()) {
      const k = Buffer.from(key)
      if (previous !== undefined && Buffer.compare(previous, k) >= 0) throw new Error('MDB_CORRUPTED: keys out of order in database ' + name)
      previous = k
      bytes += value.length
      count++
    }
    const recorded = db.getStats().entryCount
    if (recorded !== count) throw new Error('MDB_CORRUPTED: database ' + name + ' records ' + recorded + ' entries, ' + count + ' were found')
  }
  if (checkPages === '1') {
    // What reading does not meet and a write would (page-check.ts), walked inside a read
    // transaction so that no writer elsewhere reuses a page of this snapshot meanwhile.
    const { closeSync, openSync, readSync } = await import('node:fs')
    const txn = env.useReadTransaction()
    const fd = openSync(dir + '/data.mdb', 'r')
    try {
      // The walk's own source, as this process holds it. Run from TypeScript source, tsx
      // (esbuild, keepNames) has wrapped its inner functions in calls to its __name helper,
      // which is not defined here: a stand-in that keeps the function as it is.
      const __name = (target) => target
      const problem = (${String(findPageDamage)})((position, length) => {
        const bytes = Buffer.alloc(length)
        return bytes.subarray(0, readSync(fd, bytes, 0, length, position))
      })
      if (problem !== undefined) throw new Error('MDB_CORRUPTED: ' + problem)
    } finally {
      closeSync(fd)
      txn.done()
    }
  }
  env.close()
  process.stdout.write(String(bytes))
} catch (err) {
  const message = err instanceof Error ? err.message : String(err)
  const code = err !== null && typeof err === 'object' && 'code' in err ? err.code : undefined
  process.stderr.write('\\n${PROBE_ERROR_MARK}' + JSON.stringify({ message, code }) + '\\n')
  process.exit(3)
}
`

/**
 * Open the store in `dir` in a child process and read all of it. A crash, an error or a hang
 * (past {@link probeBoundMs}) there means the file is damaged: throw DORA_STATE_CORRUPT
 * instead of letting this process crash or wait. The probe dies with this process.
 */
export function probeStore(dir: string, report: DataFileReport, options: ProbeOptions = {}): void {
  const file = join(dir, 'data.mdb')
  const bytes = 'size' in report ? report.size : sizeOf(file)
  const boundMs = options.boundMs ?? probeBoundMs(bytes)
  const lmdbUrl = import.meta.resolve('lmdb')
  // Plain node: no loaders or flags of this process (NODE_OPTIONS, execArgv) in the probe.
  const env = withoutNodeOptions()
  const lifeline = process.platform !== 'win32'
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE_SOURCE, lmdbUrl, dir, lifeline ? '1' : '0', LMDB_LAYOUT_KNOWN ? '1' : '0'], {
    env,
    encoding: 'utf8',
    timeout: boundMs,
    // A hung probe may be deadlocked: only SIGKILL is sure to end it.
    killSignal: 'SIGKILL',
    stdio: lifeline ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
  })
  if (result.status === 0) return
  const errno = (result.error as NodeJS.ErrnoException | undefined)?.code
  if (errno === 'ETIMEDOUT') {
    throw new StateCorruptError(
      `cannot open the state store in ${dir}: reading ${file} (${sizeText(bytes)}) in a probe process did not finish within ${seconds(boundMs)}, so LMDB hung on it, as it does on some damaged pages; the file is taken as damaged (if the machine was overloaded to a standstill, run the command again first)`,
      { dir, hint: corruptHint(dir) },
    )
  }
  if (result.error !== undefined) {
    // The probe never ran (no memory, no process slots): that says nothing about the file.
    throw new StateOpenError(`cannot open the state store in ${dir}: the probe process that reads it first could not run (${result.error.message})`, {
      dir,
      cause: result.error,
      hint: 'free memory or processes on this machine and try again',
    })
  }
  const size =
    report.kind === 'short'
      ? `data.mdb is ${report.size} bytes but its newest meta page ends the data at ${(report.lastPage + 1n) * BigInt(report.pageSize)}; `
      : ''
  const how = result.signal !== null ? `LMDB crashed with ${result.signal}` : `LMDB failed: ${probeError(result.stderr) ?? `exit code ${result.status}`}`
  const what = report.kind === 'short' ? 'the file is truncated or damaged' : 'a page of the file is damaged'
  throw new StateCorruptError(`cannot open the state store in ${dir}: ${size}reading it all in a probe process failed (${how}); ${what}`, {
    dir,
    hint: corruptHint(dir),
  })
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

function sizeText(bytes: number): string {
  return bytes < 0x100000 ? `${bytes} bytes` : `${(bytes / 0x100000).toFixed(1)} MiB`
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

/**
 * What the probe reported (its PROBE_ERROR_MARK line: message and LMDB code), or else the first
 * line of stderr that reads as an error (a failure before the probe's own handler ran).
 */
function probeError(stderr: string | undefined): string | undefined {
  const lines = (stderr ?? '').split('\n').map((l) => l.trim())
  const marked = lines.find((l) => l.startsWith(PROBE_ERROR_MARK))
  if (marked !== undefined) {
    try {
      const { message, code } = JSON.parse(marked.slice(PROBE_ERROR_MARK.length)) as { message?: unknown; code?: unknown }
      const text = typeof message === 'string' && message !== '' ? message : 'an error without a message'
      return code === undefined || code === null || String(message).includes(String(code)) ? text : `${text} (code ${String(code)})`
    } catch {
      // Not JSON: fall through to the plain lines.
    }
  }
  const line = lines.find((l) => l.startsWith('Error') || /^[A-Za-z]*Error:/.test(l))
  return line === undefined || line === '' ? undefined : line
}
