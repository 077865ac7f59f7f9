/**
 * The shared KVS: read, write and update operations per second from a custom node (child
 * process) and from an operator (worker thread), each against raw lmdb-js doing the same in the
 * same thread in the same run (bench/fixtures/kvs-workload.mjs alternates the two round by
 * round). Each unit runs in its own dataflow, one after the other, so they do not compete.
 *
 * - read: `kvs.read(key)` of a 16-byte value, which starts a fresh LMDB read snapshot every
 *   time (so it sees every write that returned in any process), against lmdb-js `db.get(key)`,
 *   which reuses one snapshot until the next event-loop turn.
 * - write: `kvs.write(key, value)`: one synchronous, fsync'ed transaction with the value and its
 *   change log entry, against `transactionSync(() => db.putSync(key, value))` with the same
 *   flags; and, for the record, the raw write without fsync that the KVS cannot use (lmdb-js
 *   loses such commits when another process opens the store: see src/store/kvs/store.ts).
 * - update: `kvs.update(key, fn)` against a raw get + put in one transactionSync. From an
 *   operator every call is a round trip to the supervisor's KVS thread (src/store/kvs/service.ts).
 *
 *   node dist/bench/kvs.js [--quick]     prints the rows (npm run bench includes them)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { stringify } from 'yaml'
import { DataflowRun } from '../runtime/supervisor/dataflow-run.js'
import type { LogEntry } from '../runtime/supervisor/unit.js'
import { parseDataflow } from '../src/spec/load.js'

/** One figure: `value` in `unit`, and raw lmdb-js doing the same as `baseline`. */
export interface KvsBenchRow {
  name: string
  value: number
  unit: string
  baseline?: number
}

interface Plan {
  /** Reads per round. */
  reads: number
  /** Writes (and updates) per round. */
  writes: number
  rounds: number
  /** Value size in bytes. */
  size: number
}

interface WorkloadResult {
  reads: number
  writes: number
  updates: number
  rawReads: number
  rawWrites: number
  rawUpdates: number
  rawNoSyncWrites: number
}

const WORKLOAD = fileURLToPath(new URL('../../bench/fixtures/kvs-workload.mjs', import.meta.url))

/** Measure the KVS from a custom node and from an operator; see the module comment. */
export async function benchKvs(options: { quick: boolean }): Promise<KvsBenchRow[]> {
  const plan: Plan = options.quick ? { reads: 1_000, writes: 50, rounds: 1, size: 16 } : { reads: 500_000, writes: 4_000, rounds: 5, size: 16 }
  const tmp = mkdtempSync(join(tmpdir(), 'dora-kvs-bench-'))
  try {
    const node = await runWorkload(tmp, 'node', plan)
    const operator = await runWorkload(tmp, 'operator', plan)
    const rows: KvsBenchRow[] = []
    for (const [who, r] of [
      ['a custom node', node],
      ['an operator', operator],
    ] as const) {
      rows.push({ name: `KVS read from ${who}`, value: r.reads, unit: 'reads/s', baseline: r.rawReads })
      rows.push({ name: `KVS write from ${who}`, value: r.writes, unit: 'writes/s', baseline: r.rawWrites })
      rows.push({ name: `KVS update from ${who}`, value: r.updates, unit: 'updates/s', baseline: r.rawUpdates })
    }
    rows.push({ name: 'raw lmdb-js write without fsync (not safe across processes)', value: node.rawNoSyncWrites, unit: 'writes/s' })
    return rows
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Run the workload as the only unit of a dataflow (in this process, with the real supervisor). */
async function runWorkload(tmp: string, kind: 'node' | 'operator', plan: Plan): Promise<WorkloadResult> {
  const dir = mkdtempSync(join(tmp, `${kind}-`))
  const out = join(dir, 'result.json')
  const env = { KVS_BENCH_PLAN: JSON.stringify(plan), KVS_BENCH_OUT: out }
  const unit = kind === 'node' ? { id: 'bench', path: WORKLOAD, env } : { id: 'bench', env, operator: { javascript: WORKLOAD } }
  const file = join(dir, 'dataflow.yml')
  const text = stringify({ name: 'kvs-bench', nodes: [unit] })
  writeFileSync(file, text)
  const logs: LogEntry[] = []
  let onLog = (): void => {}
  // A short directory for the run's Unix sockets.
  const sockets = mkdtempSync(join(tmpdir(), 'dkb-'))
  const run = new DataflowRun(parseDataflow(text, file), {
    graceMs: 3000,
    runtimeDir: sockets,
    stateDir: join(dir, 'state'),
    kvsDir: join(dir, 'kvs'),
    log: (entry) => {
      logs.push(entry)
      onLog()
    },
  })
  let timer: NodeJS.Timeout | undefined
  try {
    await run.start()
    // A node ends by itself; an operator says when it is done (in init, before any event).
    const finished = new Promise<void>((resolve) => {
      onLog = () => {
        if (logs.some((l) => l.text.includes('KVS_BENCH_DONE'))) resolve()
      }
      onLog()
    })
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the KVS benchmark (${kind}) did not finish within 10 minutes`)), 600_000)
    })
    await Promise.race([run.done, finished, timeout])
  } finally {
    clearTimeout(timer)
    run.stop()
  }
  const result = await run.done
  rmSync(sockets, { recursive: true, force: true })
  const failed = result.units.filter((u) => u.status === 'failed')
  if (failed.length > 0 || result.reason === 'start-failed') {
    throw new Error(`the KVS benchmark (${kind}) failed: ${failed.map((u) => u.error).join('; ')}\n${logs.map((l) => `[${l.source}] ${l.text}`).join('\n')}`)
  }
  return JSON.parse(readFileSync(out, 'utf8')) as WorkloadResult
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchKvs({ quick: process.argv.includes('--quick') })
  for (const row of rows) {
    const ratio =
      row.baseline === undefined
        ? ''
        : `  raw lmdb-js ${Math.round(row.baseline).toLocaleString('en')} ${row.unit}, ratio ${(row.value / row.baseline).toFixed(2)}`
    process.stdout.write(`${row.name.padEnd(32)} ${Math.round(row.value).toLocaleString('en').padStart(10)} ${row.unit}${ratio}\n`)
  }
}
