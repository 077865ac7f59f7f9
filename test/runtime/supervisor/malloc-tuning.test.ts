/**
 * The malloc settings the supervisor gives its custom nodes (malloc-tuning.ts): what they are,
 * that a user's own setting wins, and, started by the real CLI, that a node gets them and
 * that they do what they are for: a 4 MiB buffer made after a few others costs (almost) no
 * page faults. The fault count is the kernel's, not a timing.
 */
import t, { type Test } from 'tap'
import { runCli } from '../../e2e/fixtures/cli.js'
import { dataflow } from '../../e2e/fixtures/run-dataflows.js'
import { fixture } from '../../fixtures/nodes.js'
import { NODE_MMAP_THRESHOLD_BYTES, NODE_TRIM_THRESHOLD_BYTES, nodeMallocEnv } from '../../../runtime/supervisor/malloc-tuning.js'

/** glibc reads MALLOC_*_ variables; musl and others do not. */
const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined

t.test('a node gets both settings unless the supervisor or the node already sets either', async (t) => {
  const tuned = { MALLOC_MMAP_THRESHOLD_: String(NODE_MMAP_THRESHOLD_BYTES), MALLOC_TRIM_THRESHOLD_: String(NODE_TRIM_THRESHOLD_BYTES) }
  t.same(nodeMallocEnv({ PATH: '/bin' }, undefined), tuned)
  t.same(nodeMallocEnv({}, { OTHER: '1' }), tuned)
  t.same(nodeMallocEnv({ MALLOC_TRIM_THRESHOLD_: '0' }, undefined), {}, 'set in the supervisor environment')
  t.same(nodeMallocEnv({}, { MALLOC_MMAP_THRESHOLD_: '131072' }), {}, 'set in the node env')
})

function probeFlow(t: Test, env: string): { file: string; runtimeDir: string } {
  return dataflow(
    t,
    `nodes:
  - id: probe
    path: ${fixture('malloc-probe.mjs')}
${env}`,
  )
}

t.test('a node started by dora-ts run makes large buffers in pages it already has', async (t) => {
  const { file, runtimeDir } = probeFlow(t, '')
  const env: NodeJS.ProcessEnv = { ...process.env, DORA_TS_RUNTIME_DIR: runtimeDir }
  delete env.MALLOC_MMAP_THRESHOLD_
  delete env.MALLOC_TRIM_THRESHOLD_
  const result = await runCli(['run', file], { env })
  t.equal(result.code, 0, result.stderr)
  const line = /\[probe\] mmap=(\S+) trim=(\S+) faults-per-4MiB=([\d.]+)/.exec(result.stdout)
  t.ok(line, result.stdout)
  t.equal(line?.[1], String(NODE_MMAP_THRESHOLD_BYTES))
  t.equal(line?.[2], String(NODE_TRIM_THRESHOLD_BYTES))
  // Without the settings, ~160-240 of a 4 MiB buffer's 1024 pages fault on the 2-core VM.
  if (glibc) t.ok(Number(line?.[3]) < 100, `faults per 4 MiB buffer: ${line?.[3]}`)
})

t.test("a node's own malloc setting is the one it runs with", async (t) => {
  const { file, runtimeDir } = probeFlow(t, '    env: { MALLOC_MMAP_THRESHOLD_: 131072 }\n')
  const result = await runCli(['run', file], { env: { ...process.env, DORA_TS_RUNTIME_DIR: runtimeDir } })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /\[probe\] mmap=131072 trim=- /)
})
