/**
 * How much each measurement does, full run and --quick. Counts are per round; each figure is
 * the median over its rounds. Sized so the full run stays around 20-25 minutes on 2 cores. --quick
 * is the test suite's smoke check (test/bench/quick.test.ts): it only has to prove that every
 * section runs and reports its figures, so it does the least that yields each one (its numbers
 * are not worth comparing).
 */
import { SIZES, type LatencyPhase, type SizeLabel, type StreamPhase } from './harness.js'

// 8 B is the first size each round measures, right after its dataflow started: with 300
// round trips of warm-up it read slower than 1 KB on every dora-ts path (node -> node direct
// 313 against 261 us, p99 3.9 ms), the JIT and the start-up still settling; with 2000, 202 us
// (p99 1.5 ms) against 1 KB's 226, the baselines barely moved (157 -> 148 us).
// 64 KB likewise, since payloads of 8 KiB and more on a reliable direct link are read from its
// log (2026-12-05): the first size that takes that path in a fresh node, its first 500 round
// trips after 200 of warm-up read 427-501 us, the next ones 255-333 (one dataflow, 64 KB
// rounds one after the other; the socket path 324-438 throughout). With 1000 the figure is the
// path's steady state, as it is at 8 B.
const LATENCY_FULL: Record<SizeLabel, { warmup: number; count: number }> = {
  '8B': { warmup: 2000, count: 1000 },
  '1KB': { warmup: 300, count: 1000 },
  '64KB': { warmup: 1000, count: 500 },
  '1MB': { warmup: 20, count: 100 },
  '4MB': { warmup: 5, count: 30 },
  '16MB': { warmup: 2, count: 10 },
}
const LATENCY_QUICK: Record<SizeLabel, { warmup: number; count: number }> = {
  '8B': { warmup: 5, count: 20 },
  '1KB': { warmup: 5, count: 20 },
  '64KB': { warmup: 2, count: 10 },
  '1MB': { warmup: 1, count: 5 },
  '4MB': { warmup: 1, count: 3 },
  '16MB': { warmup: 1, count: 2 },
}

/** Rounds per figure: 1 with --quick, else `DORA_TS_BENCH_ROUNDS` (default 5; fewer for a shorter run on a busy machine). */
export const rounds = (quick: boolean): number => (quick ? 1 : Math.max(1, Number(process.env['DORA_TS_BENCH_ROUNDS'] ?? 5) || 5))

/** Back-to-back round trips for each size in `labels`. */
export function latencyPhases(quick: boolean, labels: readonly SizeLabel[]): LatencyPhase[] {
  const table = quick ? LATENCY_QUICK : LATENCY_FULL
  return labels.map((label) => ({ label, size: SIZES[label], ...table[label], rounds: rounds(quick) }))
}

/**
 * 1 KB round trips paced at 1000 messages/s (the p99 <= 3x p50 target), after 3 s of them
 * unrecorded. Each round is a fresh dataflow and this phase follows the 16 MB round trips:
 * when the pace starts, V8 compiles the paths a paced loop takes (TurboFan, on worker threads
 * of both nodes) for about 3 s, and on 2 cores those compiles delay the messages. With 100
 * paced round trips of warm-up, node -> node direct read p99 7.2-11.9x its p50 (bare
 * zeromq.js 3.5-4.2x); with 3 000, 2.8-3.3x (bench/RESULTS.md, "The 1 kHz p99 ..."). A
 * robot's control loop runs for hours: the figure is its steady state, the first seconds are
 * described in the README.
 */
export const PACED_LABEL = '1KB@1000/s'
export function pacedPhase(quick: boolean): LatencyPhase {
  return { label: PACED_LABEL, size: 1024, warmup: quick ? 5 : 3000, rounds: rounds(quick), count: quick ? 20 : 1000, intervalMs: 1 }
}

/**
 * At most this many messages in flight: the sender waits for an ack every WINDOW messages.
 * Without a window a slow receiver loses messages in dora-ts today (the supervisor's ROUTER
 * drops at its send high-water mark of 1000, even under queue_policy backpressure).
 */
export const WINDOW = 500

/** One-way streams for throughput: 8 B and 64 KB. */
export function streamPhases(quick: boolean): StreamPhase[] {
  return [
    { label: '8B', size: 8, warmup: quick ? 100 : 5000, rounds: rounds(quick), count: quick ? 200 : 20_000, window: WINDOW },
    { label: '64KB', size: 64 * 1024, warmup: quick ? 20 : 1000, rounds: rounds(quick), count: quick ? 50 : 2000, window: WINDOW },
  ]
}

/** A robot's camera: 4 MB frames at 30 Hz, round trip per frame. */
export const CAMERA_LABEL = '4MB@30Hz'
export function cameraPhase(quick: boolean): LatencyPhase {
  return { label: CAMERA_LABEL, size: SIZES['4MB'], warmup: quick ? 1 : 5, rounds: rounds(quick), count: quick ? 3 : 60, intervalMs: 33 }
}

/**
 * One-way streams at every size; the window (messages in flight before an ack) shrinks with
 * the size so that at most ~64 MB is in flight, in tmpfs or in socket buffers.
 */
export function nodeStreamPhases(quick: boolean): StreamPhase[] {
  const phase = (label: keyof typeof SIZES, warmup: number, count: number): StreamPhase => {
    const size = SIZES[label]
    return {
      label,
      size,
      warmup: quick ? Math.min(warmup, 5) : warmup,
      rounds: rounds(quick),
      count: quick ? Math.min(count, 10) : count,
      window: Math.max(2, Math.min(WINDOW, Math.floor((64 << 20) / size))),
    }
  }
  return [phase('8B', 5000, 20_000), phase('1KB', 2000, 10_000), phase('64KB', 500, 2000), phase('1MB', 20, 200), phase('4MB', 5, 50), phase('16MB', 2, 12)]
}
