/** State store problems stop `dora-ts run` with one clear paragraph, never a stack or a wipe. */
import t from 'tap'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, startCli, shortRuntimeDir } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'

const yaml = `nodes:
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/20 }
      outputs: [count]
`

t.test('a corrupt state file is reported with its directory and left untouched', async (t) => {
  const dir = t.testdir({ 'dataflow.yml': yaml })
  const store = join(dir, 'state', 'dataflow')
  mkdirSync(store, { recursive: true })
  const garbage = Buffer.alloc(64 * 1024, 0x5a)
  writeFileSync(join(store, 'data.mdb'), garbage)
  const result = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', join(dir, 'state')], {
    env: { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) },
  })
  t.equal(result.code, 1)
  t.match(result.stderr, /DORA_STATE_CORRUPT|not an LMDB|corrupt/i)
  t.match(result.stderr, store)
  t.notMatch(result.stderr, /\n\s+at \S+ \(/, 'no stack trace')
  t.ok(readFileSync(join(store, 'data.mdb')).equals(garbage), 'the file was not wiped')
})

t.test('a second run of the same dataflow on the same state is refused while the first runs', async (t) => {
  const dir = t.testdir({ 'dataflow.yml': yaml })
  const env = { DORA_TS_RUNTIME_DIR: shortRuntimeDir(t) }
  const args = ['run', join(dir, 'dataflow.yml'), '--state-dir', join(dir, 'state')]
  const first = startCli(args, { env })
  await first.waitFor(/running \(id/)
  const second = await runCli(args, { env })
  t.equal(second.code, 1)
  t.match(second.stderr, /the state store in .* is in use by another dora-ts process \(pid \d+\)/)
  first.child.kill('SIGINT')
  t.equal((await first.exited).code, 0)
})
