/**
 * Wall-clock time for message headers: a monotonic clock (performance.now()) plus this realm's
 * offset to the wall clock, measured once.
 *
 * Why not `performance.timeOrigin`: Node reads it at start-up, and on a loaded machine the
 * process can be held up between that reading and the monotonic one it pairs with, so stamps
 * from one process ran 10-21 ms off the wall clock (1 in 12 starts at load ~20). Here every
 * (Date.now() - performance.now()) is a lower bound of the true offset (Date.now() truncates to
 * the millisecond, and performance.now() is read after it). When two reads microseconds apart
 * straddle a millisecond tick, the wall clock was exactly that millisecond between them, so the
 * second bound is within their gap of the truth: we read until we see such a tick. A preempted
 * read only gives a looser bound, never a wrong one; the largest bound seen is kept.
 */

/** Milliseconds to add to performance.now() for the wall clock; measured on first use. */
let offsetMs: number | undefined

/** Reads closer together than this pin a tick (ms). */
const CLEAN_GAP_MS = 0.02
/** Give up looking for a clean tick after this long (ms): the bound is then within ~1 ms. */
const MEASURE_FOR_MS = 20

function measureOffsetMs(): number {
  let previousWall = Date.now()
  let previousMono = performance.now()
  let best = previousWall - previousMono
  const until = previousMono + MEASURE_FOR_MS
  for (;;) {
    const wall = Date.now()
    const mono = performance.now()
    if (wall - mono > best) best = wall - mono
    if ((wall === previousWall + 1 && mono - previousMono < CLEAN_GAP_MS) || mono > until) return best
    previousWall = wall
    previousMono = mono
  }
}

/** Wall-clock nanoseconds since the Unix epoch, with microsecond resolution. */
export function nowNs(): bigint {
  offsetMs ??= measureOffsetMs()
  return BigInt(Math.round((offsetMs + performance.now()) * 1e3)) * 1000n
}
