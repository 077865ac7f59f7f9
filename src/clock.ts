/**
 * Wall-clock time for message headers: a monotonic clock (performance.now()) plus this realm's
 * offset to the wall clock, measured once and again when the wall clock is set.
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
/** performance.now() before which a reading below the offset is taken for a preempted read. */
let backwardCheckAfterMs = 0

/** A wall clock this far from the offset has been set (ms): beyond Date.now()'s truncation and noise. */
const STEP_MS = 2
/** At most one re-measurement a second for a reading below the offset (which preemption also gives). */
const BACKWARD_RECHECK_MS = 1000

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

/**
 * Follow a wall clock that was set (an NTP step, a robot without a real-time clock getting the
 * date minutes after boot, `date -s`): stamps kept the offset measured at the first message,
 * and a dataflow started at boot stamped its messages in 1970 for the rest of its run.
 * Slewing is no concern (it runs the monotonic clock at the same rate); a step is. Every call
 * reads the wall clock once more: a reading above the offset is certain (readings are lower
 * bounds), one below it may be a read preempted between the two clocks, so that is measured
 * again at most once a second. A new offset within {@link STEP_MS} of the old is not taken:
 * stamps stay monotonic unless the wall clock itself went back.
 */
function offsetAt(seen: number, mono: number): number {
  if (offsetMs === undefined) return (offsetMs = measureOffsetMs())
  const ahead = seen > offsetMs + STEP_MS
  if (!ahead && (seen >= offsetMs - STEP_MS || mono < backwardCheckAfterMs)) return offsetMs
  if (!ahead) backwardCheckAfterMs = mono + BACKWARD_RECHECK_MS
  const measured = measureOffsetMs()
  // Ahead, the offset is at least what was seen (a lower bound), even if the measurement was
  // preempted into a looser one: else every stamp would measure again.
  if (ahead) offsetMs = Math.max(measured, seen)
  else if (Math.abs(measured - offsetMs) > STEP_MS) offsetMs = measured
  return offsetMs
}

/** Wall-clock nanoseconds since the Unix epoch, with microsecond resolution. */
export function nowNs(): bigint {
  const wall = Date.now()
  const mono = performance.now()
  return BigInt(Math.round((offsetAt(wall - mono, mono) + mono) * 1e3)) * 1000n
}
