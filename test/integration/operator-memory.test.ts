/**
 * `max_memory_mb` bounds what an operator holds in buffers, not only its V8 heap
 * (runtime/operator/memory-watch.ts). Before, an operator that kept its 32 MB frames grew the
 * supervisor past 4 GB in 20 s under `max_memory_mb: 256`: the worker's heap limit does not see
 * a Buffer's memory. A real worker thread, a real run: one operator keeps a 16 MB buffer per
 * event, another drops each one; both under a 96 MiB limit.
 */
import t, { type Test } from 'tap'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'

function flow(mode: 'keep' | 'drop', restart: string): string {
  return `nodes:
  - id: hoarder
    env:
      MODE: ${mode}
    operator:
      javascript: ${fixture('buffer-hoarder.mjs')}
      inputs:
        tick: dora/timer/millis/5
      max_memory_mb: 96
    ${restart}
`
}

t.test('an operator that keeps its buffers past max_memory_mb is crashed and restarted, the supervisor untouched', async (t: Test) => {
  const run = await startInProcess(t, flow('keep', 'restart_policy: never'))
  const result = await run.done
  t.notOk(result.ok)
  const error = result.units.find((u) => u.unit === 'hoarder')?.error
  t.match(
    error,
    /^ran out of memory: it held \d+ MiB \(\d+ MiB of it in buffers\) after a full collection, over max_memory_mb 96 MiB; not restarted/,
    dump(run.logs),
  )
  // Crashed near the limit: 96 MiB holds at most 6 of its 16 MB buffers, with the heap.
  const events = run.lines('hoarder').filter((l) => /^event \d+$/.test(l)).length
  t.ok(events >= 5 && events <= 8, `crashed after ${events} events, near the limit`)
})

t.test('an operator whose buffers are garbage runs on under the same limit', async (t: Test) => {
  // 40 events of 16 MB dropped: 640 MB allocated in all, never more than one buffer held.
  const run = await startInProcess(t, flow('drop', ''))
  await run.waitForLine(/^done 40$/)
  run.run.stop()
  const result = await run.done
  t.ok(result.ok, dump(run.logs))
  t.notMatch(dump(run.logs), /ran out of memory/)
})
