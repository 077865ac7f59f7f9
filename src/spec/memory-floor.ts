/**
 * What a custom node's process holds before it has done anything, by how it is run, so that a
 * `max_memory_mb` below it is said when the dataflow is read (`check`, `run`, `start`) rather
 * than found as a node killed at every start. Measured on Node 20 (x86_64) and Python 3.11:
 * a `.mjs` node that has imported the SDK, about 55 MiB resident; a `.ts` node through tsx,
 * about 90 MiB; python3 with nothing imported, about 13 MiB. The floors leave a little room
 * above each; a real node holds more (its own modules, its buffers).
 *
 * @module
 */
import type { CustomNodeSpec } from './types.js'

const FLOOR_MB: Partial<Record<CustomNodeSpec['runtime'], { mb: number; what: string }>> = {
  js: { mb: 64, what: 'a Node.js node holds about 55 MiB resident once it has imported the SDK' },
  ts: { mb: 100, what: 'a TypeScript node holds about 90 MiB resident once tsx has compiled it and it has imported the SDK' },
  py: { mb: 16, what: 'python3 holds about 13 MiB resident before it imports anything' },
}

/** A note for `max_memory_mb: mb` on a node run as `runtime`, when it is below what such a process holds at start; else undefined. */
export function memoryFloorNote(runtime: CustomNodeSpec['runtime'], mb: number): string | undefined {
  const floor = FLOOR_MB[runtime]
  if (floor === undefined || mb >= floor.mb) return undefined
  return `max_memory_mb ${mb} is below what the node holds when it starts (${floor.what}): it would be killed at every start; give it at least ${floor.mb}, and more for what it keeps`
}
