/**
 * Exactly-once between operators, whatever is killed: a stateful source operator (it saves and
 * sends 1, 2, 3, ...) feeding a counting operator that logs every number out of sequence.
 * The supervisor SIGKILLed mid-flow, a clean stop mid-flow, init() messages across restarts,
 * crashes the input did not cause, and a stop while an operator crash-loops.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { parseDataflow } from '../../src/spec/load.js'
import { StateStore } from '../../src/store/state/store.js'
import { decodeJson } from '../../node-sdk/payload.js'
import { stateDirOf } from '../../runtime/state/location.js'
import type { OperatorHost } from '../../runtime/operator/host.js'
import { dump, startInProcess } from './fixtures/in-process.js'
import { sourceDir } from '../fixtures/paths.js'

const CHILD = join(sourceDir(import.meta.url), 'fixtures', 'supervisor-child.mjs')

/** src (LIMIT numbers, one per tick) -> count. */
function seqFlow(limit: number, options: { srcEnv?: string; countEnv?: string; countKeys?: string } = {}): string {
  return `nodes:
  - id: src
    env: { LIMIT: ${limit}, ${options.srcEnv ?? ''} }
    operator:
      javascript: ${fixture('seq-source.mjs')}
      inputs:
        tick: dora/timer/millis/2
      outputs: [n]
  - id: count
    env: { LIMIT: ${limit}, ${options.countEnv ?? ''} }
    operator:
      javascript: ${fixture('seq-counter.mjs')}
      inputs:
        n: { source: src/n, queue_size: 100000 }
      outputs: [unused]
${options.countKeys ?? ''}
`
}

/** The `count=<n> last=<v>` values the counter logged, in order. */
function counts(lines: string[]): number[] {
  return lines.flatMap((l) => {
    const m = /^count=\d+ last=(\d+)/.exec(l)
    return m === null ? [] : [Number(m[1])]
  })
}

function anomalies(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith('GAP') || l.startsWith('DUP'))
}

t.test('SIGKILL of the supervisor mid-flow: nothing lost, nothing doubled, nothing seen before its commit', async (t) => {
  const LIMIT = 300
  const dir = t.testdir({})
  const file = join(dir, 'dataflow.yml')
  writeFileSync(file, seqFlow(LIMIT))
  const stateDir = stateDirOf(parseDataflow(seqFlow(LIMIT), file))
  const runtimeDir = shortRuntimeDir(t)
  const all: string[] = []

  /** Run the supervisor until `until` holds for its lines, then `signal` it; resolves with its lines. */
  const runChild = async (until: (lines: string[]) => boolean, signal: NodeJS.Signals): Promise<string[]> => {
    const child = spawn(process.execPath, [CHILD, file], { env: { ...process.env, RUNTIME_DIR: runtimeDir }, stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => void child.kill('SIGKILL'))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const lines: string[] = []
    let signalled = false
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      all.push(line)
      if (!signalled && until(lines.filter((l) => l.startsWith('[count] ')).map((l) => l.slice(8)))) {
        signalled = true
        child.kill(signal)
      }
    })
    await exited
    t.ok(signalled, `the supervisor was ${signal}ed, not ended by itself:\n${lines.join('\n')}`)
    return lines.filter((l) => l.startsWith('[count] ')).map((l) => l.slice(8))
  }

  for (let kill = 1; kill <= 4; kill++) {
    const after = 1 + Math.floor(Math.random() * 25)
    const lines = await runChild((l) => counts(l).length >= after, 'SIGKILL')
    // What the source committed as sent: the counter can never have seen more.
    const store = StateStore.open({ dir: stateDir, durability: 'process' })
    const next = decodeJson<number>(store.operator('src/src').load().state.get('next')!)
    const counted = store.operator('count/count').load().state.get('last')
    store.close()
    t.ok(Math.max(0, ...counts(lines)) <= next, `kill ${kill}: the counter saw only numbers the source had committed (${next})`)
    t.ok(counted === undefined || decodeJson<number>(counted) <= next)
  }
  const last = await runChild((l) => l.some((x) => x.startsWith(`reached ${LIMIT}`)), 'SIGTERM')
  const counter = all.filter((l) => l.startsWith('[count] ')).map((l) => l.slice(8))
  t.same(anomalies(counter), [], 'no number was lost or counted twice across the kills')
  t.ok(last.includes(`reached ${LIMIT} count=${LIMIT} sum=${(LIMIT * (LIMIT + 1)) / 2}`), `every number counted exactly once:\n${last.slice(-5).join('\n')}`)
})

t.test('a clean stop mid-flow loses nothing: what was not consumed is replayed by the next run', async (t) => {
  const LIMIT = 200
  const dir = t.testdir({})
  const first = await startInProcess(t, seqFlow(LIMIT), { dir })
  await waitFor(() => counts(first.lines('count')).length >= 20, { what: '20 counts', detail: () => dump(first.logs) })
  first.run.stop()
  const stopped = await first.done
  t.ok(stopped.ok, dump(first.logs))
  const second = await startInProcess(t, seqFlow(LIMIT), { dir })
  await second.waitForLine(new RegExp(`^reached ${LIMIT} `))
  const lines = [...first.lines('count'), ...second.lines('count')]
  t.same(anomalies(lines), [], dump([...first.logs, ...second.logs]))
  t.ok(second.lines('count').includes(`reached ${LIMIT} count=${LIMIT} sum=${(LIMIT * (LIMIT + 1)) / 2}`))
})

t.test("a dataflow's Stop reaches a slow operator next, ahead of its queue, which the next run gets: every number once", async (t) => {
  const LIMIT = 300
  const dir = t.testdir({})
  // 20 ms a number against one sent every 2 ms: a backlog builds, posted ahead (64) and queued.
  const first = await startInProcess(t, seqFlow(LIMIT, { countEnv: 'SLOW_MS: 20' }), { dir })
  await first.waitForLine(/^count=20 /)
  const seen = counts(first.lines('count')).length
  first.run.stop()
  const stopped = await first.done
  t.ok(stopped.ok, dump(first.logs))
  const stop = first.lines('count').find((l) => l.startsWith('stop '))
  const match = /^stop manual count=(\d+) last=(\d+)$/.exec(stop ?? '')
  t.ok(match !== null, `the counter got its Stop:\n${dump(first.logs)}`)
  const atStop = Number(match?.[1])
  // It got its Stop after the number it was handling (and a few the log had not shown yet), not
  // after the 64 posted ahead or the queue behind them.
  t.ok(atStop - seen < 32, `Stop after ${atStop} numbers, ${seen} seen when the dataflow stopped`)
  t.equal(Number(match?.[2]), atStop, 'the numbers it handled are 1..count')
  const waited = first.logs.map((l) => /^count: its Stop went ahead of (\d+) queued message\(s\)/.exec(l.text)).find((m) => m !== null)
  t.ok(waited !== undefined && waited !== null && Number(waited[1]) > 0, `the run says how many wait for the next one:\n${dump(first.logs)}`)
  const second = await startInProcess(t, seqFlow(LIMIT), { dir })
  await second.waitForLine(new RegExp(`^reached ${LIMIT} `))
  t.ok(
    second.logs.some((l) => /count: replaying \d+ message\(s\) committed by the previous run/.test(l.text)),
    'the next run replays what the Stop went ahead of',
  )
  const lines = [...first.lines('count'), ...second.lines('count')]
  t.same(anomalies(lines), [], dump([...first.logs, ...second.logs]))
  t.ok(second.lines('count').includes(`reached ${LIMIT} count=${LIMIT} sum=${(LIMIT * (LIMIT + 1)) / 2}`), dump(second.logs))
})

t.test('init() messages keep distinct ids after a restart and across runs, and none is dropped', async (t) => {
  const LIMIT = 60
  const dir = t.testdir({})
  const first = await startInProcess(t, seqFlow(LIMIT, { srcEnv: 'INIT_SEND: "1"' }), { dir })
  await waitFor(() => counts(first.lines('count')).length >= 5, { what: '5 counts', detail: () => dump(first.logs) })
  ;(first.run.units.get('src/src') as OperatorHost).crash('killed by the test')
  await first.waitForLine(new RegExp(`^reached ${LIMIT} `))
  first.run.stop()
  await first.done
  const second = await startInProcess(t, seqFlow(LIMIT, { srcEnv: 'INIT_SEND: "1"' }), { dir })
  await second.waitForLine(/^init 0 id=i3\.0$/)
  const inits = [...first.lines('count'), ...second.lines('count')].filter((l) => l.startsWith('init'))
  t.same(inits, ['init 0 id=i1.0', 'init 1 id=i2.0', 'init 0 id=i3.0'], dump([...first.logs, ...second.logs]))
  t.same(anomalies(first.lines('count')), [])
})

t.test('restore failures and kills do not count against the input in flight (no poison)', async (t) => {
  const flow = await startInProcess(
    t,
    seqFlow(20, {
      countEnv: 'CRASH_AT: 5, RESTORE_FAIL_AT: "1,2", SLOW_AT: 8, SLOW_UNTIL: 6',
      countKeys: '      max_redeliveries: 2\n      restart_delay: 10ms\n      max_restart_delay: 10ms',
    }),
  )
  const counter = flow.run.units.get('count/count') as OperatorHost
  for (let restart = 3; restart < 6; restart++) {
    await flow.waitForLine(new RegExp(`^slow 8 restartCount=${restart}$`))
    counter.crash('killed by the test')
  }
  await flow.waitForLine(/^reached 20 /)
  t.notMatch(dump(flow.logs), /poison/, 'no input was dropped as poison')
  t.ok(flow.lines('count').includes('reached 20 count=20 sum=210'), dump(flow.logs))
  t.equal(
    flow.logs.filter((l) => /failed to load on restart: Error: restore failure at restart \d \(at \S*seq-counter\.mjs:\d+:\d+\)/.test(l.text)).length,
    2,
    'each restore failure is named, with the line of the operator that threw it',
  )
})

t.test('stopping a crash-looping operator ends it at once, naming its real cause', async (t) => {
  const flow = await startInProcess(
    t,
    seqFlow(20, { countEnv: 'CRASH_ALWAYS_AT: 3', countKeys: '      max_redeliveries: 100000\n      restart_delay: 10ms\n      max_restart_delay: 10ms' }),
    {
      graceMs: 600_000,
    },
  )
  await flow.waitForLine(/count restarting in \d+ ms \(restart 3\)/)
  flow.run.stop()
  const result = await flow.done
  const unit = result.units.find((u) => u.unit === 'count')
  t.equal(unit?.status, 'failed')
  t.match(unit?.error, /crashed: injected crash at 3, every time.*; not restarted: the dataflow is stopping$/)
  t.notMatch(unit?.error, /grace period/)
})
