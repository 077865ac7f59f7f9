/** The spare worker an operator keeps after a crash: started ahead, module imported, used by the next restart. */
import t from 'tap'
import { join } from 'node:path'
import { completeLines } from '../../fixtures/jsonl.js'
import { fixture } from '../../fixtures/nodes.js'
import { waitFor } from '../../fixtures/wait-for.js'
import { dump, startInProcess } from '../../integration/fixtures/in-process.js'
import type { OperatorHost } from '../../../runtime/operator/host.js'

t.test('after a crash an operator keeps a spare thread that imports its module ahead, and the next restart uses it', async (t) => {
  const dir = t.testdir({})
  const imports = join(dir, 'imports.txt')
  const flow = await startInProcess(
    t,
    `nodes:
  - id: op
    restart_policy: on-failure
    restart_delay: 0
    env: { IMPORTS_FILE: ${JSON.stringify(imports)} }
    operator:
      javascript: ${fixture('import-logger.mjs')}
      inputs: { tick: dora/timer/millis/50 }
`,
    { dir },
  )
  const host = [...flow.run.units.values()].find((u) => u.key.startsWith('op')) as OperatorHost
  const threads = (): number[] => completeLines(imports).map(Number)
  t.equal(threads().length, 1, 'one import at start: no spare before any crash')
  host.crash('crash on purpose (test)')
  await waitFor(() => host.restartCount === 1 && host.status === 'running', { what: 'the first restart', detail: () => dump(flow.logs) })
  // The restarted worker imports the module, then its spare does, ahead of any crash.
  await waitFor(() => threads().length === 3, { what: 'the spare to import the module', detail: () => `${threads().join(',')}\n${dump(flow.logs)}` })
  const spare = threads()[2]
  t.equal(threads()[1], host.threadId, 'the first restart started a thread of its own')
  host.crash('crash on purpose (test)')
  await waitFor(() => host.restartCount === 2 && host.status === 'running', { what: 'the second restart', detail: () => dump(flow.logs) })
  t.equal(host.threadId, spare, 'the second restart runs on the spare thread, whose import it used')
  flow.run.stop()
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
})
