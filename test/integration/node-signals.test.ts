/**
 * A custom node ended by a signal is told with what the signal most likely means
 * (runtime/supervisor/signal-cause.ts): a program that faults (a real SIGSEGV), and one that a
 * `kill -9` from outside ends. Real processes through the real supervisor.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { dump, startInProcess } from './fixtures/in-process.js'
import { waitFor } from '../fixtures/wait-for.js'

t.test('a node killed by a fault or by a kill -9 from outside fails saying which', async (t) => {
  const dir = t.testdir({})
  const flow = await startInProcess(
    t,
    `nodes:
  - id: faulty
    path: /bin/sh
    args: -c "kill -SEGV $$"
  - id: victim
    path: /bin/sh
    args: -c "echo $$ > victim.pid; exec sleep 600"
`,
    { dir },
  )
  const pidFile = join(dir, 'victim.pid')
  await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), { what: 'the victim to start' })
  process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL')
  const result = await flow.done
  const errors = Object.fromEntries(result.units.map((u) => [u.unit, u.error ?? '']))
  t.match(errors['faulty'], /^was killed by SIGSEGV \(a segmentation fault: a crash in native code/, dump(flow.logs))
  // Not dora-ts's signal; the kernel's OOM killer would be named had it killed meanwhile (some
  // other process of a busy machine, say).
  t.match(
    errors['victim'],
    /^was killed by SIGKILL \(not sent by dora-ts: (a `kill -9`, or a watchdog outside it|most likely the kernel's OOM killer)/,
    dump(flow.logs),
  )
})
