/**
 * Best-effort links (`reliability: best_effort`, issue 15): messages between two custom nodes
 * go directly from the sender's process to the receiver's, never through the supervisor. These
 * runs pin what that path promises: in order and complete while the receiver keeps up, the
 * newest kept and the rest dropped (without blocking the sender) when it does not, counts in
 * `list`, large payloads through shared memory intact and never left behind.
 */
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { dump, runExample, startInProcess } from './fixtures/in-process.js'
import { shmLeft, sinkRows as rows } from './fixtures/best-effort.js'
import { waitFor } from '../fixtures/wait-for.js'

// Segments go to a folder of this test, not the machine's /dev/shm; and nodes send payloads
// from 64 KiB through shared memory (the default for best effort is 8 MiB), so these small
// payloads test that path.
process.env['DORA_TS_SHM_DIR'] = t.testdir({})
process.env['DORA_TS_DIRECT_SHM_THRESHOLD'] = String(64 * 1024)

const pair = (
  dir: string,
  source: Record<string, string | number>,
  sink: Record<string, string | number>,
  input = '{ source: source/frames, reliability: best_effort }',
  extra = '',
) => `nodes:
  - id: source
    path: ${fixture('direct-source.mjs')}
    env: ${JSON.stringify(source)}
    inputs: { ack: sink/ack }
    outputs: [frames]
  - id: sink
    path: ${fixture('direct-sink.mjs')}
    env: ${JSON.stringify({ RECORD_FILE: join(dir, 'sink.jsonl'), ...sink })}
    inputs:
      frames: ${input}
    outputs: [ack]
${extra}`

t.test('a best_effort link delivers every message in order while the receiver keeps up, and list counts them', async (t) => {
  const dir = t.testdir({})
  const count = 200
  const flow = await startInProcess(t, pair(dir, { COUNT: count, WINDOW: 8 }, { COUNT: count, ACK_EVERY: 8 }), { dir })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = rows(join(dir, 'sink.jsonl'))
  t.same(
    got.map((r) => r.index),
    Array.from({ length: count }, (_, i) => i + 1),
    'every message, in order',
  )
  t.ok(
    got.every((r) => !r.redelivered && r.sender === 'source'),
    'never marked redelivered; senderNode is the sender',
  )
  const info = new Map(flow.run.unitInfo().map((u) => [u.name, u]))
  t.equal(info.get('source')?.messagesOut, count, 'the sender counts its direct messages out')
  t.equal(info.get('sink')?.messagesIn, count, 'the receiver counts its direct messages in')
  t.equal(info.get('sink')?.messagesOut, info.get('source')?.messagesIn, 'the reliable acks are counted as before')
  t.equal(info.get('sink')?.messagesDropped, 0, 'nothing dropped')
})

t.test("list counts a restarted sender's two lives together, and the supervisor lets go of the dead connection", async (t) => {
  const dir = t.testdir({})
  const count = 40
  const first = 16
  const restartable = (yaml: string) =>
    yaml.replace('\n    outputs: [frames]\n', '\n    outputs: [frames]\n    restart_policy: on-failure\n    restart_delay: 1ms\n')
  const exit = join(dir, 'exit')
  const flow = await startInProcess(
    t,
    restartable(pair(dir, { COUNT: count, WINDOW: 8, EXIT_AFTER: first, EXIT_FILE: exit }, { COUNT: count, ACK_EVERY: 8 })),
    {
      dir,
    },
  )
  // The first life ends without closing (its last counts would go with a close): only once
  // its periodic report has arrived, so both lives' counts are known to have been sent.
  await waitFor(() => flow.run.unitInfo().find((u) => u.name === 'source')?.messagesOut === first, { what: "the first life's report" })
  writeFileSync(exit, '')
  // The second life's first report comes a second after it started: the first life's
  // connection (ended 50 ms after its exit) is forgotten by then.
  await waitFor(() => (flow.run.unitInfo().find((u) => u.name === 'source')?.messagesOut ?? 0) > first, { what: "the second life's report" })
  const kept = flow.run.nodeSocketStats?.directConnections ?? -1
  // 2 (the sender and the receiver), or 1 once the sender's second life has ended too; 3 would
  // be the first life's connection still kept.
  t.ok(kept >= 1 && kept <= 2, `counts are kept for live processes only (${kept} connections)`)
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.ok(
    flow.lines('dora-ts').some((l) => /source exited with code 3: process\.exit\(3\) called \(at \S*direct-source\.mjs:\d+:\d+\); restarting/.test(l)),
    'the sender was restarted',
  )
  const info = new Map(flow.run.unitInfo().map((u) => [u.name, u]))
  t.equal(info.get('source')?.messagesOut, first + count, 'the sender counts both lives')
  t.equal(info.get('sink')?.messagesIn, first + count, 'the receiver counts both lives of its sender')
  await waitFor(() => flow.run.nodeSocketStats?.directConnections === 0 && flow.run.nodeSocketStats.registeredConnections === 0, {
    what: 'the router to forget every ended connection',
    detail: () => JSON.stringify(flow.run.nodeSocketStats),
  })
  t.pass('nothing is kept for a connection whose process ended (counts, registration)')
})

t.test('a slow receiver with queue_size 2 gets the newest messages and drops the rest without blocking the sender', async (t) => {
  const dir = t.testdir({})
  const count = 300
  // 32 KiB payloads (on the socket): the pipes between the two processes hold at most ~64 + 64
  // messages and the kernel a few more, so however the processes are scheduled, most of the
  // 300 are dropped somewhere while the receiver sits on its first one.
  const size = 32 * 1024
  const done = join(dir, 'done')
  const flow = await startInProcess(
    t,
    pair(
      dir,
      { COUNT: count, SIZE: size, DONE_FILE: done },
      { COUNT: count, SIZE: size, GATE_FILE: done },
      '{ source: source/frames, reliability: best_effort, queue_size: 2 }',
    ),
    { dir },
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = rows(join(dir, 'sink.jsonl')).map((r) => r.index)
  // The sender finished every send while the receiver sat on its first message (it waits for
  // DONE_FILE): the sender was never blocked, and what the receiver saw after is the newest.
  t.ok(got.length >= 1 && got.length < count, `some messages, not all: got ${got.length} of ${count}`)
  t.ok(
    got.every((index, i) => i === 0 || index > got[i - 1]!),
    'in order',
  )
  t.ok(
    rows(join(dir, 'sink.jsonl')).every((r) => r.ok),
    'every payload intact',
  )
  const info = new Map(flow.run.unitInfo().map((u) => [u.name, u]))
  const dropped = (info.get('sink')?.messagesDropped ?? 0) + (info.get('source')?.messagesDropped ?? 0)
  t.ok(dropped > 0, `drops are counted (${dropped})`)
})

t.test('large payloads go through shared memory, one file for several receivers, intact and not left behind', async (t) => {
  const dir = t.testdir({})
  const count = 40
  const size = 256 * 1024
  const second = `  - id: sink2
    path: ${fixture('direct-sink.mjs')}
    env: ${JSON.stringify({ RECORD_FILE: join(dir, 'sink2.jsonl'), COUNT: count, SIZE: size })}
    inputs:
      frames: { source: source/frames, reliability: best_effort, queue_size: 100 }
    outputs: [ack]
`
  const flow = await startInProcess(t, pair(dir, { COUNT: count, SIZE: size, WINDOW: 4 }, { COUNT: count, SIZE: size, ACK_EVERY: 4 }, undefined, second), {
    dir,
  })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  for (const file of ['sink.jsonl', 'sink2.jsonl']) {
    const got = rows(join(dir, file))
    t.ok(
      got.every((r) => r.ok),
      `${file}: every payload intact`,
    )
  }
  t.same(
    rows(join(dir, 'sink.jsonl')).map((r) => r.index),
    Array.from({ length: count }, (_, i) => i + 1),
    'the acking receiver got every one, in order',
  )
  t.same(shmLeft(), [], 'no shared-memory segment (or run directory) is left')
})

t.test("messages a sender sent before it closed all reach a busy receiver, before its InputClosed (not lost to the supervisor's InputClosed)", async (t) => {
  // The receiver sits in a synchronous wait while the sender sends everything and closes: the
  // messages wait in its best-effort socket, the supervisor's InputClosed in its node socket,
  // and both are readable at once when it wakes. The InputClosed must not win and drop the rest.
  const dir = t.testdir({})
  const count = 100
  const done = join(dir, 'done')
  const record = join(dir, 'tail.jsonl')
  const yaml = `nodes:
  - id: source
    path: ${fixture('direct-burst.mjs')}
    env: ${JSON.stringify({ COUNT: count, SIZE: 16 * 1024, DONE_FILE: done })}
    inputs: { ready: sink/ready }
    outputs: [frames]
  - id: sink
    path: ${fixture('direct-tail-sink.mjs')}
    env: ${JSON.stringify({ GATE_FILE: done, RECORD_FILE: record })}
    inputs:
      frames: { source: source/frames, reliability: best_effort, queue_size: ${2 * count} }
    outputs: [ready]
`
  const flow = await startInProcess(t, yaml, { dir })
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = readFileSync(record, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { index?: number; closed?: boolean })
  t.same(got, [...Array.from({ length: count }, (_, i) => ({ index: i + 1 })), { closed: true }], 'every message, in order, then InputClosed')
})

t.test('examples/camera: a camera streams frames to a viewer over a best-effort link, and the run ends', async (t) => {
  const { run, result, logs } = await runExample(t, 'camera', 'dataflow.yml')
  t.ok(result.ok, dump(logs))
  const viewer = logs.filter((l) => l.source === 'viewer').map((l) => l.text)
  t.match(viewer.at(-1) ?? '', /^viewer done: 60 frames shown, \d+ skipped for newer ones$/, viewer.join('\n'))
  t.ok((run.unitInfo().find((u) => u.name === 'viewer')?.messagesIn ?? 0) >= 60, 'list counts the frames the viewer received')
})
