/**
 * A custom node's process that exits while processes it started still hold its stdout (a
 * wrapper script's `helper &`) ends there: its helpers are stopped with it, and its exit is
 * handled at once. Before, the supervisor waited for the pipes to close, so the node was seen to
 * end only when its helpers did: its restart, and the run's end, waited as long (an hour here).
 * Real processes: a shell wrapper and a `sleep` it leaves behind.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dump, startInProcess } from './fixtures/in-process.js'

/** Whether `pid` is gone (or a zombie, which holds nothing and waits only to be reaped). */
function gone(pid: number): boolean {
  const stat = `/proc/${pid}/stat`
  if (!existsSync(stat)) return true
  try {
    const text = readFileSync(stat, 'utf8')
    return text[text.lastIndexOf(')') + 2] === 'Z'
  } catch {
    return true
  }
}

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
  t.ok(gone(helper), `the helper (pid ${helper}) is gone`)
})
