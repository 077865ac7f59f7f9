/**
 * How the CLI finds dataflows run in the foreground (runtime/cli/foreground-control.ts): the
 * entry of a live run is listed, the files of a run whose process is gone are removed, and one
 * whose pid file does not match is not taken for it.
 */
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { foregroundRuns } from '../../../runtime/cli/foreground-control.js'
import { pidFileContent } from '../../../src/transport/pid-file.js'
import { runRoot } from '../../../src/transport/run-dir.js'

t.test('live runs are listed; a killed run leaves nothing behind for the next look', async (t) => {
  const before = process.env['DORA_TS_RUNTIME_DIR']
  process.env['DORA_TS_RUNTIME_DIR'] = t.testdir()
  t.teardown(() => {
    if (before === undefined) delete process.env['DORA_TS_RUNTIME_DIR']
    else process.env['DORA_TS_RUNTIME_DIR'] = before
  })
  t.same(foregroundRuns(), [], 'no folder yet: none')
  const dir = join(runRoot(), 'foreground')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const entry = (id: string, pid: number, pidFile: string): void => {
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ name: id, id, pid, endpoint: `ipc://${join(dir, `${id}.sock`)}` }))
    writeFileSync(join(dir, `${id}.pid`), pidFile)
    writeFileSync(join(dir, `${id}.sock`), '')
  }
  entry('live', process.pid, pidFileContent())
  entry('killed', 999_999_999, '999999999 \n')
  // Its pid is alive (ours) but its pid file names another process: not this run.
  entry('reused', process.pid, '999999999 \n')
  t.same(
    foregroundRuns().map((r) => r.name),
    ['live'],
  )
  t.same(readdirSync(dir).sort(), ['live.json', 'live.pid', 'live.sock'], "the others' files are gone")
  t.ok(existsSync(join(dir, 'live.sock')))
})
