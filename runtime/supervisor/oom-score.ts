/**
 * Which process the kernel's OOM killer should end first: a custom node, not the supervisor.
 *
 * Out of memory, Linux kills the process with the highest badness: its share of memory plus its
 * `oom_score_adj` (per mille). Every node inherited the supervisor's adjustment, so the largest
 * process went, and with operators' frames and every node's queues that was often the supervisor:
 * its death stops every node (the reaper's work), where a node's is a restart. So a node gets the
 * supervisor's adjustment plus {@link DEFAULT_OOM_SCORE_ADJ_ABOVE_SUPERVISOR} unless its YAML says
 * otherwise (`oom_score_adj:`, docker-compose's key): the kernel picks a node first unless the
 * supervisor holds 30% more of the machine's memory than it. Raising needs no privilege; the
 * reaper's gate sets it before the node's program runs (reaper.ts).
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_OOM_SCORE_ADJ_ABOVE_SUPERVISOR, type CustomNodeSpec } from '../../src/spec/types.js'

/** The kernel's bounds of `oom_score_adj`. */
const MAX_ADJ = 1000

/** The supervisor's own adjustment, read once; undefined where the kernel has none (not Linux). */
let own: number | undefined | null = null

function ownAdjustment(): number | undefined {
  if (own === null) {
    try {
      own = Number.parseInt(readFileSync('/proc/self/oom_score_adj', 'utf8'), 10)
      if (!Number.isSafeInteger(own)) own = undefined
    } catch {
      own = undefined
    }
  }
  return own
}

/** The `oom_score_adj` a node's process is to get; undefined: leave it as inherited (no such kernel knob). */
export function oomScoreAdjOf(spec: CustomNodeSpec): number | undefined {
  const supervisor = ownAdjustment()
  if (supervisor === undefined) return undefined
  return spec.oomScoreAdj ?? Math.min(MAX_ADJ, supervisor + DEFAULT_OOM_SCORE_ADJ_ABOVE_SUPERVISOR)
}
