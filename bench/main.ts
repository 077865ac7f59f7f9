/**
 * `npm run bench`: runs the benchmark sections, prints one table and writes bench/results.json
 * (machine, Node version, date, every figure). A full run without --only also refreshes
 * bench/RESULTS.md, the committed copy of the latest table.
 *
 *   node dist/bench/main.js [--quick] [--only node-node,state] [--out file.json]
 *
 * --quick runs every figure with few rounds (a smoke check, part of the tests); --only limits
 * the run to some sections; --out writes the JSON there instead (and leaves RESULTS.md alone).
 * Benchmarks never assert times: a figure is what was measured, targets are read in the README.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { benchCliStartup } from './cli-startup.js'
import { benchFanOut } from './fan-out.js'
import { ROOT, type Section } from './harness.js'
import { benchKvsIfPresent } from './kvs-rows.js'
import { benchNodeNode } from './node-node.js'
import { benchBestEffort, benchDirectLinks } from './best-effort.js'
import { benchNodeOperator } from './node-operator.js'
import { benchOperatorBestEffort, benchOperatorLinked, benchOperatorOperator } from './operator-operator.js'
import { commitOf, machine, resultsMarkdown, table, type Figure, type Results } from './report.js'
import { benchScale } from './scale.js'
import { benchState } from './state.js'
import { benchTimer } from './timer.js'
import { errorMessage, errorStack } from '../src/errors.js'

export const SECTIONS: Record<string, Section> = {
  'node-node': benchNodeNode,
  'node-node-best-effort': benchBestEffort,
  'node-node-direct': benchDirectLinks,
  'operator-operator': benchOperatorOperator,
  'operator-operator-best-effort': benchOperatorBestEffort,
  'operator-operator-linked': benchOperatorLinked,
  'node-operator': benchNodeOperator,
  timer: benchTimer,
  'fan-out': benchFanOut,
  scale: benchScale,
  state: benchState,
  kvs: benchKvsIfPresent,
  cli: benchCliStartup,
}

const USAGE = `usage: node dist/bench/main.js [--quick] [--only <section>[,<section>...]] [--out <file.json>]
sections: ${Object.keys(SECTIONS).join(', ')}`

async function main(): Promise<number> {
  let values: { quick?: boolean; only?: string; out?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({
      options: { quick: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }))
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n${USAGE}\n`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const quick = values.quick === true
  const names =
    values.only === undefined
      ? Object.keys(SECTIONS)
      : values.only
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
  const unknown = names.filter((n) => !(n in SECTIONS))
  if (unknown.length > 0) {
    process.stderr.write(`unknown section ${unknown.join(', ')}\n${USAGE}\n`)
    return 2
  }

  const started = performance.now()
  const host = machine()
  const figures: Figure[] = []
  const errors: Results['errors'] = []
  const scratch = mkdtempSync(join(tmpdir(), 'dora-bench-'))
  try {
    for (const name of names) {
      const section = SECTIONS[name] as Section
      const t0 = performance.now()
      const tmp = mkdtempSync(join(scratch, `${name}-`))
      process.stderr.write(`bench: ${name}\n`)
      try {
        const got = await section({ quick, tmp, progress: (text) => process.stderr.write(`bench:   ${text}\n`) })
        figures.push(...got)
        process.stderr.write(`bench: ${name}: ${got.length} figures in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
      } catch (err) {
        const error = errorStack(err)
        errors.push({ section: name, error })
        process.stderr.write(`bench: ${name} FAILED: ${error}\n`)
      } finally {
        rmSync(tmp, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }

  const results: Results = {
    machine: host,
    node: process.version,
    date: new Date().toISOString(),
    commit: commitOf(ROOT),
    quick,
    sections: names,
    durationS: (performance.now() - started) / 1000,
    figures,
    errors,
  }
  const text = table(results)
  process.stdout.write(`${text}\n`)
  const out = values.out === undefined ? join(ROOT, 'bench', 'results.json') : resolve(values.out)
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  process.stderr.write(`bench: wrote ${out}\n`)
  if (!quick && values.only === undefined && values.out === undefined) {
    const md = join(ROOT, 'bench', 'RESULTS.md')
    writeFileSync(md, resultsMarkdown(results, existsSync(md) ? readFileSync(md, 'utf8') : ''))
    process.stderr.write(`bench: wrote ${md}\n`)
  }
  return errors.length === 0 ? 0 : 1
}

process.exitCode = await main()
