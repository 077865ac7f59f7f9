/**
 * KVS figures come from bench/kvs.ts, written separately; it may not exist yet. When it is
 * built (dist/bench/kvs.js), its rows join the table; otherwise the section reports nothing.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { SectionContext } from './harness.js'
import type { Figure } from './report.js'

export interface KvsRow {
  name: string
  value: number
  unit: string
  baseline?: number
}

const MODULE = new URL('./kvs.js', import.meta.url)

/** Whether the KVS benchmark module is there (the smoke test then expects its rows). */
export const kvsPresent = (): boolean => existsSync(fileURLToPath(MODULE))

export async function benchKvsIfPresent(ctx: SectionContext): Promise<Figure[]> {
  if (!kvsPresent()) {
    ctx.progress('bench/kvs.ts is not there: no KVS figures')
    return []
  }
  // A computed specifier: the module may not exist when this file is compiled.
  const mod = (await import(MODULE.href)) as { benchKvs?: (options: { quick: boolean }) => Promise<KvsRow[]> }
  if (typeof mod.benchKvs !== 'function') throw new Error('bench/kvs.ts does not export benchKvs')
  const rows = await mod.benchKvs({ quick: ctx.quick })
  return rows.map((row) => {
    const figure: Figure = {
      id: `kvs.${row.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}`,
      section: 'kvs',
      label: row.name,
      unit: row.unit,
      value: row.value,
      rounds: 1,
    }
    if (row.baseline !== undefined) {
      figure.baseline = row.baseline
      figure.baselineLabel = 'raw lmdb-js'
      figure.ratio = row.value / row.baseline
    }
    return figure
  })
}
