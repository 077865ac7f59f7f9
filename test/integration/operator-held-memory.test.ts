/**
 * `dora-ts list` and `top` give an operator's memory: what its worker holds (heap in use and
 * buffers, as its max_memory_mb counts them), told by the worker through a shared word, since a
 * worker's memory cannot be read from outside its thread on Node 20. An operator that keeps
 * 64 MiB of frames reads at least that; one that keeps nothing reads far less; a restarted
 * worker reads its own, not its predecessor's. Real workers through the real supervisor.
 */
import t from 'tap'
import { join } from 'node:path'
import { waitFor } from '../fixtures/wait-for.js'
import { startInProcess } from './fixtures/in-process.js'

const MiB = 1024 * 1024

t.test("an operator's memory is what its worker holds, and its max_memory_mb beside it", async (t) => {
  const dir = t.testdir({
    // Keeps 64 frames of 1 MiB, allocated on its first input, in its first life only.
    'hoarder.mjs': `const frames = []
export default {
  onInput(input, ctx) {
    if (ctx.restartCount === 0 && frames.length === 0) for (let i = 0; i < 64; i++) frames.push(Buffer.alloc(${MiB}, i))
  },
}
`,
    'lean.mjs': 'export default {\n  onInput() {},\n}\n',
  })
  const flow = await startInProcess(
    t,
    `nodes:
  - id: hoarder
    operator:
      javascript: ${join(dir, 'hoarder.mjs')}
      max_memory_mb: 512
      inputs:
        tick: dora/timer/millis/50
  - id: lean
    operator:
      javascript: ${join(dir, 'lean.mjs')}
      inputs:
        tick: dora/timer/millis/50
`,
    { dir },
  )
  const info = (name: string) => flow.run.unitInfo().find((u) => u.name === name)
  const hoarder = await waitFor(
    () => {
      const u = info('hoarder')
      return u?.residentBytes !== undefined && u.residentBytes >= 64 * MiB ? u : undefined
    },
    { what: 'the hoarder to read its 64 MiB of frames' },
  )
  t.equal(hoarder.maxMemoryMb, 512, 'with its max_memory_mb')
  const lean = await waitFor(() => info('lean')?.residentBytes, { what: 'the lean operator to tell what it holds' })
  t.ok(lean < 32 * MiB, `the lean operator holds less (${(lean / MiB).toFixed(1)} MiB)`)
  t.equal(info('lean')?.maxMemoryMb, undefined, 'and has no limit')
  t.equal(flow.run.findUnit('hoarder')!.restartNow('restarted by the test'), undefined, 'the hoarder restarts')
  await waitFor(
    () => {
      const u = info('hoarder')
      return u !== undefined && u.restarts === 1 && u.residentBytes !== undefined && u.residentBytes < 32 * MiB ? u : undefined
    },
    { what: "the restarted hoarder to read its own memory, not its first life's frames" },
  )
  flow.run.stop()
  await flow.done
})
