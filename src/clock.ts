/** Wall-clock nanoseconds since the Unix epoch, with sub-millisecond resolution. */
export function nowNs(): bigint {
  // timeOrigin + now() is a monotonic clock anchored to the wall clock at process start, so
  // timestamps from different processes on one machine are comparable to a few microseconds.
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n
}
