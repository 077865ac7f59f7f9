/**
 * The benchmark's smoke check: `node dist/bench/main.js --quick` must produce every figure as a
 * finite number, the compared ones with their baseline and ratio. It never asserts a time:
 * benchmarks measure, the README compares. --quick runs each measurement with the least work
 * that yields its figure (bench/plans.ts), and the scale and fan-out sections with their two
 * smallest sizes (the full run's 50 processes and 16 receivers prove nothing more here).
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../fixtures/paths.js'

const MAIN = join(ROOT, 'dist', 'bench', 'main.js')

interface Figure {
  id: string
  value: number
  p99?: number
  max?: number
  baseline?: number
  ratio?: number
}

const sizes = ['8B', '1KB', '64KB', '1MB', '4MB', '1KB@1000/s']
const pair = (section: string): string[] => [
  ...sizes.map((s) => `${section}.rtt.${s}`),
  ...['8B', '64KB'].flatMap((s) => [`${section}.tput.${s}.msgs`, `${section}.tput.${s}.mbs`]),
]
/** The sizes --quick runs (bench/scale.ts SCALE_COUNTS_QUICK, bench/fan-out.ts FAN_OUT_QUICK). */
const SCALE = [1, 4]
const FAN_OUT = [1, 4]
/** Every figure the issue asks for; those with a baseline measured in the same run. */
const WITH_BASELINE = [
  'cli.version',
  'cli.list',
  ...pair('node-node'),
  // Issue 15: up to 16 MB, the camera stream, and the same plans with shared memory off.
  ...['16MB', '4MB@30Hz'].map((s) => `node-node.rtt.${s}`),
  ...['1KB', '1MB', '4MB', '16MB'].map((s) => `node-node.tput.${s}.mbs`),
  ...['64KB', '4MB', '16MB', '4MB@30Hz'].map((s) => `node-node-socket.rtt.${s}`),
  ...['64KB', '16MB'].map((s) => `node-node-socket.tput.${s}.mbs`),
  // A streaming node's sends pipelined instead of awaited one by one.
  ...['8B', '64KB'].flatMap((s) => [`node-node-pipelined.tput.${s}.msgs`, `node-node-pipelined.tput.${s}.mbs`]),
  // Issue 15: best-effort links, the same plans node to node without the supervisor.
  ...pair('node-node-best-effort'),
  'node-node-best-effort.rtt.16MB',
  'node-node-best-effort.rtt.4MB@30Hz',
  // Reliable direct links (the default between custom nodes): the same plans through link logs.
  ...pair('node-node-direct'),
  'node-node-direct.rtt.16MB',
  'node-node-direct.rtt.4MB@30Hz',
  ...pair('operator-operator'),
  // Best-effort links between operators: the same plans outside the outbox.
  ...pair('operator-operator-best-effort'),
  // Direct links between operators: the best-effort pair, worker to worker.
  ...pair('operator-operator-linked'),
  // Issue 15: node -> operator round trips (camera stream too) and throughput at every size.
  ...['8B', '1KB', '64KB', '1MB', '4MB', '16MB', '4MB@30Hz'].map((s) => `node-operator.rtt.${s}`),
  ...['8B', '1KB', '64KB', '1MB', '4MB', '16MB'].flatMap((s) => [`node-operator.tput.${s}.msgs`, `node-operator.tput.${s}.mbs`]),
  ...['8B', '64KB'].flatMap((s) => [`node-operator-pipelined.tput.${s}.msgs`, `node-operator-pipelined.tput.${s}.mbs`]),
  ...SCALE.flatMap((n) => [`scale.operators.${n}.rss`, `scale.nodes.${n}.rss`]),
  ...['16B', '1KB', '64KB'].flatMap((s) => [`state.commit.${s}`, `state.operator.${s}`]),
  // The 1 kHz tail (p99 / p50) beside its baseline's, on every path that runs the paced phase.
  ...['node-node', 'node-node-best-effort', 'node-node-direct', 'operator-operator', 'operator-operator-best-effort', 'operator-operator-linked'].map(
    (section) => `${section}.tail.1KB@1000/s`,
  ),
  // Fan-out beside bare zeromq.js processes at each receiver count, and the spread from one
  // receiver to the most (the target's figure) for both.
  ...['fan-out', 'node-node-best-effort-fan-out', 'node-node-direct-fan-out'].flatMap((section) => [
    ...FAN_OUT.map((n) => `${section}.${n}`),
    `${section}.spread`,
  ]),
]
const WITHOUT_BASELINE = [
  ...['8B', '1KB', '64KB', '1MB', '4MB', '16MB', '4MB@30Hz'].flatMap((s) => [`node-operator.n2o.${s}`, `node-operator.o2n.${s}`]),
  ...['operator', 'node'].flatMap((who) => [`timer.${who}.interval`, `timer.${who}.jitter`]),
  ...SCALE.flatMap((n) => [`scale.operators.${n}.startup`, `scale.nodes.${n}.startup`]),
  'state.operator.none',
  'state.restore.1KB',
  'state.restore.10MB',
]
/** Figures that are distributions (p50, p99, max). */
const DISTRIBUTIONS = /\.(rtt|n2o|o2n|interval|jitter|restore)\.|fan-out\.\d/

/**
 * Run the quick benchmark; kill it (and say so in stderr) if it prints nothing for `stallMs`.
 * A stall, not a total time: the bench reports each step as it starts, and its total time
 * grows with the machine's load (once 40 s idle, killed at a 220 s total limit with load 33
 * while it was still making progress; with today's plan 50 s at load 18).
 */
function runQuick(out: string, stallMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Run it plain: tap's process tracking and coverage (NODE_OPTIONS, NODE_V8_COVERAGE) would
  // follow it into every node process and worker it starts and slow them all down (removing
  // NODE_OPTIONS here is not enough under tap: see test/fixtures/plain-children.mjs).
  const env = { ...process.env }
  delete env['NODE_OPTIONS']
  delete env['NODE_V8_COVERAGE']
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, '--quick', '--out', out], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      stderr += `\n(killed: no output for ${stallMs} ms)`
      child.kill('SIGKILL')
    }, stallMs)
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      timer.refresh()
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
      timer.refresh()
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

// --quick takes about 10 s on an idle 2-core machine. A step that prints nothing for
// STALL_MS has hung; the total limit is only tap's last resort, far above any working run.
const STALL_MS = 180_000
const TOTAL_MS = 30 * 60_000
t.setTimeout(TOTAL_MS + 20_000)

t.test('npm run bench -- --quick produces every figure', { timeout: TOTAL_MS + 10_000 }, async (t) => {
  const out = join(t.testdir({}), 'results.json')
  const { code, stdout, stderr } = await runQuick(out, STALL_MS)
  t.equal(code, 0, 'the benchmark exits cleanly', { stderr })
  if (code !== 0) return
  const results = JSON.parse(readFileSync(out, 'utf8')) as {
    figures: Figure[]
    errors: unknown[]
    node: string
    date: string
    machine: { cpu: string; cores: number }
  }
  t.same(results.errors, [], 'no section failed')
  t.equal(results.node, process.version)
  t.ok(Number.isFinite(Date.parse(results.date)), 'the run is dated')
  t.ok(results.machine.cores > 0 && results.machine.cpu.length > 0, 'the machine is described')
  t.match(stdout, /\| section \| figure \|/, 'a table is printed')

  const byId = new Map(results.figures.map((f) => [f.id, f]))
  const finite = (v: number | undefined): boolean => typeof v === 'number' && Number.isFinite(v)
  for (const id of [...WITH_BASELINE, ...WITHOUT_BASELINE]) {
    const f = byId.get(id)
    if (f === undefined) {
      t.fail(`figure ${id} is missing`)
      continue
    }
    const ok =
      finite(f.value) &&
      (!DISTRIBUTIONS.test(id) || (finite(f.p99) && finite(f.max))) &&
      (!WITH_BASELINE.includes(id) || (finite(f.baseline) && finite(f.ratio)))
    t.ok(ok, `figure ${id} is a finite number${WITH_BASELINE.includes(id) ? ', with its baseline' : ''}`, { found: f })
  }

  // One-way legs are read across processes (a stamp from the echo's clock against the sender's),
  // so they must agree with the round trip: a leg below zero or above the round trip's max means
  // the processes' clocks disagree (performance.timeOrigin once put them 4.49 s apart).
  for (const size of ['8B', '1KB', '64KB', '1MB', '4MB', '16MB', '4MB@30Hz']) {
    const rtt = byId.get(`node-operator.rtt.${size}`)
    for (const leg of ['n2o', 'o2n']) {
      const f = byId.get(`node-operator.${leg}.${size}`)
      if (f === undefined || rtt?.max === undefined) continue
      t.ok(f.value >= 0 && f.value <= rtt.max, `one-way ${leg} ${size}: p50 ${f.value} µs within 0..${rtt.max} µs (the round trip's max)`)
    }
  }

  // bench/kvs.ts is written separately; when it is built, its rows must be there too.
  const kvs = results.figures.filter((f) => f.id.startsWith('kvs.'))
  if (existsSync(join(ROOT, 'dist', 'bench', 'kvs.js'))) {
    t.ok(kvs.length > 0, 'the KVS rows are included')
    for (const f of kvs) t.ok(finite(f.value) && (f.baseline === undefined || finite(f.baseline)), `KVS figure ${f.id} is a finite number`)
  } else {
    t.equal(kvs.length, 0, 'no KVS rows without bench/kvs.ts')
  }
})
