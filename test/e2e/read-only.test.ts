/**
 * A dataflow on a read-only file system (a robot's root file system often is): its state and
 * the logs default to folders that cannot be made. Each is one clear paragraph naming the
 * read-only folder and what to do, never "ENOENT: no such file or directory" (what Node's mkdir
 * reports) or a stack trace. A real read-only tmpfs (skipped, saying why, where mounting is not
 * permitted: not root).
 */
import t from 'tap'
import { join } from 'node:path'
import { runCli, shortRuntimeDir } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'
import { readOnlyFolder } from '../fixtures/small-tmpfs.js'

const yaml = `nodes:
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/20 }
      outputs: [count]
`
const NO_STACK = /\n\s+at \S+ \(/

t.test('dora-ts run with its state beside a read-only dataflow: the state folder cannot be made, and --state-dir is the way out', async (t) => {
  const ro = readOnlyFolder(t, { 'dataflow.yml': yaml })
  if (typeof ro !== 'string') return void t.skip(ro.skip, () => {})
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t), DORA_TS_LOG_DIR: t.testdir({}) }
  const result = await runCli(['run', join(ro, 'dataflow.yml'), '--stop-after', '1s'], { env })
  t.equal(result.code, 1, 'it fails')
  t.match(result.stderr, `cannot make or lock the state store in ${join(ro, '.dora-ts', 'state', 'dataflow')}: ${ro} is on a read-only file system`)
  t.match(result.stderr, /--state-dir/, 'the hint says where else to keep it')
  t.notMatch(result.stderr, /ENOENT/)
  t.notMatch(result.stderr, NO_STACK, 'no stack trace')
  const elsewhere = await runCli(['run', join(ro, 'dataflow.yml'), '--stop-after', '1s', '--state-dir', t.testdir({})], { env })
  t.equal(elsewhere.code, 0, `with --state-dir it runs${elsewhere.stderr}`)
})

t.test('logs under a read-only home: dora-ts up refuses in one paragraph; dora-ts run says it keeps no log files and runs', async (t) => {
  const ro = readOnlyFolder(t, { 'dataflow.yml': yaml })
  if (typeof ro !== 'string') return void t.skip(ro.skip, () => {})
  // Empty XDG_STATE_HOME and DORA_TS_LOG_DIR count as unset (the XDG rule): the logs go under HOME.
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t), HOME: ro, XDG_STATE_HOME: '', DORA_TS_LOG_DIR: '' }
  const logs = join(ro, '.local', 'state', 'dora-ts', 'logs')
  const up = await runCli(['up'], { env })
  t.equal(up.code, 1, 'up fails')
  t.match(up.stderr, `cannot make the log directory ${logs}: ${ro} is on a read-only file system`)
  t.match(up.stderr, /DORA_TS_LOG_DIR/, 'the hint names the variable')
  t.notMatch(up.stderr, NO_STACK, 'no stack trace')
  const run = await runCli(['run', join(ro, 'dataflow.yml'), '--stop-after', '1s', '--state-dir', t.testdir({})], { env })
  t.equal(run.code, 0, `the run goes on without log files${run.stderr}`)
  t.match(run.stderr, `this run keeps no log files: cannot make the log directory ${logs}: ${ro} is on a read-only file system`)
})
