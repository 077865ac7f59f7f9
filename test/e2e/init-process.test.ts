/**
 * A supervisor that is PID 1 (a container without `--init`) says that the orphans its nodes
 * leave are never reaped, and how to fix it; run for real under `unshare --pid` where it is
 * permitted (root), skipped saying why elsewhere.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { initProcessWarning } from '../../runtime/supervisor/init-process.js'
import { CLI, ROOT } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

t.test('only PID 1 is warned', async (t) => {
  t.match(initProcessWarning(1), /runs as PID 1 .*never reaped.*docker run --init/)
  t.equal(initProcessWarning(4242), undefined)
})

t.test('dora-ts run as PID 1 of a new pid namespace says so, once, and runs', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'flow.yml')
  writeFileSync(file, `nodes:\n  - id: sink\n    path: ${fixture('sink.mjs')}\n    inputs: { tick: dora/timer/millis/50 }\n`)
  const args = ['--pid', '--fork', '--mount-proc', process.execPath, CLI, 'run', file, '--stop-after', '1s', '--state-dir', join(dir, 'state')]
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { encoding: 'utf8' })
  if (probe.status !== 0) return void t.skip(`cannot make a pid namespace here (${(probe.stderr || String(probe.error)).trim()})`, () => {})
  const ran = spawnSync('unshare', args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  t.equal(ran.status, 0, ran.stderr)
  t.equal(ran.stderr.match(/the supervisor runs as PID 1/g)?.length, 1, ran.stderr)
  t.match(ran.stderr, /dataflow finished \(stop-after\): 1 node ended cleanly/)
  const plain = spawnSync(process.execPath, [CLI, 'run', file, '--stop-after', '1s', '--state-dir', join(dir, 'state')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.equal(plain.status, 0, plain.stderr)
  t.notMatch(plain.stderr, /PID 1/, 'not as any other pid')
})
