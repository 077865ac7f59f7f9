/**
 * Guarantee 3: state committed before a SIGKILL of the whole supervisor is there when the
 * dataflow starts again, and it is exactly the state of a completed event (never half of one).
 */
import t from 'tap'
import { join } from 'node:path'
import { StateStore } from '../../src/store/state/store.js'
import { printedPids, runCli, shortRuntimeDir, startCli, waitForExit } from './fixtures/cli.js'
import { countingFlow, decodeCounter } from './fixtures/counting.js'

const flow = (count: number): string => countingFlow({ count, delayMs: 1 })

function readCounter(stateDir: string): { count: number; sum: number } {
  const store = StateStore.open({ dir: join(stateDir, 'dataflow'), durability: 'process' })
  try {
    const { state } = store.operator('counter/counter').load()
    return decodeCounter(state.get('count')!, state.get('sum')!)
  } finally {
    store.close()
  }
}

for (let round = 1; round <= 3; round++) {
  t.test(`SIGKILL of the supervisor mid-stream keeps the last committed event (round ${round})`, async (t) => {
    const dir = t.testdir({ 'dataflow.yml': flow(1_000_000) })
    const stateDir = join(dir, 'state')
    const runtimeDir = shortRuntimeDir(t)
    const env = { DORA_TS_RUNTIME_DIR: runtimeDir }
    const cli = startCli(['run', join(dir, 'dataflow.yml'), '--state-dir', stateDir], { env })
    // Let it commit a few hundred events, then kill it at a moment that varies per round.
    await cli.waitFor(new RegExp(`\\[sink\\] got count ${100 * round + Math.floor(Math.random() * 100)} `))
    const pids = printedPids(cli.output().stdout)
    cli.child.kill('SIGKILL')
    await cli.exited
    t.same(await waitForExit(pids, 15_000), [], 'its nodes exit on their own')
    const printed = [...cli.output().stdout.matchAll(/\[sink\] got count (\d+) /g)].map((m) => Number(m[1]))
    const lastPrinted = printed.at(-1)!

    const { count, sum } = readCounter(stateDir)
    t.equal(sum, (count * (count + 1)) / 2, `count=${count} and sum=${sum} come from the same event`)
    // The count the sink printed was sent by an event whose predecessor had committed.
    t.ok(count >= lastPrinted - 1, `committed count ${count} is at least ${lastPrinted - 1}`)

    // Start again: restoreState gets exactly what was committed.
    const again = await runCli(['run', join(dir, 'dataflow.yml'), '--state-dir', stateDir, '--stop-after', '1s'], { env })
    t.equal(again.code, 0, again.stderr)
    t.match(again.stdout, new RegExp(`\\[counter\\] restored count=${count} sum=${sum} restartCount=0`))
  })
}
