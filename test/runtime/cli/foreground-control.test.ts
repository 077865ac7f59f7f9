/**
 * How the CLI finds dataflows run in the foreground (runtime/cli/foreground-control.ts): a run
 * directory with a live run's files is listed; one whose process is gone, or whose pid file
 * names another process (a pid reused), is not taken for a run.
 */
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { foregroundRuns } from '../../../runtime/cli/foreground-control.js'
import { pidFileContent } from '../../../src/transport/pid-file.js'
import { runRoot } from '../../../src/transport/run-dir.js'

t.test('live runs are listed; a killed run or a reused pid is not', async (t) => {
  const before = process.env['DORA_TS_RUNTIME_DIR']
  process.env['DORA_TS_RUNTIME_DIR'] = t.testdir()
  t.teardown(() => {
    if (before === undefined) delete process.env['DORA_TS_RUNTIME_DIR']
    else process.env['DORA_TS_RUNTIME_DIR'] = before
  })
  t.same(foregroundRuns(), [], 'no runtime directory yet: none')
  const entry = (dir: string, name: string, pid: number, pidFile?: string): void => {
    const path = join(runRoot(), dir)
    mkdirSync(path, { recursive: true, mode: 0o700 })
    writeFileSync(join(path, 'foreground.json'), JSON.stringify({ name, id: name, pid, endpoint: `ipc://${join(path, 'ctl.sock')}` }))
    if (pidFile !== undefined) writeFileSync(join(path, 'foreground.pid'), pidFile)
  }
  entry(`run-${process.pid}-aa`, 'live', process.pid, pidFileContent())
  entry('run-999999999-bb', 'killed', 999_999_999, '999999999 \n')
  // Its pid is alive (ours) but its pid file names another process: not this run.
  entry(`run-${process.pid}-cc`, 'reused', process.pid, '999999999 \n')
  entry(`run-${process.pid}-dd`, 'starting', process.pid)
  mkdirSync(join(runRoot(), `run-${process.pid}-ee`))
  t.same(
    foregroundRuns().map((r) => r.name),
    ['live'],
  )
})
