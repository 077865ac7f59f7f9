/**
 * One scale measurement in a fresh process, so the supervisor's memory is not that of the
 * benchmark: start a dataflow of N idle operators or N idle custom nodes, time it until every
 * operator is ready and every node has registered, read the RSS, stop it.
 *
 *   node dist/bench/scale-child.js operators|nodes N DIR [SETTLE_MS]   -> one JSON line on stdout
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { stringify } from 'yaml'
import { CustomNode } from '../runtime/supervisor/custom-node.js'
import { DataflowRun } from '../runtime/supervisor/dataflow-run.js'
import { parseDataflow } from '../src/spec/load.js'
import { fixture, socketDir } from './harness.js'

export interface ScaleSample {
  kind: 'operators' | 'nodes'
  count: number
  startupMs: number
  rssBeforeBytes: number
  rssAfterBytes: number
  stopMs: number
}

async function main(): Promise<void> {
  const [kind, countText, dir, settleText] = process.argv.slice(2)
  const count = Number(countText)
  if ((kind !== 'operators' && kind !== 'nodes') || !Number.isInteger(count) || count < 1 || dir === undefined) {
    throw new Error('usage: scale-child.js operators|nodes N DIR')
  }
  const nodes = Array.from({ length: count }, (_, i) =>
    kind === 'operators' ? { id: `op-${i}`, operator: { javascript: fixture('idle-op.mjs') } } : { id: `node-${i}`, path: fixture('idle-node.mjs') },
  )
  const file = join(dir, 'dataflow.yml')
  const text = stringify({ name: 'bench-scale', nodes })
  writeFileSync(file, text)
  const spec = parseDataflow(text, file)
  const rssBeforeBytes = process.memoryUsage().rss

  const sockets = socketDir()
  const t0 = performance.now()
  const run = new DataflowRun(spec, { graceMs: 5000, runtimeDir: sockets.path, stateDir: join(dir, 'state'), log: () => {} })
  await run.start()
  const customNodes = [...run.units.values()].filter((u) => u instanceof CustomNode)
  while (!customNodes.every((u) => u.registered)) {
    if (customNodes.some((u) => u.status === 'failed' || u.status === 'finished')) {
      run.stop()
      run.stop()
      const result = await run.done
      throw new Error(`a node ended during start-up: ${JSON.stringify(result.units.filter((u) => u.status === 'failed').slice(0, 3))}`)
    }
    await sleep(1)
  }
  const startupMs = performance.now() - t0
  if ([...run.units.values()].some((u) => u.status !== 'running')) throw new Error('not every unit is running after start-up')
  // Let start-up garbage and lazily committed pages settle before reading the RSS.
  await sleep(Number(settleText ?? 500))
  const rssAfterBytes = process.memoryUsage().rss

  const t1 = performance.now()
  run.stop()
  const result = await run.done
  const stopMs = performance.now() - t1
  sockets.release()
  if (!result.ok) throw new Error(`the dataflow did not end cleanly: ${JSON.stringify(result.units.filter((u) => u.status === 'failed'))}`)
  const sample: ScaleSample = { kind, count, startupMs, rssBeforeBytes, rssAfterBytes, stopMs }
  process.stdout.write(`${JSON.stringify(sample)}\n`)
}

await main()
