/**
 * Statistics of the benchmarks. Every figure is measured in several rounds after a warm-up;
 * each round is summarised on its own (p50, p99, max), and the figure reports the median of
 * those per-round values, so one disturbed round (a GC, another process) does not decide it.
 */

/** p50, p99 and max of one set of samples (or the medians of those over rounds). */
export interface Distribution {
  p50: number
  p99: number
  max: number
  /** Samples in one round (for medians over rounds: in the median round). */
  n: number
}

/** The `p`-th percentile (0..100) of ascending `sorted`, by the nearest-rank method. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

/** The median of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** p50, p99 and max of one round. */
export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
    n: sorted.length,
  }
}

/** Summarise each round, then take the median of each statistic over the rounds. */
export function medianOfRounds(rounds: readonly (readonly number[])[]): Distribution {
  const each = rounds.map(distribution)
  return {
    p50: median(each.map((d) => d.p50)),
    p99: median(each.map((d) => d.p99)),
    max: median(each.map((d) => d.max)),
    n: median(each.map((d) => d.n)),
  }
}
