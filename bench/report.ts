/**
 * Figures, the printed table and bench/results.json. A figure is one line of the table: a
 * headline value (p50 for latencies, the rate for throughputs), with p99 and max where it is
 * a distribution, and the same statistic of the baseline measured in the same run.
 */
import { execFileSync } from 'node:child_process'
import { cpus, arch, getPriority, loadavg, platform, release, totalmem } from 'node:os'
import type { Distribution } from './stats.js'
import { median } from './stats.js'

export interface Figure {
  /** Stable id, e.g. `node-node.rtt.8B`: what the smoke test checks. */
  id: string
  section: string
  label: string
  unit: string
  /** p50 for a latency, the median of the rounds for a rate. */
  value: number
  p99?: number
  max?: number
  /** The baseline's value of the same statistic, measured in the same run. */
  baseline?: number
  baselineP99?: number
  baselineMax?: number
  /** What the baseline is, shortly. */
  baselineLabel?: string
  /** value / baseline (dora-ts / baseline): above 1 is slower for times, faster for rates. */
  ratio?: number
  rounds: number
  /** Samples per round (latencies) or messages per round (rates). */
  samples?: number
  note?: string
}

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  arch: string
  /** 1-minute load average when the run started: other work on the machine skews figures. */
  loadAtStart: number
  /** The benchmark's nice value (0 unless run under `nice`). */
  nice: number
}

export interface Results {
  machine: Machine
  node: string
  date: string
  /** The commit measured (`-dirty` when the work tree had changes), when known. */
  commit: string
  quick: boolean
  sections: string[]
  durationS: number
  figures: Figure[]
  /** Sections that failed, with the error: their figures are missing. */
  errors: Array<{ section: string; error: string }>
}

export function machine(): Machine {
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    arch: arch(),
    loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    nice: getPriority(),
  }
}

/** The commit of the checkout at `root` (DORA_TS_BENCH_COMMIT outside a git checkout), `-dirty` when its code differs. */
export function commitOf(root: string): string {
  const given = process.env['DORA_TS_BENCH_COMMIT']
  if (given !== undefined && given !== '') return given
  try {
    const git = (...args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const head = git('rev-parse', '--short', 'HEAD')
    // bench/RESULTS.md is the bench's own output (a full run rewrites it): a change there is
    // not a change to what is measured.
    return git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md') === '' ? head : `${head}-dirty`
  } catch {
    return 'unknown'
  }
}

interface Common {
  id: string
  section: string
  label: string
  rounds: number
  baselineLabel?: string
  note?: string
}

/** A latency figure (µs or ms) from medians over rounds, with an optional baseline. */
export function latencyFigure(common: Common & { unit: string }, d: Distribution, base?: Distribution): Figure {
  const figure: Figure = { ...common, value: d.p50, p99: d.p99, max: d.max, samples: d.n }
  if (base !== undefined) {
    figure.baseline = base.p50
    figure.baselineP99 = base.p99
    figure.baselineMax = base.max
    figure.ratio = d.p50 / base.p50
  }
  return figure
}

/** A rate figure: the median of the per-round rates, with an optional baseline. */
export function rateFigure(common: Common & { unit: string; samples?: number }, rates: readonly number[], baseRates?: readonly number[]): Figure {
  const value = median(rates)
  const figure: Figure = { ...common, value }
  if (baseRates !== undefined) {
    figure.baseline = median(baseRates)
    figure.ratio = value / figure.baseline
  }
  return figure
}

/** A ratio of a path to itself (unit `x`: a p99 over a p50, or over another p99), beside its baseline's. */
export function selfRatioFigure(common: Common, value: number, baseline: number): Figure {
  return { ...common, unit: 'x', value, baseline, ratio: value / baseline }
}

/** Format a number with about 3 significant digits, thousands grouped. */
export function fmt(value: number | undefined): string {
  if (value === undefined) return ''
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toFixed(3)
}

const SECTION_TITLES: Record<string, string> = {
  'node-node': 'node -> node',
  'operator-operator': 'operator -> operator',
  'operator-operator-best-effort': 'operator -> operator, best effort',
  'operator-operator-linked': 'operator -> operator, linked (worker to worker)',
  'node-operator': 'node <-> operator',
  timer: 'timer jitter',
  'fan-out': 'fan-out',
  scale: 'scale',
  state: 'state',
  kvs: 'KVS',
}

/** The results as one Markdown table (also readable in a terminal). */
export function table(results: Results): string {
  const lines = [
    `Machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.os} (${results.machine.arch}), load ${results.machine.loadAtStart} at start${results.machine.nice === 0 ? '' : `, run at nice ${results.machine.nice}`}; Node ${results.node}; commit ${results.commit}; ${results.date}${results.quick ? ' (--quick: few rounds, smoke check only)' : ''}`,
    '',
    '| section | figure | value (p50) | p99 | max | unit | baseline (p50) | dora-ts / baseline | rounds x samples |',
    '|---|---|--:|--:|--:|---|--:|--:|--:|',
  ]
  for (const f of results.figures) {
    const base = f.baseline === undefined ? '' : `${fmt(f.baseline)}${f.baselineLabel === undefined ? '' : ` (${f.baselineLabel})`}`
    const ratio = f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x`
    const size = f.samples === undefined ? `${f.rounds}` : `${f.rounds} x ${Math.round(f.samples).toLocaleString('en-US')}`
    lines.push(
      `| ${SECTION_TITLES[f.section] ?? f.section} | ${f.label} | ${fmt(f.value)} | ${fmt(f.p99)} | ${fmt(f.max)} | ${f.unit} | ${base} | ${ratio} | ${size} |`,
    )
  }
  for (const e of results.errors) lines.push('', `**${e.section} failed:** ${e.error.split('\n')[0]}`)
  lines.push('', `${results.figures.length} figures in ${results.durationS.toFixed(0)} s.`)
  return lines.join('\n')
}

/**
 * bench/RESULTS.md: the table of a full run, with how to read it, followed by the sections of
 * measurements and analysis kept in `previous` (the file as it was: everything from its first
 * \`## \` heading on), which a new run must not erase.
 */
export function resultsMarkdown(results: Results, previous = ''): string {
  const heading = previous.search(/^## /m)
  const kept = heading < 0 ? '' : `\n${previous.slice(heading).trimEnd()}\n`
  return `# Benchmark results

The latest full run of \`npm run bench\` (the README's Benchmarks section says how to run it and
where we stand against each target).

How to read it: every figure was measured in several rounds after a warm-up. For times, *value*
is the p50 and *p99* / *max* are the p99 and max, each the median over the rounds of that
round's statistic; for rates, *value* is the median of the rounds' rates. The baseline ran in the
same run, its rounds alternating with dora-ts's, so the ratio compares like with like:
dora-ts / baseline above 1 is slower for times, below 1 is slower for rates. KB and MB are
binary (1 KB = 1024 bytes, MB/s = 2^20 bytes per second). One-way latencies across processes
use the monotonic clock (CLOCK_MONOTONIC), which every process on one machine shares.

${table(results)}
${kept}`
}
