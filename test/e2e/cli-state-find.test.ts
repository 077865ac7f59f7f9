/**
 * `dora-ts state ls NAME` finds the store where the run put it (issue 14, defect 4): next to
 * the YAML, whatever folder the CLI is started from. It looked in ./.dora-ts/state only. One
 * short foreground run makes the store.
 */
import t from 'tap'
import { join } from 'node:path'
import { runCli, shortRuntimeDir } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

const dir = t.testdir({
  robot: {
    'dataflow.yml': `name: rover
nodes:
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/20 }
      outputs: [count]
`,
  },
  elsewhere: {},
})
const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t), DORA_TS_LOG_DIR: join(dir, 'logs') }
const elsewhere = join(dir, 'elsewhere')

const run = await runCli(['run', join(dir, 'robot', 'dataflow.yml'), '--stop-after', '1s'], { env, cwd: elsewhere })

t.test('state ls NAME from another folder finds the store next to the YAML', async (t) => {
  t.equal(run.code, 0, run.stderr)
  const ls = await runCli(['state', 'ls', 'rover'], { env, cwd: elsewhere })
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, new RegExp(`dataflow "rover": ${join(dir, 'robot', '.dora-ts', 'state', 'rover')} `))
  t.match(ls.stdout, /counter\s+\d+/)
  const dump = await runCli(['state', 'dump', 'rover', 'counter'], { env, cwd: elsewhere })
  t.equal(dump.code, 0, dump.stderr)
})

t.test('an unknown name says where it looked and what to pass instead', async (t) => {
  const ls = await runCli(['state', 'ls', 'rovr'], { env, cwd: elsewhere })
  t.equal(ls.code, 1)
  t.match(
    ls.stderr,
    new RegExp(`no state store for dataflow "rovr": looked in ${join(elsewhere, '.dora-ts', 'state', 'rovr')} and found no run of that name in the logs`),
  )
  t.match(ls.stderr, /Pass the dataflow YAML instead \(dora-ts state ls path\/to\/dataflow\.yml\)/)
  t.notMatch(ls.stderr, /please report/)
})
