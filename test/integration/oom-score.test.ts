/**
 * Custom nodes are the kernel's OOM killer's first pick, not the supervisor (oom-score.ts): each
 * node's process runs with the supervisor's `oom_score_adj` plus 300, or its YAML's
 * `oom_score_adj:`, set by the reaper's gate before the program runs. Real node processes (a
 * shell that prints what the kernel holds for it) through the real supervisor. Linux only.
 */
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { dump, startInProcess } from './fixtures/in-process.js'

const ADJ = '/proc/self/oom_score_adj'
const own = existsSync(ADJ) ? Number.parseInt(readFileSync(ADJ, 'utf8'), 10) : undefined

/** A node printing its adjustment as the kernel holds it, and those of its helpers (a child shell). */
function printer(id: string, extra = ''): string {
  return `  - id: ${id}
    path: /bin/sh
    args: -c "cat ${ADJ}; sh -c 'cat ${ADJ}'"
${extra}`
}

t.test(
  'a node runs with the supervisor’s adjustment plus 300, or its own from the YAML, helpers too',
  { skip: own === undefined && 'no oom_score_adj on this kernel' },
  async (t) => {
    const lower = Math.max(-1000, own! - 1)
    const flow = await startInProcess(
      t,
      `nodes:
${printer('default')}${printer('explicit', '    oom_score_adj: 900\n')}${printer('lower', `    oom_score_adj: ${lower}\n`)}`,
    )
    await flow.done
    t.same(flow.lines('default'), [String(Math.min(1000, own! + 300)), String(Math.min(1000, own! + 300))], dump(flow.logs))
    t.same(flow.lines('explicit'), ['900', '900'], dump(flow.logs))
    // Lowering needs CAP_SYS_RESOURCE: either it holds, or the node is told and runs as before.
    const lowered = flow.lines('lower')
    const refused = lowered.some((line) =>
      line.includes(`the kernel refused oom_score_adj ${lower} for this node (lowering it needs root or CAP_SYS_RESOURCE)`),
    )
    t.same(
      lowered.filter((line) => /^-?\d+$/.test(line)),
      refused ? [String(own), String(own)] : [String(lower), String(lower)],
      dump(flow.logs),
    )
  },
)
