/**
 * A best-effort link between operators under crashes, seeded: the receiver throws on random
 * inputs and is crashed on purpose (as `dora-ts kill` does) at random points of a stream of
 * large payloads. The receiver reports each payload it found whole to a custom-node sink
 * (reliable: the sink sees exactly the events that committed), and what the sink saw is checked
 * against what the source sent: in order, each once, never marked redelivered (its bytes moved
 * into the worker, so none is given again); none the receiver crashed on; no damaged payload in
 * the receiver's lines; and each message sent either committed or counted as dropped (queue
 * full, or lost with a crash). `TORTURE_SEED=<seed>` replays a failure; the seed is printed.
 */
import t from 'tap'
import { fixture } from '../../fixtures/nodes.js'
import { dump, startInProcess } from '../../integration/fixtures/in-process.js'
import { createRng, seedFromEnv } from '../../torture/fixtures/rng.js'
import { fillFlow } from './fixtures/fill-flow.js'
import type { OperatorHost } from '../../../runtime/operator/host.js'

const COUNT = 300
const THROWS = 5
const KILLS = 5

t.test('a best-effort link between operators: throws and kills lose inputs, never damage, repeat or reorder them', async (t) => {
  const seed = seedFromEnv()
  const rng = createRng(seed)
  t.comment(`seed ${seed} (TORTURE_SEED=${seed} replays it)`)
  const throwAt = new Set<number>()
  while (throwAt.size < THROWS) throwAt.add(rng.int(2, COUNT - 1))
  const killAfter = Array.from({ length: KILLS }, () => rng.int(1, COUNT - 20)).sort((a, b) => a - b)

  // The relay's input keeps 1,000 (nothing dropped before the link under test); the link 50.
  const checker = { id: 'check', crashAt: [...throwAt], input: 'reliability: best_effort', nodeKeys: 'restart_delay: 0', report: true }
  const yaml = fillFlow(70_000, COUNT, [checker], { sourceDelayMs: 1, queueSize: 50, relayQueueSize: 1000 })
  const run = await startInProcess(
    t,
    `${yaml}  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      whole: { source: check/whole, queue_size: 1000 }
`,
  )
  const check = [...run.run.units.values()].find((u) => u.display === 'check') as OperatorHost
  for (const after of killAfter) {
    // Once the receiver handled any value from `after` on (some may be lost), crash it.
    const values = Array.from({ length: COUNT - after + 1 }, (_, i) => after + i).join('|')
    // (Or the run ended first: every value from there on was lost or dropped.)
    const reached = await Promise.race([
      run.waitForLine(new RegExp(`^checked (${values}) `)).then(
        () => true,
        () => false,
      ),
      run.done.then(() => false),
    ])
    if (!reached) break
    check.crash('killed by the test')
  }
  const result = await run.done
  const why = `seed ${seed}\n${dump(run.logs)}`
  t.ok(result.ok, why)

  t.same(
    run.lines('check').filter((l) => l.startsWith('BAD') || l.startsWith('redelivered')),
    [],
    `every payload whole, none given again (seed ${seed})`,
  )
  // What committed, as the sink saw it: `got whole <value> ...`.
  const got = run.lines('sink').filter((l) => l.startsWith('got whole '))
  const checked = got.map((l) => Number(l.split(' ')[2]))
  t.ok(
    checked.every((v, i) => i === 0 || v > checked[i - 1]!),
    `handled in order, each once (seed ${seed})`,
  )
  t.same(
    checked.filter((v) => throwAt.has(v)),
    [],
    `an input that crashed the worker is gone with it (seed ${seed})`,
  )
  const dropped = result.dropped['check/filled'] ?? 0
  t.equal(checked.length + dropped, COUNT, `handled ${checked.length} + dropped ${dropped} = sent ${COUNT} (seed ${seed})`)
  t.ok(
    run.logs.some((l) => /best-effort input\(s\) the crash interrupted are lost/.test(l.text)),
    'the losses were reported',
  )
})
