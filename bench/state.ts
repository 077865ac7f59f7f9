/**
 * 7. state: how fast operator state commits, and how long a crashed operator takes to come back.
 *
 * - StateStore API: OperatorState.commit() of one key per event (plus the event's meta record,
 *   in the same synchronous LMDB transaction, durability `process`), against raw lmdb-js
 *   `transactionSync` putting the same value with the same commit flags.
 * - Through a real operator: an operator wired to itself saves the value on every event; its
 *   event rate against the same loop saving nothing.
 * - Crash-to-restored: from the moment a handler throws to the moment the restarted operator
 *   (restart_delay 0) handles its first event after restoreState, for 1 KB and 10 MB of state.
 *   Each instance runs RUN_BEFORE_CRASH_MS before it crashes, as a real operator runs a while:
 *   time for the spare thread an operator keeps after its first crash to start (worker-launch.ts).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { lmdbJs } from '../src/store/lmdb/lmdb-js.js'
import { StateStore } from '../src/store/state/store.js'
import { fixture, freshDir, linesMatching, readJson, runDataflow, sizeText, writeJson, type SectionContext, type StreamResult } from './harness.js'
import { rounds } from './plans.js'
import { latencyFigure, rateFigure, type Figure } from './report.js'
import { distribution } from './stats.js'

const SECTION = 'state'
const COMMIT_SIZES = { '16B': 16, '1KB': 1024, '64KB': 64 * 1024 } as const
// lmdb-js TransactionFlags, as the state store commits with durability 'process':
// ABORTABLE | SYNCHRONOUS_COMMIT | NO_SYNC_FLUSH (MDB_NOSYNC for this transaction).
const PROCESS_COMMIT_FLAGS = 0x1 | 0x2 | 0x10000
const RESTORE_SIZES = { '1KB': 1024, '10MB': 10 * 1024 * 1024 } as const
/** How long each restarted instance works before it crashes again. */
const RUN_BEFORE_CRASH_MS = 500

export async function benchState(ctx: SectionContext): Promise<Figure[]> {
  return [...(await commits(ctx)), ...(await operatorLoop(ctx)), ...(await restores(ctx)), ...(await nodeRestarts(ctx))]
}

function commitsPerRound(quick: boolean, size: number): number {
  const n = size > 4096 ? 2000 : 10_000
  return quick ? n / 100 : n
}

/**
 * Commits per second of each of `commits` over `rounds` rounds of `count`, after a warm-up,
 * the rounds alternating between them (so a change in the machine's state hits both).
 */
function alternatingRates(count: number, roundCount: number, commits: ReadonlyArray<(i: number) => void>): number[][] {
  let i = 0
  for (const commit of commits) for (let k = 0; k < count / 5; k++) commit(i++)
  const out = commits.map((): number[] => [])
  for (let r = 0; r < roundCount; r++) {
    for (const [c, commit] of commits.entries()) {
      const t0 = performance.now()
      for (let k = 0; k < count; k++) commit(i++)
      out[c]?.push(count / ((performance.now() - t0) / 1000))
    }
  }
  return out
}

async function commits(ctx: SectionContext): Promise<Figure[]> {
  const figures: Figure[] = []
  const store = StateStore.open({ dir: freshDir(ctx.tmp, 'store'), durability: 'process' })
  const rawDir = freshDir(ctx.tmp, 'raw')
  const env = lmdbJs().open<Buffer, Buffer>({
    path: rawDir,
    noSubdir: false,
    maxDbs: 16,
    mapSize: 2 ** 30,
    noSync: false,
    overlappingSync: false,
    keyEncoding: 'binary',
    encoding: 'binary',
  })
  try {
    const raw = env.openDB<Buffer, Buffer>({ name: 'raw', keyEncoding: 'binary', encoding: 'binary' })
    for (const [label, size] of Object.entries(COMMIT_SIZES)) {
      ctx.progress(`saveState commits of ${label}: StateStore vs raw lmdb-js`)
      const value = new Uint8Array(size).fill(9)
      const count = commitsPerRound(ctx.quick, size)
      const op = store.operator(`bench/commit-${label}`)
      const seen = new Map<string, [bigint, number]>()
      const key = Buffer.from(`value-${label}`)
      const buffer = Buffer.from(value)
      const [dora = [], base = []] = alternatingRates(count, rounds(ctx.quick), [
        (i) => op.commit([{ key: 'value', value }], { lastEvent: BigInt(i + 1), seen }),
        () => env.transactionSync(() => raw.putSync(key, buffer), PROCESS_COMMIT_FLAGS),
      ])
      figures.push(
        rateFigure(
          {
            id: `${SECTION}.commit.${label}`,
            section: SECTION,
            label: `saveState commit of ${sizeText(label)} (StateStore API)`,
            unit: 'commits/s',
            rounds: dora.length,
            samples: count,
            baselineLabel: 'raw lmdb-js',
          },
          dora,
          base,
        ),
      )
    }
  } finally {
    store.close()
    await env.close()
  }
  return figures
}

async function operatorLoop(ctx: SectionContext): Promise<Figure[]> {
  const dir = freshDir(ctx.tmp, 'loop')
  const count = ctx.quick ? 30 : 2000
  // Rounds interleaved (none, 16 B, 1 KB, 64 KB, none, ...), one each: run one label's rounds
  // after another's and the first label ran cold (the self-loop sped up for a while after
  // start), reading the sizes after it as faster than no state at all (1 KB at 1.29x).
  const sizes = [{ label: 'none', size: 0 }, ...Object.entries(COMMIT_SIZES).map(([label, size]) => ({ label, size }))]
  const phases = Array.from({ length: rounds(ctx.quick) }, () => sizes.map((p) => ({ ...p, warmup: count / 5, rounds: 1, count }))).flat()
  const out = join(dir, 'result.json')
  const env = { BENCH_PLAN: writeJson(join(dir, 'plan.json'), { phases }), BENCH_OUT: out }
  const dataflow = {
    name: 'bench-state-loop',
    nodes: [
      {
        id: 'loop',
        env,
        operator: { javascript: fixture('state-loop.mjs'), inputs: { self: { source: 'loop/out', queue_policy: 'backpressure' } }, outputs: ['out'] },
      },
    ],
  }
  ctx.progress('saveState through a real operator')
  await runDataflow(dir, dataflow, { timeoutMs: 180_000, until: (logs) => linesMatching(logs, /^BENCH_DONE/) > 0 })
  const result = readJson<StreamResult>(out)
  const eventRates = (label: string): number[] => {
    const r = result[label]
    if (r === undefined) throw new Error(`the state loop reported nothing for ${label}`)
    return r.elapsedMs.map((ms) => r.count / (ms / 1000))
  }
  const none = eventRates('none')
  const figures: Figure[] = [
    rateFigure(
      {
        id: `${SECTION}.operator.none`,
        section: SECTION,
        label: 'operator events, no state (self-loop)',
        unit: 'events/s',
        rounds: none.length,
        samples: count,
      },
      none,
    ),
  ]
  for (const label of Object.keys(COMMIT_SIZES)) {
    const r = eventRates(label)
    figures.push(
      rateFigure(
        {
          id: `${SECTION}.operator.${label}`,
          section: SECTION,
          label: `operator events, saveState of ${sizeText(label)} each`,
          unit: 'events/s',
          rounds: r.length,
          samples: count,
          baselineLabel: 'no state',
        },
        r,
        none,
      ),
    )
  }
  return figures
}

async function restores(ctx: SectionContext): Promise<Figure[]> {
  const figures: Figure[] = []
  const crashes = ctx.quick ? 2 : 11 // the first one warms up
  for (const [label, size] of Object.entries(RESTORE_SIZES)) {
    const dir = freshDir(ctx.tmp, `restore-${label}`)
    const env = { BENCH_PLAN: writeJson(join(dir, 'plan.json'), { size, crashes, runMs: RUN_BEFORE_CRASH_MS }) }
    const dataflow = {
      name: 'bench-restore',
      nodes: [
        {
          id: 'crash',
          env,
          restart_policy: 'on-failure',
          restart_delay: 0,
          operator: { javascript: fixture('crash-op.mjs'), inputs: { self: { source: 'crash/out', queue_policy: 'backpressure' } }, outputs: ['out'] },
        },
      ],
    }
    ctx.progress(`crash-to-restored with ${label} of state (${crashes} crashes)`)
    const { logs } = await runDataflow(dir, dataflow, { timeoutMs: 180_000, until: (l) => linesMatching(l, /^BENCH_DONE/) > 0 })
    const crashedAt = logs.flatMap((l) => /^CRASH_AT (\S+)/.exec(l.text)?.[1] ?? []).map(Number)
    const restored = logs.flatMap((l) => {
      const m = /^RESTORED_AT (\S+) (\S+)/.exec(l.text)
      return m === null ? [] : [{ at: Number(m[1]), bytes: Number(m[2]) }]
    })
    if (crashedAt.length !== crashes || restored.length !== crashes)
      throw new Error(`expected ${crashes} crashes and restores, saw ${crashedAt.length} and ${restored.length}`)
    const wrong = restored.find((r) => r.bytes !== size)
    if (wrong !== undefined) throw new Error(`an operator restored ${wrong.bytes} bytes of state, not ${size}`)
    const ms = crashedAt.map((t, i) => (restored[i] as { at: number }).at - t).slice(1)
    figures.push(
      latencyFigure(
        {
          id: `${SECTION}.restore.${label}`,
          section: SECTION,
          label: `crash -> restored -> first event, ${sizeText(label)} of state`,
          unit: 'ms',
          rounds: 1,
          note: `restart_delay 0, crashes ${RUN_BEFORE_CRASH_MS} ms apart`,
        },
        distribution(ms),
      ),
    )
  }
  return figures
}

/** How a custom node's program runs: a `.js` file with node, a `.ts` file through tsx. */
const NODE_RUNTIMES = [
  { label: '.js', file: (name: string) => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url)), args: [] as string[] },
  { label: '.ts', file: (name: string) => fixture(`${name}.ts`), args: ['--import', import.meta.resolve('tsx')] },
] as const

/**
 * A custom node's crash -> restarted process -> first event, `.js` and `.ts`: the time from its
 * CRASH_AT (just before exit(1)) to the restarted process's first input. Beside it, the floor
 * no runtime can go under: a bare program of the same kind from spawn() to its first line
 * (bench/fixtures/first-line.ts), spawned by this process as the supervisor spawns a node.
 */
async function nodeRestarts(ctx: SectionContext): Promise<Figure[]> {
  const figures: Figure[] = []
  const crashes = ctx.quick ? 2 : 11 // the first one warms up
  for (const runtime of NODE_RUNTIMES) {
    const dir = freshDir(ctx.tmp, `node-restart-${runtime.label.slice(1)}`)
    const dataflow = {
      name: 'bench-node-restart',
      nodes: [
        {
          id: 'crash',
          path: runtime.file('crash-node'),
          env: { CRASHES: String(crashes), RUN_MS: String(RUN_BEFORE_CRASH_MS) },
          restart_policy: 'on-failure',
          restart_delay: 0,
          inputs: { tick: 'dora/timer/millis/1' },
        },
      ],
    }
    ctx.progress(`custom node (${runtime.label}) crash-to-restarted (${crashes} crashes)`)
    const { logs } = await runDataflow(dir, dataflow, { timeoutMs: 180_000, until: (l) => linesMatching(l, /^BENCH_DONE/) > 0 })
    const stamps = (re: RegExp) => logs.flatMap((l) => re.exec(l.text)?.[1] ?? []).map(Number)
    const crashedAt = stamps(/^CRASH_AT (\S+)/)
    const restartedAt = stamps(/^RESTARTED_AT (\S+)/)
    if (crashedAt.length !== crashes || restartedAt.length !== crashes)
      throw new Error(`expected ${crashes} crashes and restarts, saw ${crashedAt.length} and ${restartedAt.length}`)
    const ms = crashedAt.map((t, i) => (restartedAt[i] as number) - t).slice(1)
    const bare: number[] = []
    for (let i = 0; i < crashes; i++) bare.push(await firstLineMs(runtime.args, runtime.file('first-line')))
    figures.push(
      latencyFigure(
        {
          id: `${SECTION}.node-restart.${runtime.label.slice(1)}`,
          section: SECTION,
          label: `custom node (${runtime.label}) crash -> restarted -> first event`,
          unit: 'ms',
          rounds: 1,
          baselineLabel: `bare ${runtime.label} start`,
          note: `restart_delay 0, a 1 ms timer; baseline: spawn -> first line of a ${runtime.label} program that only prints`,
        },
        distribution(ms),
        distribution(bare.slice(1)),
      ),
    )
  }
  return figures
}

/** Spawn `node [args] file` and time spawn() -> the FIRST_LINE stamp it prints, in ms. */
async function firstLineMs(args: readonly string[], file: string): Promise<number> {
  const started = Number(process.hrtime.bigint()) / 1e6
  const child = spawn(process.execPath, [...args, file], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  const [code] = (await once(child, 'close')) as [number | null]
  const stamp = /^FIRST_LINE (\S+)/m.exec(out)?.[1]
  if (code !== 0 || stamp === undefined) throw new Error(`${file} exited with ${code} and printed ${JSON.stringify(out)}`)
  return Number(stamp) - started
}
