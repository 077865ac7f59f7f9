/**
 * Best-effort links between operators (`reliability: best_effort` on an operator's input from
 * an operator): routed by the supervisor but never kept in the outbox, so nothing replays them
 * in a later run; a large payload moves into the receiving worker, and a crash of that worker
 * loses it (counted as a drop); a small one is copied, and a crash delivers it again.
 */
import t from 'tap'
import { fixture } from '../../fixtures/nodes.js'
import { dump, startInProcess } from '../../integration/fixtures/in-process.js'
import { fillFlow } from './fixtures/fill-flow.js'

const COUNT = 8

interface Flow {
  size: number
  count?: number
  crashAt?: number[]
  reliability?: 'reliable' | 'best_effort'
  /** The checker's restart_policy (default on-failure). */
  restart?: 'never'
}

function flow({ size, count = COUNT, crashAt = [], reliability = 'best_effort', restart }: Flow): string {
  const nodeKeys = restart === undefined ? undefined : `restart_policy: ${restart}`
  return fillFlow(size, count, [{ id: 'check', crashAt, input: `reliability: ${reliability}`, nodeKeys }])
}

const all = Array.from({ length: COUNT }, (_, i) => i + 1)
const valuesOf = (lines: string[], prefix: string): number[] =>
  lines.filter((l) => l.startsWith(prefix)).map((l) => Number(l.slice(prefix.length).split(' ')[0]))

t.test('a best-effort link between operators delivers every payload whole while nothing crashes', async (t) => {
  for (const size of [8, 70_000]) {
    const run = await startInProcess(t, flow({ size }))
    const result = await run.done
    t.ok(result.ok, dump(run.logs))
    t.same(
      run.lines('check').filter((l) => l.startsWith('checked') || l.startsWith('BAD')),
      all.map((v) => `checked ${v} size=${size}`),
      `${size} B: all ${COUNT}, in order, whole`,
    )
    t.same(result.dropped, {}, 'nothing dropped')
  }
})

t.test('an output read by a reliable and a best-effort input is copied to each, whole', async (t) => {
  const yaml =
    flow({ size: 70_000 }) +
    `  - id: keep
    operator:
      javascript: ${fixture('fill-check.mjs')}
      inputs:
        filled: { source: relay/filled, queue_size: 100 }
`
  const run = await startInProcess(t, yaml)
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  for (const id of ['check', 'keep']) {
    t.same(
      run.lines(id).filter((l) => l.startsWith('checked') || l.startsWith('BAD')),
      all.map((v) => `checked ${v} size=70000`),
      `${id} got every payload whole`,
    )
  }
})

t.test('a small best-effort input is copied into the worker: a crash delivers it again', async (t) => {
  const crashAt = [3, 4, 7]
  const run = await startInProcess(t, flow({ size: 8, crashAt }))
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  t.same(valuesOf(run.lines('check'), 'checked '), all, 'every value handled once, in order')
  t.same(valuesOf(run.lines('check'), 'redelivered '), crashAt, 'the crashed ones came again, marked')
})

t.test('a large best-effort input moved into a worker that crashes is lost, counted as dropped, never given again', async (t) => {
  const run = await startInProcess(t, flow({ size: 70_000, crashAt: [3] }))
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  const lines = run.lines('check')
  const checked = valuesOf(lines, 'checked ')
  t.same(
    lines.filter((l) => l.startsWith('BAD') || l.startsWith('redelivered')),
    [],
    'no payload damaged, none given again',
  )
  t.notOk(checked.includes(3), 'the input that crashed the worker had moved into it: it is gone')
  t.same(
    checked,
    [...checked].sort((a, b) => a - b),
    'what arrived, arrived in order',
  )
  t.ok(checked.includes(1) && checked.includes(2), 'the values handled before the crash were kept')
  const lost = COUNT - checked.length
  t.ok(lost >= 1, `${lost} lost`)
  t.same(result.dropped, { 'check/filled': lost }, 'every lost input counts as a drop of its input')
  t.ok(
    run.logs.some((l) => /check: \d+ best-effort input\(s\) the crash interrupted are lost/.test(l.text)),
    'the supervisor says what the crash lost',
  )
})

t.test('best-effort messages are never kept for a later run; reliable ones are replayed', async (t) => {
  for (const reliability of ['reliable', 'best_effort'] as const) {
    const dir = t.testdir({})
    // The checker fails for good at 5 (restart_policy never): 5..8 were routed to it, unhandled.
    const first = await startInProcess(t, flow({ size: 8, crashAt: [5], reliability, restart: 'never' }), { dir })
    const firstResult = await first.done
    t.notOk(firstResult.ok, `${reliability}: the first run fails with the checker`)
    t.same(valuesOf(first.lines('check'), 'checked '), [1, 2, 3, 4], `${reliability}: 1-4 handled before the failure`)
    // The same dataflow again, the source sending nothing this time.
    const second = await startInProcess(t, flow({ size: 8, count: 0, reliability, restart: 'never' }), { dir })
    const secondResult = await second.done
    t.ok(secondResult.ok, dump(second.logs))
    const replayed = valuesOf(second.lines('check'), 'checked ')
    if (reliability === 'reliable') t.same(replayed, [5, 6, 7, 8], 'reliable: the outbox gave the next run what the checker never committed')
    else t.same(replayed, [], 'best effort: nothing kept, nothing replayed')
  }
})
