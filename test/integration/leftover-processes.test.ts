/**
 * A custom node's process that exits while processes it started still hold its stdout (a
 * wrapper script's `helper &`) ends there: its helpers are stopped with it, and its exit is
 * handled at once. Before, the supervisor waited for the pipes to close, so the node was seen to
 * end only when its helpers did: its restart, and the run's end, waited as long (an hour here).
 * Real processes: a shell wrapper and a `sleep` it leaves behind.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { processGone } from '../fixtures/process-gone.js'
import { dump, startInProcess } from './fixtures/in-process.js'

t.test('a node that exits leaving a helper on its output ends at once, and its helper with it', async (t) => {
  const dir = t.testdir({
    'wrapper.sh': `#!/bin/sh
sh -c 'echo $$ > helper.pid; exec sleep 3600' &
while [ ! -s helper.pid ]; do sleep 0.01; done
echo "helper started"
exit 1
`,
  })
  const flow = await startInProcess(
    t,
    `nodes:
  - id: wrapper
    path: /bin/sh
    args: ./wrapper.sh
`,
    { dir },
  )
  const result = await flow.done
  t.match(result.units[0]?.error, /^exited with code 1; not restarted: restart_policy is never/, dump(flow.logs))
  t.ok(
    flow.logs.some((l) => /^wrapper exited, but processes it started \(its process group \d+\) still hold its output: stopping them/.test(l.text)),
    dump(flow.logs),
  )
  const helper = Number(readFileSync(join(dir, 'helper.pid'), 'utf8'))
  t.ok(processGone(helper), `the helper (pid ${helper}) is gone`)
})
