/**
 * glibc malloc settings the supervisor gives the custom nodes it starts, so a node that
 * receives or builds large messages (camera frames, point clouds) writes into pages it already
 * has instead of new ones.
 *
 * By default glibc serves an allocation of 128 KiB and more (raised at run time up to 32 MiB)
 * with its own `mmap` and returns it with `munmap` when freed, and gives the heap's free top
 * back to the kernel past 2x that threshold: every new megabyte buffer then costs a page fault
 * per 4 KiB page as it is first written (measured on the 2-core VM: ~160-240 faults per 4 MiB
 * buffer, 1-3 ms). With the threshold at 64 MiB and the trim at 128 MiB, buffers up to 64 MiB
 * come from the heap and a freed one is reused by the next (~0-20 faults). The cost: a node
 * keeps up to 128 MiB of freed heap instead of returning it. These are the environment
 * variables glibc reads at start-up (mallopt(3), "MALLOC_MMAP_THRESHOLD_"); other C libraries
 * (musl) ignore them, and so do the programs that bring their own allocator.
 */

/** Buffers below this come from the heap, not their own mapping (glibc's M_MMAP_THRESHOLD). */
export const NODE_MMAP_THRESHOLD_BYTES = 64 * 1024 * 1024
/** Freed heap kept rather than returned to the kernel, up to this (glibc's M_TRIM_THRESHOLD). */
export const NODE_TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024

const MMAP_THRESHOLD = 'MALLOC_MMAP_THRESHOLD_'
const TRIM_THRESHOLD = 'MALLOC_TRIM_THRESHOLD_'

/**
 * The malloc settings to add to a node's environment: none when `inherited` (the supervisor's
 * environment) or `own` (the node's `env:` in the YAML) already sets either one, so a user who
 * tunes malloc, or turns this off by setting the glibc defaults, gets exactly what they set
 * (setting one of the two alone also turns off glibc's own adjustment of the other).
 */
export function nodeMallocEnv(inherited: NodeJS.ProcessEnv, own: Readonly<Record<string, string>> | undefined): Record<string, string> {
  for (const name of [MMAP_THRESHOLD, TRIM_THRESHOLD]) {
    if (inherited[name] !== undefined || own?.[name] !== undefined) return {}
  }
  return { [MMAP_THRESHOLD]: String(NODE_MMAP_THRESHOLD_BYTES), [TRIM_THRESHOLD]: String(NODE_TRIM_THRESHOLD_BYTES) }
}
