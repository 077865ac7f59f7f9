/**
 * `max_memory_mb` for what the heap limit does not see: the memory an operator holds in
 * buffers. A worker's resource limits bound its V8 heap only, and a `Buffer` or `ArrayBuffer`
 * lives outside it: an operator that kept 32 MB camera frames by mistake, under
 * `max_memory_mb: 256`, grew the supervisor past 4 GB in 20 s (tried by hand), on the way to
 * the kernel's OOM killer, which would end the supervisor and every unit with it.
 *
 * Runs in the operator's worker, after each event: when its heap and buffers together are
 * over the limit, a full garbage collection first (V8 collects buffers late: a worker woken
 * only by messages ran no collection at all while its dropped buffers passed 1 GB), and if
 * what survives is still over, the operator holds it: {@link MemoryWatch.check} says so and
 * the host crashes the operator, as for a heap out of memory. The collection costs ~5 ms and
 * runs only while over the limit; below it, a check is one read of the heap's statistics.
 *
 * @module
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** The environment variable through which a worker learns its `max_memory_mb` (worker-launch.ts). */
export const MEMORY_LIMIT_ENV = 'DORA_TS_OPERATOR_MEMORY_MB'

export interface MemoryUse {
  heapBytes: number
  bufferBytes: number
}

export class MemoryWatch {
  readonly #limitBytes: number | undefined

  /** `limitMb`: the operator's max_memory_mb; without one, nothing is watched. */
  constructor(limitMb: number | undefined) {
    this.#limitBytes = limitMb !== undefined && limitMb > 0 ? limitMb * 1024 * 1024 : undefined
  }

  /** What the operator holds when it is over its limit after a full collection; undefined when within it. */
  check(): MemoryUse | undefined {
    if (this.#limitBytes === undefined || held(use()) <= this.#limitBytes) return undefined
    collectGarbage()
    const after = use()
    return held(after) > this.#limitBytes ? after : undefined
  }
}

/** What this thread holds now: its heap in use and its buffers. */
function use(): MemoryUse {
  const stats = getHeapStatistics()
  return { heapBytes: stats.used_heap_size, bufferBytes: stats.external_memory }
}

const held = (use: MemoryUse): number => use.heapBytes + use.bufferBytes

/** How often a worker tells what it holds (OperatorWorkerData.held). */
const TELL_HELD_EVERY_MS = 1000

/**
 * Keep `word` (OperatorWorkerData.held) set to what this thread holds: now, then every second
 * while the thread runs (the timer keeps nothing alive; a thread held by a long handler tells
 * it once it runs again).
 */
export function tellHeld(word: SharedArrayBuffer | undefined): void {
  if (word === undefined) return
  const view = new BigInt64Array(word)
  const tell = (): void => void Atomics.store(view, 0, BigInt(held(use())))
  tell()
  setInterval(tell, TELL_HELD_EVERY_MS).unref()
}

let gc: (() => void) | undefined

/**
 * A full collection of this thread's heap. V8 gives a program `gc()` only with --expose-gc,
 * which a worker cannot be started with; set at run time, the flag equips contexts made after
 * it, so a fresh one hands it over (the operator's own context keeps no `gc`).
 */
function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
}
