/**
 * 6. scale: start-up time (until every operator is ready and every custom node registered) and
 * the supervisor's resident memory, for dataflows of 1, 10 and 50 idle operators and 1, 10
 * and 50 idle custom nodes. Each measurement runs in a fresh process (scale-child.ts); the
 * memory baseline is that same process, runtime loaded, before the dataflow starts.
 */
import { fileURLToPath } from 'node:url'
import { freshDir, runProcess, type SectionContext } from './harness.js'
import { rateFigure, type Figure } from './report.js'
import type { ScaleSample } from './scale-child.js'

const SECTION = 'scale'
export const SCALE_COUNTS = [1, 10, 50] as const
/** --quick: two sizes, so that a smoke check does not start 50 processes and 50 workers. */
export const SCALE_COUNTS_QUICK = [1, 4] as const
const CHILD = fileURLToPath(new URL('./scale-child.js', import.meta.url))
const MB = 2 ** 20

export async function benchScale(ctx: SectionContext): Promise<Figure[]> {
  const rounds = ctx.quick ? 1 : 3
  const figures: Figure[] = []
  for (const kind of ['operators', 'nodes'] as const) {
    for (const count of ctx.quick ? SCALE_COUNTS_QUICK : SCALE_COUNTS) {
      ctx.progress(`${count} ${kind}`)
      const samples: ScaleSample[] = []
      for (let r = 0; r < rounds; r++) {
        const out = await runProcess(CHILD, [kind, String(count), freshDir(ctx.tmp, `${kind}-${count}`), ctx.quick ? '100' : '500'], {}, 120_000)
        samples.push(JSON.parse(out.trim().split('\n').pop() ?? '') as ScaleSample)
      }
      const what = `${count} ${count === 1 ? kind.slice(0, -1) : kind}`
      const common = { section: SECTION, rounds }
      figures.push(
        rateFigure(
          { ...common, id: `${SECTION}.${kind}.${count}.startup`, label: `start-up, ${what}`, unit: 'ms' },
          samples.map((s) => s.startupMs),
        ),
      )
      figures.push(
        rateFigure(
          { ...common, id: `${SECTION}.${kind}.${count}.rss`, label: `supervisor RSS, ${what}`, unit: 'MB', baselineLabel: 'idle' },
          samples.map((s) => s.rssAfterBytes / MB),
          samples.map((s) => s.rssBeforeBytes / MB),
        ),
      )
    }
  }
  return figures
}
