/**
 * A custom node's program that has been on one event for long is named (node-sdk/handler-watch.ts),
 * as an operator is: a handler that awaits something for longer than the warning time, and one
 * that holds the thread (said once it runs again). Real node processes through the real
 * supervisor; the warning time shortened through the SDK's test seam.
 */
import t from 'tap'
import { join } from 'node:path'
import { dump, startInProcess } from './fixtures/in-process.js'
import { ROOT } from '../fixtures/paths.js'
import { HANDLER_WARNING_ENV } from '../../node-sdk/handler-watch.js'

const SLOW = join(ROOT, 'test', 'fixtures', 'nodes', 'slow-handler.mjs')

t.test('a node on one event past the warning time is named, and so is a thread held that long', async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: slow
    path: ${SLOW}
    env: { ${HANDLER_WARNING_ENV}: 1000, HANG_AT: 2, HANG_MS: 3500, BLOCK_AT: 4, BLOCK_MS: 2500, END_AT: 6 }
    inputs:
      tick: dora/timer/millis/50
`,
  )
  const result = await flow.done
  t.same(
    result.units.map((u) => [u.unit, u.status]),
    [['slow', 'finished']],
    dump(flow.logs),
  )
  const lines = flow.lines('slow')
  t.ok(lines.includes('hang done') && lines.includes('block done'), dump(flow.logs))
  const stalls = lines.filter((l) =>
    /^dora-ts: node "slow" has been handling one event \(input "tick"\) for \d+\.\d s: its program has not come back for the next one/.test(l),
  )
  // At least the one await that outlasted the warning time. A process the machine did not run
  // for a second while on an event reads the same as a stall from inside: on a loaded machine
  // there may be more.
  t.ok(stalls.length >= 1, `a warning for the await that outlasted the warning time\n${dump(flow.logs)}`)
  const through = lines.map((l) => /^dora-ts: node "slow" is through that event, about ([\d.]+) s after it began$/.exec(l)?.[1]).find((s) => s !== undefined)
  t.ok(through !== undefined && Number(through) >= 1, `the end of that event is said: ${through}\n${dump(flow.logs)}`)
  const blocked = lines
    .map((l) => /^dora-ts: nothing of node "slow" ran for ([\d.]+) s: its thread was held by a synchronous call/.exec(l)?.[1])
    .filter((s) => s !== undefined)
  t.ok(blocked.length >= 1 && blocked.some((s) => Number(s) >= 1), `the held thread is said after it: ${blocked.join(', ')}\n${dump(flow.logs)}`)
})
