/**
 * How an operator host hands inputs from other operators to its worker: an input only it
 * receives is moved (transferred) into the worker, not copied, and read back from the outbox
 * when a crash makes it deliver the input again; an input several receivers share is copied,
 * so each gets the whole payload.
 */
import t from 'tap'
import { fillFlow } from './fixtures/fill-flow.js'
import { dump, startInProcess } from '../../integration/fixtures/in-process.js'

const COUNT = 8
const CRASH_AT = [3, 4, 7]

function flow(size: number, receivers: string[]): string {
  return fillFlow(
    size,
    COUNT,
    receivers.map((id) => ({ id, crashAt: CRASH_AT })),
  )
}

const all = Array.from({ length: COUNT }, (_, i) => i + 1)

// 8 B stays behind its outbox header, 70,000 B is stored under a key of its own (SPLIT_BYTES).
for (const size of [8, 70_000]) {
  t.test(`an input moved into a worker that crashes comes back whole from the outbox (${size} B)`, async (t) => {
    const run = await startInProcess(t, flow(size, ['check']))
    const result = await run.done
    t.ok(result.ok, dump(run.logs))
    const lines = run.lines('check')
    t.same(
      lines.filter((l) => l.startsWith('checked')),
      all.map((v) => `checked ${v} size=${size}`),
      'every payload arrived once, whole, the redelivered ones included',
    )
    t.same(
      lines.filter((l) => l.startsWith('redelivered')),
      CRASH_AT.map((v) => `redelivered ${v}`),
    )
  })
}

t.test('an input two operators receive is copied to each, whole', async (t) => {
  const run = await startInProcess(t, flow(70_000, ['left', 'right']))
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  for (const id of ['left', 'right']) {
    t.same(
      run.lines(id).filter((l) => l.startsWith('checked')),
      all.map((v) => `checked ${v} size=70000`),
      `${id} got every payload whole`,
    )
  }
})
