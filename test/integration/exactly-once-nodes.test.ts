/**
 * Custom node -> operator across a supervisor SIGKILL (issue 11): a node's message is in the
 * outbox from the moment its `await send()` resolved, under a key numbered by the supervisor
 * (the node's counter `node/<id>` in `__meta__`), and the operator deletes that entry in the
 * transaction of the event that consumed it. So the supervisor killed between the outbox
 * commit and the operator's commit loses nothing and doubles nothing: the next run replays
 * exactly the entries the operator had not committed, and the operator counts each once.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fixture } from '../fixtures/nodes.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { parseDataflow } from '../../src/spec/load.js'
import { StateStore } from '../../src/store/state/store.js'
import { stateDirOf } from '../../runtime/state/location.js'
import { dump, startInProcess } from './fixtures/in-process.js'
import { sourceDir } from '../fixtures/paths.js'

const CHILD = join(sourceDir(import.meta.url), 'fixtures', 'supervisor-child.mjs')
const COUNT = 20

/** source (custom node, COUNT numbers, each awaited) -> count (operator, logs DUP and GAP). */
function flow(options: { count: number; countEnv?: string }): string {
  return `nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: ${options.count} }
    outputs: [numbers]
  - id: count
    env: { LIMIT: ${COUNT}, ${options.countEnv ?? ''} }
    operator:
      javascript: ${fixture('seq-counter.mjs')}
      inputs:
        n: { source: source/numbers, queue_size: 1000 }
      outputs: [unused]
`
}

t.test("a supervisor SIGKILLed between the outbox commit and the operator's commit: each node message counted once", async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'dataflow.yml')
  const runtimeDir = shortRuntimeDir(t)
  // Run 1: the operator handles 1..7 and then hangs in 8; the source's sends all resolve (so
  // 1..20 are committed in the outbox). Then SIGKILL: the operator's last events may not have
  // committed yet (commits are grouped), and 8..20 never were.
  writeFileSync(file, flow({ count: COUNT, countEnv: 'SLOW_AT: 8, SLOW_UNTIL: 1' }))
  const child = spawn(process.execPath, [CHILD, file], { env: { ...process.env, RUNTIME_DIR: runtimeDir }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void child.kill('SIGKILL'))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    if (lines.some((l) => l.startsWith(`[source] sent 1..${COUNT}`)) && lines.some((l) => l.startsWith('[count] slow 8'))) child.kill('SIGKILL')
  })
  await exited
  t.ok(
    lines.some((l) => l.startsWith('[count] slow 8')),
    `the operator was in 8 when the supervisor died:\n${lines.join('\n')}`,
  )
  const stateDir = stateDirOf(parseDataflow(readFileSync(file, 'utf8'), file))
  const waiting = (): number => {
    const store = StateStore.open({ dir: stateDir, durability: 'process' })
    try {
      return store.operator('count/count').pending('').length
    } finally {
      store.close()
    }
  }
  const left = waiting()
  t.ok(left >= COUNT - 7 && left <= COUNT, `the messages the operator had not committed wait in the outbox (${left})`)

  // Run 2: the source sends nothing more (as a source that saved its position after each
  // resolved send); the operator gets what it had not committed, once each.
  writeFileSync(file, flow({ count: 0 }))
  const second = await startInProcess(t, flow({ count: 0 }), { dir, runtimeDir })
  t.ok((await second.done).ok, dump(second.logs))
  const counted = second.lines('count')
  t.match(dump(second.logs), new RegExp(`count: replaying ${left} message\\(s\\) committed by the previous run`))
  t.same(
    counted.filter((l) => l.startsWith('DUP') || l.startsWith('GAP')),
    [],
    'no number counted twice, none skipped',
  )
  t.ok(
    counted.some((l) => l === `reached ${COUNT} count=${COUNT} sum=${(COUNT * (COUNT + 1)) / 2}`),
    `every number counted exactly once:\n${counted.join('\n')}`,
  )
  // With nothing committed (left === COUNT: under load the SIGKILL can come before the first
  // grouped commit) there is no state, and restoreState is not called at all.
  const restored = counted.find((l) => l.startsWith('restored '))
  t.equal(restored, left === COUNT ? undefined : `restored count=${COUNT - left} last=${COUNT - left}`, 'the operator restored exactly what it had committed')
  t.equal(waiting(), 0, 'nothing waits any more')
})
