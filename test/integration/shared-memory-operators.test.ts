/**
 * Large payloads from a custom node to an operator (issue 15): the node writes them to shared
 * memory, the supervisor reads each once and, when one operator alone receives the output,
 * moves those bytes into its worker instead of copying them (run-outbox.ts, input-transfer.ts).
 * A crash then delivers the input again from the outbox, whole. The same payloads to two
 * operators are copied to each.
 */
import t from 'tap'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

// Segments go to a folder of this test (not the machine's /dev/shm), so parallel test files
// cannot see each other's run directories.
process.env['DORA_TS_SHM_DIR'] = t.testdir({})

const SIZE = 256 * 1024
const COUNT = 12
const CRASH_AT = [3, 4, 9]
const all = Array.from({ length: COUNT }, (_, i) => i + 1)

function flow(checkers: readonly { id: string; crashAt: readonly number[] }[]): string {
  return `nodes:
  - id: source
    path: ${fixture('big-source.mjs')}
    env: { COUNT: ${COUNT}, SIZE: ${SIZE} }
    outputs: [frames]
${checkers
  .map(
    ({ id, crashAt }) => `  - id: ${id}
    env: { SIZE: ${SIZE}, CRASH_AT: "${crashAt.join(',')}" }
    operator:
      javascript: ${fixture('big-check-op.mjs')}
      inputs:
        frames: { source: source/frames, queue_size: 100 }
`,
  )
  .join('')}`
}

t.test('an operator alone on a node output gets its shared-memory payloads whole, the ones a crash redelivers too', async (t) => {
  const run = await startInProcess(t, flow([{ id: 'check', crashAt: CRASH_AT }]))
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  const lines = run.lines('check')
  t.same(
    lines.filter((l) => l.startsWith('BAD')),
    [],
    'no payload had a wrong byte',
  )
  // Every crash delivers its input again: checked on both deliveries.
  t.same(
    lines.filter((l) => l.startsWith('checked')),
    all.flatMap((i) => (CRASH_AT.includes(i) ? [`checked ${i}`, `checked ${i}`] : [`checked ${i}`])),
    'every payload arrived in order, the crashed ones twice',
  )
  t.same(
    lines.filter((l) => l.startsWith('redelivered')),
    CRASH_AT.map((i) => `redelivered ${i}`),
    'each crashed input came again, marked redelivered',
  )
})

t.test('two operators on one node output each get every payload whole', async (t) => {
  const run = await startInProcess(
    t,
    flow([
      { id: 'left', crashAt: [5] },
      { id: 'right', crashAt: [] },
    ]),
  )
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  for (const id of ['left', 'right']) {
    const checked = [...new Set(run.lines(id).filter((l) => l.startsWith('checked') || l.startsWith('BAD')))]
    t.same(
      checked,
      all.map((i) => `checked ${i}`),
      `${id} got every payload whole`,
    )
  }
})
