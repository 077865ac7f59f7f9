/**
 * `max_memory_mb` on a custom node (group-memory.ts): the resident memory of its process group
 * is read once a second; over the limit the group is killed and the node counts as crashed, its
 * restart_policy applying. Real processes: a shell wrapper whose node child leaks (the memory is
 * the child's, the node's own pid a shell's), and an SDK node that stays under its limit.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { processGone } from '../fixtures/process-gone.js'
import { dump, startInProcess } from './fixtures/in-process.js'
import { ROOT } from '../fixtures/paths.js'

const EATER = join(ROOT, 'test', 'fixtures', 'nodes', 'memory-eater.mjs')

t.test(
  'a node whose processes grow over max_memory_mb is killed, restarted by its policy, and fails with the reason',
  { skip: !existsSync('/proc/self/status') && 'no /proc' },
  async (t) => {
    const dir = t.testdir({
      // Not `exec`: the shell stays the node's process, the memory is its child's.
      'wrapper.sh': `echo "wrapper starts the detector"\n"${process.execPath}" "${EATER}" 600\necho "not reached"\n`,
    })
    const flow = await startInProcess(
      t,
      `nodes:
  - id: detector
    path: /bin/sh
    args: ./wrapper.sh
    max_memory_mb: 150
    restart_policy: on-failure
    max_restarts: 1
    restart_delay: 0
`,
      { dir },
    )
    const result = await flow.done
    const error = result.units.find((u) => u.unit === 'detector')?.error ?? ''
    const cause = /^ran out of memory: its processes held (\d+) MiB resident, over max_memory_mb 150 MiB, so it was killed; not restarted: /.exec(error)
    t.ok(cause, `${error}\n${dump(flow.logs)}`)
    t.ok(Number(cause?.[1]) > 150, 'what it held is over the limit')
    const kills = flow.logs.filter((l) => /^detector holds \d+ MiB resident \(its process group \d+\), over max_memory_mb 150 MiB: killing it$/.test(l.text))
    t.equal(kills.length, 2, `killed once, restarted, killed again\n${dump(flow.logs)}`)
    t.ok(
      flow.logs.some((l) => /^detector ran out of memory: .*; restarting in 0 ms \(restart 1\)$/.test(l.text)),
      dump(flow.logs),
    )
    t.notOk(flow.lines('detector').includes('not reached'), 'the wrapper went with its child')
    const pids = readFileSync(join(dir, 'eater.pids'), 'utf8').trim().split('\n').map(Number)
    t.equal(pids.length, 2, 'each run of the node started its child')
    for (const pid of pids) t.ok(processGone(pid), `the leaking child ${pid} is gone`)
  },
)

t.test('a node under its max_memory_mb runs to its end', { skip: !existsSync('/proc/self/status') && 'no /proc' }, async (t) => {
  // 20 ticks at 100 ms: the group is read at least once while it holds its 64 MiB.
  const flow = await startInProcess(
    t,
    `nodes:
  - id: holder
    path: ${EATER}
    args: 64 20
    max_memory_mb: 1024
    inputs:
      tick: dora/timer/millis/100
`,
  )
  const result = await flow.done
  t.same(
    result.units.map((u) => [u.unit, u.status, u.error]),
    [['holder', 'finished', undefined]],
    dump(flow.logs),
  )
  t.ok(flow.lines('holder').includes('handled 20 inputs holding 64 MiB'), dump(flow.logs))
})
