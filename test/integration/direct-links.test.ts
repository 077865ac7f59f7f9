/**
 * Reliable direct links (`_unstable_direct_links: true`, docs/design/reliable-direct-links.md):
 * messages between two custom nodes go from the sender's process to the receiver's through a
 * link log in shared memory, not the supervisor. The at-least-once guarantee of the
 * supervisor's path must hold as it is: a source SIGKILLed right after sends resolved and a
 * sink SIGKILLed in the middle of its input, both restarted; every message arrives intact, a
 * copy seen twice is marked `redelivered`, and a clean run leaves no message bytes in shared
 * memory. Small payloads ride the socket; larger ones (>= 8 KiB) are read from the log.
 */
import t, { type Test } from 'tap'
import { readJsonl } from '../fixtures/jsonl.js'
import { linkLogFiles } from '../fixtures/link-log-files.js'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess, type InProcessRun } from './fixtures/in-process.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { parseDataflow } from '../../src/spec/load.js'
import { DataflowRun } from '../../runtime/supervisor/dataflow-run.js'
import type { LogEntry } from '../../runtime/supervisor/unit.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { waitFor } from '../fixtures/wait-for.js'
import { ROOT } from '../fixtures/paths.js'
import { LINK_MARK_AHEAD, LINK_READ_AHEAD } from '../../node-sdk/link-inputs.js'

interface Record {
  life: number
  index: number
  ok: boolean
  messageId: string
  redelivered: boolean
}

const records = (file: string): Record[] => readJsonl<Record>(file)

/** Every file under the store folders' `links/` of this test's shm root: [path, bytes]. */
// Logs go to a folder of this test (not the machine's /dev/shm).
process.env['DORA_TS_SHM_DIR'] = t.testdir({})

/**
 * A sink that receives the same index more than once may do so only as a redelivery: the copy
 * after the first must say so. Returns the indexes that came again unmarked.
 */
function unmarkedRepeats(got: readonly Record[]): number[] {
  const seen = new Set<number>()
  const bad: number[] = []
  for (const r of got) {
    if (seen.has(r.index) && !r.redelivered) bad.push(r.index)
    seen.add(r.index)
  }
  return bad
}

for (const [label, size] of [
  ['small payloads on the socket', 2048],
  ['large payloads read from the log', 300 * 1024],
] as const) {
  t.test(`${label}: a source and a sink SIGKILLed and restarted lose nothing, and repeats are marked redelivered`, async (t) => {
    const dir = t.testdir({})
    const count = 40
    const yaml = `_unstable_direct_links: true
nodes:
  - id: source
    path: ${fixture('big-source.mjs')}
    env: { COUNT: ${count}, SIZE: ${size}, KILL_AFTER: 10 }
    outputs: [frames]
    restart_policy: on-failure
    restart_delay: 1ms
  - id: killed-sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'killed.jsonl'))}, SIZE: ${size}, KILL_AT: 15 }
    inputs:
      frames: { source: source/frames, queue_size: 1000 }
    restart_policy: on-failure
    restart_delay: 1ms
  - id: calm-sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'calm.jsonl'))}, SIZE: ${size} }
    inputs:
      frames: { source: source/frames, queue_size: 1000 }
`
    const flow = await startInProcess(t, yaml, { dir })
    const result = await flow.done
    t.ok(result.ok, dump(flow.logs))
    const said = flow.lines('dora-ts').join('\n')
    t.match(said, /source was killed by SIGKILL \(not sent by dora-ts: [^)]*\); restarting/, 'the source was killed mid-burst')
    t.match(said, /killed-sink was killed by SIGKILL \(not sent by dora-ts: [^)]*\); restarting/, 'the sink was killed holding an input')
    const all = Array.from({ length: count }, (_, i) => i + 1)
    for (const name of ['killed', 'calm']) {
      const got = records(join(dir, `${name}.jsonl`))
      t.ok(
        got.every((r) => r.ok && r.messageId === `big-${r.index}`),
        `${name}-sink: every payload intact, with the source's messageId`,
      )
      t.same(
        [...new Set(got.map((r) => r.index))].sort((a, b) => a - b),
        all,
        `${name}-sink: every payload arrived`,
      )
    }
    // The restarted source sends everything again (new messages, new log entries): a sink sees
    // those as new. What must be marked is what the *same entry* brought twice: the input the
    // sink died holding.
    const killed = records(join(dir, 'killed.jsonl'))
    t.ok(
      killed.some((r) => r.life === 1 && r.redelivered && r.index === 15),
      'the input the sink died holding came again, marked redelivered',
    )
    t.same(
      killed.filter((r) => r.life === 0 && r.redelivered),
      [],
      'nothing is marked redelivered in the first life',
    )
    t.same(
      linkLogFiles(shmRoot()).filter(([, bytes]) => bytes > 0),
      [],
      'the run ended with every message consumed: no message bytes left in its link logs',
    )
  })
}

/**
 * A dataflow of seg-source.mjs (`count` frames of 4 KiB, its progress in `dir`/progress.txt)
 * -> big-sink.mjs (records in `dir`/sink.jsonl, restarted on failure), the sink's own settings
 * `sinkEnv` (YAML flow-mapping entries) and its input's `queueSize`.
 */
function segmentsToSink(dir: string, count: number, sinkEnv: string, queueSize: number, options: { supervised?: boolean } = {}): string {
  return `_unstable_direct_links: ${options.supervised !== true}
nodes:
  - id: source
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: ${count}, SIZE: 4096, PROGRESS_FILE: ${JSON.stringify(join(dir, 'progress.txt'))} }
    outputs: [frames]
  - id: sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'sink.jsonl'))}, SIZE: 4096, ${sinkEnv} }
    inputs:
      frames: { source: source/frames, queue_size: ${queueSize} }
    restart_policy: on-failure
    restart_delay: 1ms
`
}

const upTo = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => i + from)

// A `for await` loop's end cannot tell a `break` from a throw: the input the program broke out
// on is consumed only if the process then exits with code 0 (its close named it), on a direct
// link (its cursor) as on the supervisor's path (Credit.heldAtClose). A failing exit restarts
// the sink within the run (`on-failure`); a clean one ends it, and the next run goes on.
for (const [path, supervised] of [
  ['direct links', false],
  ["the supervisor's path", true],
] as const) {
  for (const exitCode of [0, 3]) {
    const outcome = exitCode === 0 ? 'is done with the input it broke out on' : 'gets the input it broke out on again, marked'
    t.test(`${path}: a sink that breaks out of its loop, closes and exits with code ${exitCode} ${outcome}`, async (t) => {
      const dir = t.testdir({})
      const count = 30
      const breakAt = 10
      const yaml = segmentsToSink(dir, count, `BREAK_AT: ${breakAt}, BREAK_EXIT: ${exitCode}`, 1000, { supervised })
      for (const run of [1, 2]) {
        const flow = await startInProcess(t, yaml, { dir })
        t.ok((await flow.done).ok, `run ${run}: ${dump(flow.logs)}`)
      }
      const got = records(join(dir, 'sink.jsonl'))
      t.same(
        got.slice(0, breakAt).map((r) => r.index),
        upTo(1, breakAt),
        `the first process took 1..${breakAt} and broke out on ${breakAt}`,
      )
      const rest = got.slice(breakAt)
      const from = exitCode === 0 ? breakAt + 1 : breakAt
      t.same(
        rest.map((r) => r.index),
        upTo(from, count),
        `then ${exitCode === 0 ? 'the next run' : 'its restarted process'} took ${from}..${count}, each once`,
      )
      if (exitCode !== 0) t.equal(rest[0]?.redelivered, true, `${breakAt} came again marked redelivered`)
      // (The supervisor's path marks every event it replays from the outbox, seen or not.)
      else if (!supervised) t.equal(rest[0]?.redelivered, false, `${from} came unmarked: no process had it before`)
      t.ok(
        got.every((r) => r.ok),
        'every payload intact',
      )
    })
  }
}

t.test('a sink restarted mid-stream resumes from its cursor: nothing lost, every repeat marked, at most a mark-ahead of them', async (t) => {
  const dir = t.testdir({})
  const count = 60
  const killAt = 20
  const yaml = segmentsToSink(dir, count, `KILL_AT: ${killAt}`, 1000)
  const flow = await startInProcess(t, yaml, { dir })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = records(join(dir, 'sink.jsonl'))
  t.same(unmarkedRepeats(got), [], 'no message came twice unmarked')
  const first = got.filter((r) => r.life === 0).map((r) => r.index)
  const second = got.filter((r) => r.life === 1)
  t.same(
    first,
    Array.from({ length: killAt }, (_, i) => i + 1),
    `the first life took 1..${killAt} in order, and died holding ${killAt}`,
  )
  const from = second[0]?.index ?? 0
  t.ok(from >= 1 && from <= killAt, `the restarted sink resumed from its cursor, at or before the one it held (${from})`)
  t.same(
    second.map((r) => r.index),
    Array.from({ length: count - from + 1 }, (_, i) => i + from),
    'then took the rest in order, each once',
  )
  t.ok(
    got.every((r) => r.ok),
    'every payload intact',
  )
  const marked = second.filter((r) => r.redelivered).map((r) => r.index)
  t.ok(
    second.filter((r) => r.index <= killAt).every((r) => r.redelivered),
    `every one it had seen before came marked redelivered (${from}..${killAt})`,
  )
  // The cursor marks up to LINK_MARK_AHEAD entries past the last one it wrote for: a few never
  // seen may be marked too, never more than that.
  t.ok(
    marked.every((i) => i <= from + Number(LINK_MARK_AHEAD)),
    `marked ones stay within the mark-ahead of where it resumed: ${marked.join(',')}`,
  )
})

t.test('a sink destroyed with inputs waiting in its buffer is handed none of them: its next process gets them, none unmarked twice', async (t) => {
  const dir = t.testdir({})
  const count = 40
  const destroyAt = 5
  const progress = join(dir, 'progress.txt')
  const yaml = segmentsToSink(dir, count, `DESTROY_AT: ${destroyAt}, WAIT_FILE: ${JSON.stringify(progress)}, COUNT: ${count}`, 100_000)
  const flow = await startInProcess(t, yaml, { dir })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = records(join(dir, 'sink.jsonl')) as Array<Record & { afterDestroy?: boolean }>
  t.same(
    got.filter((r) => r.afterDestroy === true).map((r) => r.index),
    [],
    'nothing read from the log was handed over once the node was destroyed (its cursor could not mark it)',
  )
  t.same(
    got.filter((r) => r.life === 0).map((r) => r.index),
    Array.from({ length: destroyAt }, (_, i) => i + 1),
    `the first life took 1..${destroyAt}`,
  )
  t.same(unmarkedRepeats(got), [], 'no message came twice unmarked')
  t.same(
    [...new Set(got.map((r) => r.index))].sort((a, b) => a - b),
    Array.from({ length: count }, (_, i) => i + 1),
    'every message arrived',
  )
})

/** A backlog-source -> backlog-sink dataflow (test/fixtures/nodes/), the sink's `in` with a queue_size of a million. */
/** `supervised`: every message goes through the supervisor (`_unstable_direct_links: false`). */
function backlogYaml(sourceEnv: string, sinkEnv: string, supervised = false): string {
  return `${supervised ? '_unstable_direct_links: false\n' : ''}nodes:
  - id: source
    path: ${fixture('backlog-source.mjs')}
    env: ${sourceEnv}
    outputs: [out]
  - id: sink
    path: ${fixture('backlog-sink.mjs')}
    env: ${sinkEnv}
    inputs:
      in: { source: source/out, queue_size: 1000000 }
`
}

/** The number a backlog-sink line matching `pattern` (with one `(\d+)`) says, or undefined. */
function sinkSaid(flow: { lines: (source: string) => string[] }, pattern: RegExp): number | undefined {
  const hit = flow
    .lines('sink')
    .map((l) => pattern.exec(l))
    .find((m) => m !== null)
  return hit === undefined || hit === null ? undefined : Number(hit[1])
}

/**
 * The sink (gated to connect once the source sent all `count` messages) is stopped with the
 * dataflow while it handles its 100th: returns what it had handled at its Stop. It goes on
 * only once its Stop was sent, and is in its SDK's hands (PAUSE_FILE; with `busy`, its thread
 * is busy meanwhile and each message takes `us` after it, see PAUSE_BUSY), so what its SDK had
 * buffered (read ahead from the log, or pushed by the supervisor) would all come before the
 * Stop if the Stop did not go ahead of it. A grace period long enough for the whole backlog: a
 * Stop that waited for it would still come.
 */
async function stopAmidBacklog(t: Test, dir: string, count: number, supervised: boolean, busy?: { us: number }): Promise<number | undefined> {
  const gate = join(dir, 'gate')
  const pause = join(dir, 'pause')
  const busyEnv = busy === undefined ? 'BUSY_US: 250' : `BUSY_US: ${busy.us}, PAUSE_BUSY: 1`
  const sinkEnv = `{ ${busyEnv}, GATE_FILE: ${JSON.stringify(gate)}, PAUSE_FILE: ${JSON.stringify(pause)} }`
  const flow = await startInProcess(t, backlogYaml(`{ COUNT: ${count} }`, sinkEnv, supervised), { graceMs: 120_000, dir })
  // Everything waits (in the log, or in the supervisor's inbox and outbox) when the sink
  // connects, a restarted receiver's case: the direct path's SDK reads ahead before its
  // program asks for a first event, so its buffer is never empty.
  await flow.waitForLine(/sent all/)
  writeFileSync(gate, '')
  await flow.waitForLine(/took 100/)
  flow.run.stop()
  await waitFor(() => flow.run.unitInfo().find((u) => u.name === 'sink')?.status === 'stopping', {
    what: "the sink's Stop to be sent",
    detail: () => dump(flow.logs),
  })
  writeFileSync(pause, '')
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  return sinkSaid(flow, /^stop \(manual\) after (\d+) inputs$/)
}

/** The next run of {@link stopAmidBacklog}'s dataflow: the source sends nothing and closes. */
async function drainBacklog(t: Test, dir: string, supervised: boolean): Promise<InProcessRun> {
  const next = await startInProcess(t, backlogYaml('{ COUNT: 0, CLOSE_WHEN_SENT: 1 }', '{ BUSY_US: 0 }', supervised), { dir })
  const again = await next.done
  t.ok(again.ok, dump(next.logs))
  return next
}

t.test("a dataflow's Stop reaches a receiver with a backlog ahead of what it read, which its next run gets: every message once", async (t) => {
  const count = 40_000
  const dir = t.testdir({})
  const handled = await stopAmidBacklog(t, dir, count, false)
  t.equal(
    handled,
    100,
    `the sink took its Stop after the message it was handling, the 100th of ${count}, before what it had read ahead (up to ${LINK_READ_AHEAD}): the rest wait in the log`,
  )
  // The sink gets what the first run left, then the input's end, then its Stop (held until
  // the log was read to its end).
  const next = await drainBacklog(t, dir, false)
  const left = sinkSaid(next, /^input-closed after (\d+) inputs$/)
  t.equal((handled ?? 0) + (left ?? 0), count, `${handled} in the first run and ${left} in the next: each of the ${count} once`)
  t.equal(sinkSaid(next, /^stop \(all-inputs-closed\) after (\d+) inputs$/), left, 'the Stop came after the input ended, not before its backlog')
})

t.test("through the supervisor too, a dataflow's Stop goes ahead of what it had not pushed yet, which the next run gets: every message once", async (t) => {
  const count = 5_000
  const dir = t.testdir({})
  const handled = await stopAmidBacklog(t, dir, count, true)
  // Not after what the supervisor had pushed (its window, 256 at most) either: the SDK sets
  // those aside (Stop.waitingInputs); before 2026-12-06 it handled them first (320 here).
  t.equal(handled, 100, `the sink took its Stop after the message it was handling, the 100th of ${count}: the rest wait in the outbox`)
  const left = sinkSaid(await drainBacklog(t, dir, true), /^input-closed after (\d+) inputs$/)
  t.equal((handled ?? 0) + (left ?? 0), count, `${handled} in the first run and ${left} in the next: each of the ${count} once`)
})

t.test(
  "a busy receiver on the supervisor's path reads its Stop between two events: it stops after the one it was handling, not after what was pushed",
  async (t) => {
    // The sink holds what was pushed to it when it takes its 100th message, then keeps its
    // thread busy until its Stop was sent, then takes 10 ms a message: the SDK reads its socket
    // after each such event (CATCH_UP_AFTER_MS), so the Stop comes after the next one or two,
    // whenever it arrives (a tenth of a second leeway). Before, it stayed unread behind the
    // buffered ones: after 129 here.
    const count = 1_000
    const dir = t.testdir({})
    const handled = await stopAmidBacklog(t, dir, count, true, { us: 10_000 })
    t.ok(
      handled !== undefined && handled >= 100 && handled <= 110,
      `the sink took its Stop after ${handled} of the ${count} messages, within a few of its 100th`,
    )
    const left = sinkSaid(await drainBacklog(t, dir, true), /^input-closed after (\d+) inputs$/)
    t.equal((handled ?? 0) + (left ?? 0), count, `${handled} in the first run and ${left} in the next: each of the ${count} once`)
  },
)

t.test("a receiver far behind its closed sender gets every message, then the input's end, then its Stop", async (t) => {
  const count = 20_000
  const dir = t.testdir({})
  const gate = join(dir, 'gate')
  const flow = await startInProcess(t, backlogYaml(`{ COUNT: ${count}, CLOSE_WHEN_SENT: 1 }`, `{ BUSY_US: 20, GATE_FILE: ${JSON.stringify(gate)} }`), { dir })
  // The sink connects once the source has sent everything and closed: the supervisor tells it
  // at once that its input closed and that it should stop.
  await waitFor(() => flow.run.unitInfo().find((u) => u.name === 'source')?.status === 'finished', {
    what: 'the source to end',
    detail: () => dump(flow.logs),
  })
  writeFileSync(gate, '')
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.equal(sinkSaid(flow, /^input-closed after (\d+) inputs$/), count, 'every message before the input ended')
  t.equal(sinkSaid(flow, /^stop \(all-inputs-closed\) after (\d+) inputs$/), count, 'the Stop after that (it came before 4 100 without the hold)')
})

t.test('examples/odometry: a recorder SIGKILLed mid-run comes back after its last pose: no gap, the held pose a repeat', async (t) => {
  const file = join(ROOT, 'examples', 'odometry', 'dataflow.yml')
  const spec = parseDataflow(readFileSync(file, 'utf8'), file)
  const logs: LogEntry[] = []
  const run = new DataflowRun(spec, {
    graceMs: 5000,
    runtimeDir: shortRuntimeDir(t),
    stateDir: t.testdir({}),
    kvsDir: t.testdir({}),
    log: (e) => logs.push(e),
  })
  t.teardown(async () => {
    run.stop()
    await run.done
  })
  await run.start()
  const recorder = (): string[] => logs.filter((l) => l.source === 'recorder').map((l) => l.text)
  await waitFor(() => recorder().some((l) => l.startsWith('pose ')), { what: "the recorder's 100th pose", detail: () => dump(logs) })
  const pid = run.unitInfo().find((u) => u.name === 'recorder')?.pid
  t.ok(pid, 'the recorder runs')
  process.kill(pid!, 'SIGKILL')
  const result = await run.done
  t.ok(result.ok, dump(logs))
  const lines = recorder()
  t.ok(
    lines.some((l) => l.startsWith('recorder restarted (restart 1)')),
    'the recorder came back',
  )
  t.match(lines.at(-1) ?? '', /^recorder done: 400 poses of this run, 0 gaps, \d+ repeats dropped, 0 left over from an earlier run$/, lines.join('\n'))
})
