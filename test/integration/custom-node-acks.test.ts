/**
 * Custom nodes, at-least-once with stable ids both ways (issue 11), with real processes that
 * SIGKILL themselves at the worst moment:
 * - a source killed right after `await node.send(n)` resolved: n reaches the receiver;
 * - a sink killed in the middle of a batch: its restarted process gets the unconsumed inputs
 *   again, marked redelivered, with their original messageIds, so a sink that dedups by
 *   messageId handles every message exactly once;
 * - a supervisor SIGKILLed after a node's sends resolved: the next run delivers them (they were
 *   committed into the outbox before the node was told), and consumed ones are not replayed;
 *   unless it starts with --clean-state, which forgets them and the nodes' message counters.
 * All through the supervisor's path (`_unstable_direct_links: false`: its outputs-taken, its
 * outbox); the same promises on reliable direct links, the default between nodes run by node,
 * are direct-links.test.ts's and direct-links-kill.test.ts's.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { readJsonl } from '../fixtures/jsonl.js'
import { fixture } from '../fixtures/nodes.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { dump, startInProcess } from './fixtures/in-process.js'
import { parseDataflow } from '../../src/spec/load.js'
import { StateStore } from '../../src/store/state/store.js'
import { stateDirOf } from '../../runtime/state/location.js'
import { sourceDir } from '../fixtures/paths.js'
import { waitFor } from '../fixtures/wait-for.js'

interface Record {
  life: number
  from: string
  value: number
  messageId: string
  redelivered: boolean
  dup: boolean
}

const records = (file: string): Record[] => readJsonl<Record>(file)

t.test('a source SIGKILLed right after await send(n) resolved loses nothing: n reaches the sink', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  // Three sources, each killing itself right after its fifth send resolved, then (restarted)
  // sending five more and ending; the sink ends when all three have.
  const sources = ['a', 'b', 'c']
  const yaml = `_unstable_direct_links: false
nodes:
${sources
  .map(
    (id) => `  - id: ${id}
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: 5, KILL_AFTER_LAST: 1 }
    outputs: [numbers]
    restart_policy: on-failure
    restart_delay: 1ms
`,
  )
  .join('')}  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
${sources.map((id) => `      ${id}: { source: ${id}/numbers, queue_size: 1000 }\n`).join('')}`
  const flow = await startInProcess(t, yaml, { dir })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  for (const id of sources)
    t.match(flow.lines('dora-ts').join('\n'), new RegExp(`${id} was killed by SIGKILL \\(not sent by dora-ts: [^)]*\\); restarting`), `${id} was killed`)
  const got = records(record)
  for (const id of sources) {
    const mine = got.filter((r) => r.from === id)
    t.same(
      mine.map((r) => r.value),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      `every number of ${id}, the one sent just before the kill included, once and in order`,
    )
    t.same(
      mine.map((r) => r.messageId),
      ['0.1', '0.2', '0.3', '0.4', '0.5', '1.1', '1.2', '1.3', '1.4', '1.5'],
      `${id}'s default messageIds are <restartCount>.<sequence>: unique across its restart`,
    )
  }
  t.notOk(
    got.some((r) => r.dup || r.redelivered),
    'nothing was delivered twice',
  )
  const info = flow.run.unitInfo()
  t.equal(info.find((u) => u.name === 'sink')?.messagesIn, 30, 'dora-ts list: the sink received 30')
  for (const id of sources) t.equal(info.find((u) => u.name === id)?.messagesOut, 10, `dora-ts list: ${id} sent 10`)
})

t.test('a sink SIGKILLed mid-batch gets the unconsumed inputs again, marked redelivered, same ids; dedup leaves each once', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const done = join(dir, 'source-done')
  const took = join(dir, 'sink-took-first')
  // The source sends 2..10 only once the sink has its first input, so the sink's first batch
  // is 1 alone (a sink slow to start once got 1..4 in its first batch and died in it; 5..10,
  // queued after that batch, were rightly not marked redelivered). The sink then waits until
  // every send of the source has resolved (the supervisor pushed each before confirming it)
  // and makes a round trip to the supervisor, whose answer comes after those pushes: 2..10 are
  // all in its SDK's buffer when it goes on, and it dies at 4 in the middle of them. (Waiting
  // for the sends alone once let 2..3 reach the SDK first: it took them, found the buffer
  // empty, rightly reported 1..3 consumed, and the restart began at 4.)
  const flow = await startInProcess(
    t,
    `_unstable_direct_links: false
nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: 10, DONE_FILE: ${JSON.stringify(done)}, GATE_FILE: ${JSON.stringify(took)} }
    outputs: [numbers]
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)}, FIRST_FILE: ${JSON.stringify(took)}, WAIT_FILE: ${JSON.stringify(done)}, KILL_AT: 4 }
    inputs:
      numbers: { source: source/numbers, queue_size: 1000 }
    restart_policy: on-failure
    restart_delay: 1ms
`,
    { dir },
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.match(flow.lines('dora-ts').join('\n'), /sink was killed by SIGKILL \(not sent by dora-ts: [^)]*\); restarting/)
  const got = records(record)
  const first = got.filter((r) => r.life === 0)
  const second = got.filter((r) => r.life === 1)
  t.same(
    first.map((r) => r.value),
    [1, 2, 3, 4],
    'the first process handled 1..4, then died',
  )
  t.notOk(
    first.some((r) => r.redelivered),
    'nothing was redelivered to the first process',
  )
  // What push guarantees (the default; DORA_TS_NODE_PULL=1 pulls in batches): an input counts
  // as consumed only once the SDK reports it, and it reports lazily (on the node's next output,
  // when its loop waits with nothing buffered, or every quarter window). The sink never waited
  // with an empty buffer after taking 1 (2..10 were buffered by then), so nothing it took was
  // reported: the restarted process gets every input again, from 1.
  const from = second[0]?.value ?? 0
  t.equal(from, 1, 'the restarted process started again at 1: nothing taken was reported consumed')
  t.same(
    second.map((r) => r.value),
    Array.from({ length: 11 - from }, (_, i) => from + i),
    'the restarted process got every input from the first unconsumed one to 10, in order',
  )
  t.ok(
    second.every((r) => r.redelivered),
    'every input the restarted process got was marked redelivered (all were delivered before the kill)',
  )
  const idOf = new Map(first.map((r) => [r.value, r.messageId]))
  for (const r of second.filter((r) => r.value <= 4)) {
    t.equal(r.messageId, idOf.get(r.value), `redelivered ${r.value} kept its messageId`)
    t.ok(r.dup, `${r.value} was recognised as a duplicate by its messageId`)
  }
  t.ok(
    second.some((r) => r.value === 4 && r.dup),
    'the input the sink died on came again',
  )
  const handled = got.filter((r) => !r.dup).map((r) => r.value)
  t.same(handled, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'deduplicated by messageId, every message was handled exactly once')
  t.equal(flow.run.unitInfo().find((u) => u.name === 'sink')?.messagesIn, 10, 'dora-ts list counts each message once, redelivery not included')
})

const CHILD = join(sourceDir(import.meta.url), 'fixtures', 'supervisor-child.mjs')

/** node -> node: `source` sends COUNT numbers (each awaited), `sink` records them. */
function nodeFlow(options: { count: number; record: string; doneFile?: string; waitFile?: string; firstFile?: string; operator?: boolean }): string {
  const done = options.doneFile === undefined ? '' : `, DONE_FILE: ${JSON.stringify(options.doneFile)}`
  const wait = options.waitFile === undefined ? '' : `, WAIT_FILE: ${JSON.stringify(options.waitFile)}`
  const first = options.firstFile === undefined ? '' : `, FIRST_FILE: ${JSON.stringify(options.firstFile)}`
  const counter =
    options.operator === true
      ? `  - id: count
    env: { LIMIT: 1000 }
    operator:
      javascript: ${fixture('seq-counter.mjs')}
      inputs:
        n: { source: source/numbers, queue_size: 1000 }
      outputs: [unused]
`
      : ''
  return `_unstable_direct_links: false
nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: ${options.count}${done} }
    outputs: [numbers]
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(options.record)}${wait}${first} }
    inputs:
      numbers: { source: source/numbers, queue_size: 1000 }
${counter}`
}

/**
 * Run 1 of a supervisor SIGKILL test, in a supervisor process of its own: `source` sends 1..20,
 * each awaited; the sink takes its first input and then waits for a file that never comes, so
 * the other 19 stay with the supervisor; once every send of the source resolved and the sink
 * recorded its first input, SIGKILL it. Returns the supervisor's lines. (Not at the sends
 * alone: the sink, which outlives its supervisor by up to a second, then recorded its first
 * input after a test had read the record, which a run after then seemed to deliver twice.)
 */
async function killAfterSends(t: Test, dir: string, file: string, record: string, runtimeDir: string): Promise<string[]> {
  const firstFile = join(dir, 'sink-first')
  writeFileSync(file, nodeFlow({ count: 20, record, doneFile: join(dir, 'source-done'), waitFile: join(dir, 'never'), firstFile }))
  const child = spawn(process.execPath, [CHILD, file], { env: { ...process.env, RUNTIME_DIR: runtimeDir }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void child.kill('SIGKILL'))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const lines: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    if (line.startsWith('[source] sent 1..20')) {
      void waitFor(() => existsSync(firstFile), { what: 'the sink to record its first input', detail: () => lines.join('\n') }).then(
        () => child.kill('SIGKILL'),
        (err: unknown) => {
          child.kill('SIGKILL')
          t.fail(String(err))
        },
      )
    }
  })
  await exited
  return lines
}

t.test('what a node was told is taken survives a supervisor SIGKILL: the next run delivers it, marked redelivered', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'dataflow.yml')
  const record = join(dir, 'record.jsonl')
  const runtimeDir = shortRuntimeDir(t)
  const lines = await killAfterSends(t, dir, file, record, runtimeDir)
  t.ok(
    lines.some((l) => l.startsWith('[source] sent 1..20')),
    `every send resolved before the SIGKILL:\n${lines.join('\n')}`,
  )
  // Run 2: the source sends nothing more; the sink must get what run 1 confirmed to it.
  const flow = await startInProcess(t, nodeFlow({ count: 0, record }), { dir, runtimeDir })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.match(flow.lines('dora-ts').join('\n'), /sink: replaying \d+ message\(s\) committed by the previous run/)
  const got = records(record)
  const values = [...new Set(got.map((r) => r.value))].sort((a, b) => a - b)
  t.same(
    values,
    Array.from({ length: 20 }, (_, i) => i + 1),
    'every number whose send resolved reached the sink',
  )
  const replayed = got.slice(1)
  t.ok(
    replayed.every((r) => r.redelivered),
    'what the next run delivered is marked redelivered',
  )
  t.same(
    replayed.filter((r) => !r.dup).map((r) => r.value),
    Array.from({ length: 19 }, (_, i) => i + 2),
    'in the order they were sent, with their messageIds (the sink dedups the first)',
  )
})

t.test('a node -> operator message leaves the outbox with the event that consumed it; a node -> node one when the node asks for more', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const runtimeDir = shortRuntimeDir(t)
  const first = await startInProcess(t, nodeFlow({ count: 5, record, operator: true }), { dir, runtimeDir })
  t.ok((await first.done).ok, dump(first.logs))
  t.match(first.lines('count').join('\n'), /count=5 last=5/, 'the operator counted 1..5')
  t.same(
    records(record).map((r) => r.value),
    [1, 2, 3, 4, 5],
  )
  // A second run has nothing to replay: every message was consumed.
  const second = await startInProcess(t, nodeFlow({ count: 0, record, operator: true }), { dir, runtimeDir })
  t.ok((await second.done).ok, dump(second.logs))
  t.notMatch(dump(second.logs), /replaying/, 'nothing left in the outbox')
  t.same(
    records(record).map((r) => r.value),
    [1, 2, 3, 4, 5],
    'the sink got nothing again',
  )
})

t.test("--clean-state forgets what waits for custom nodes and the nodes' message counters", async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'dataflow.yml')
  const record = join(dir, 'record.jsonl')
  const runtimeDir = shortRuntimeDir(t)
  await killAfterSends(t, dir, file, record, runtimeDir)
  // What run 1's sink recorded: its first input.
  const before = records(record).length
  const stateDir = stateDirOf(parseDataflow(readFileSync(file, 'utf8'), file))
  const left = (): { waiting: number; counter: bigint } => {
    const store = StateStore.open({ dir: stateDir, durability: 'process' })
    try {
      return { waiting: store.receiverOutbox('sink').pending('').length, counter: store.senderOutbox('source').lastNumber() }
    } finally {
      store.close()
    }
  }
  t.same(left(), { waiting: 20, counter: 20n }, "run 1 left 20 messages for the sink and the source's counter at 20")
  // Run 2, clean: the source sends 1..3 anew; nothing of run 1 may come back.
  const flow = await startInProcess(t, nodeFlow({ count: 3, record }), { dir, runtimeDir, cleanState: true })
  t.ok((await flow.done).ok, dump(flow.logs))
  t.notMatch(dump(flow.logs), /replaying/, 'nothing replayed')
  t.same(
    records(record)
      .slice(before)
      .map((r) => [r.value, r.messageId, r.redelivered]),
    [
      [1, '0.1', false],
      [2, '0.2', false],
      [3, '0.3', false],
    ],
    "the sink got the new run's three messages, none of the old ones",
  )
  t.same(left(), { waiting: 0, counter: 3n }, "the source's messages were numbered from 1 again; nothing waits")
})
