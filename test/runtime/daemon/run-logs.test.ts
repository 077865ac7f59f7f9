/**
 * Run logs on disk: a new run of a dataflow removes the oldest finished runs of that name
 * beyond the kept number, never one still going, and never another dataflow's.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import { keptRuns, pruneRunLogs, RunLogWriter, runLogDirs, DEFAULT_KEPT_RUNS } from '../../../runtime/daemon/run-logs.js'

/** A run that wrote a line and finished (or not), with ids that sort in creation order. */
async function run(root: string, name: string, n: number, finished: boolean): Promise<RunLogWriter> {
  const writer = new RunLogWriter(root, name, `r${String(n).padStart(7, '0')}`, ['a'])
  writer.write({ source: 'a', stream: 'stdout', level: 'info', text: `line of run ${n}` })
  if (finished) await writer.finish({ ok: true })
  return writer
}

t.test('the oldest finished runs go, one still going and other dataflows stay', async (t) => {
  const root = t.testdir({})
  const live = await run(root, 'robot', 0, false)
  const done: RunLogWriter[] = []
  for (let n = 1; n <= 4; n++) done.push(await run(root, 'robot', n, true))
  await run(root, 'other', 1, true)
  t.equal(runLogDirs(root, 'robot').length, 5)

  const removed = pruneRunLogs(root, 'robot', 3)
  t.same(
    removed.map((d) => basename(d)),
    [done[0]!.dir, done[1]!.dir].map((d) => basename(d)),
    'the two oldest finished runs',
  )
  t.ok(existsSync(live.dir), 'the run still going (no result yet) is kept, though it is the oldest')
  t.same(runLogDirs(root, 'robot').length, 3)
  t.equal(runLogDirs(root, 'other').length, 1, "another dataflow's logs are untouched")
  await live.finish({ ok: true })
})

t.test('a new run prunes on start, keeping DORA_TS_KEEP_RUNS runs', async (t) => {
  const root = t.testdir({})
  const saved = process.env['DORA_TS_KEEP_RUNS']
  t.teardown(() => {
    if (saved === undefined) delete process.env['DORA_TS_KEEP_RUNS']
    else process.env['DORA_TS_KEEP_RUNS'] = saved
  })
  process.env['DORA_TS_KEEP_RUNS'] = '2'
  for (let n = 1; n <= 5; n++) await run(root, 'robot', n, true)
  // Each start prunes (counting itself) down to 2: what is left is the two newest runs.
  const left = runLogDirs(root, 'robot').map((d) => basename(d).split('_').at(-1))
  t.same(left, ['r0000004', 'r0000005'])
})

t.test('the kept number comes from DORA_TS_KEEP_RUNS when it is a positive integer', async (t) => {
  t.equal(keptRuns({}), DEFAULT_KEPT_RUNS)
  t.equal(keptRuns({ DORA_TS_KEEP_RUNS: '7' }), 7)
  t.equal(keptRuns({ DORA_TS_KEEP_RUNS: '0' }), DEFAULT_KEPT_RUNS)
  t.equal(keptRuns({ DORA_TS_KEEP_RUNS: 'lots' }), DEFAULT_KEPT_RUNS)
})
