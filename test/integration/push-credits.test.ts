/**
 * Custom nodes get their inputs pushed (issue 15): the supervisor sends events as they arrive,
 * within the window the SDK grants, with no `next` per batch. These tests pin that pushing does
 * not change the documented queue policies: a busy receiver holds at most `queue_size` of an
 * input unconsumed, the rest waits in the supervisor where drop_oldest keeps the freshest.
 * (Redelivery of what a killed node had not consumed is pinned by custom-node-acks.test.ts,
 * which runs in push mode too.)
 */
import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import { dump, startInProcess } from './fixtures/in-process.js'

function values(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { value: number }).value)
}

t.test('a busy receiver is not pushed past queue_size: drop_oldest still hands it the freshest data', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const done = join(dir, 'source-done')
  const release = join(dir, 'release')
  // The sink stays in its first input's handler until every send of the source has resolved
  // and every message has reached its SDK, so the 200 messages arrive while it is busy.
  // Pushing them all into its SDK (the window is 256) would hand it 200 stale messages; a
  // queue_size: 2 input may hold 2 at the node and 2 in the supervisor, and the rest is
  // dropped, oldest first. (On a direct link, the default, a send resolves once it is in the
  // log: under load the last ones may still be on their way to the sink's SDK when the source
  // is done, and reach the program one by one after its handler returns, newer than what it
  // held. Hence the wait for the sink's count.)
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: 200, DONE_FILE: ${JSON.stringify(done)} }
    outputs: [numbers]
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)}, WAIT_FILE: ${JSON.stringify(release)} }
    inputs:
      numbers: { source: source/numbers, queue_size: 2, queue_policy: drop_oldest }
`,
    { dir },
  )
  await waitFor(() => existsSync(done), { what: 'every send of the source to resolve', detail: () => dump(flow.logs) })
  await waitFor(() => flow.run.unitInfo().find((u) => u.name === 'sink')?.messagesIn === 200, {
    what: 'the sink to count every message in',
    detail: () => `${JSON.stringify(flow.run.unitInfo())}\n${dump(flow.logs)}`,
  })
  writeFileSync(release, '')
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = values(record)
  t.ok(got.length <= 1 + 2 * 2, `the sink got at most its first input, 2 held at the node and 2 queued: ${JSON.stringify(got)}`)
  t.equal(got.at(-1), 200, 'the last message sent is the last one handled')
  t.same(
    [...got].sort((a, b) => a - b),
    got,
    'in order',
  )
  t.equal((result.dropped['sink/numbers'] ?? 0) + got.length, 200, 'every message was either handled or counted as dropped')
  t.equal(
    flow.run.unitInfo().find((u) => u.name === 'sink')?.messagesDropped,
    result.dropped['sink/numbers'] ?? 0,
    'list counts the same drops (its DROPPED column)',
  )
})

t.test('a backpressure input under push: nothing dropped, all in order, counted in and out', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: 60 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
      numbers: { source: source/numbers, queue_size: 4, queue_policy: backpressure }
`,
    { dir },
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.same(
    values(record),
    Array.from({ length: 60 }, (_, i) => i + 1),
    'all 60, once, in order',
  )
  t.equal(result.dropped['sink/numbers'] ?? 0, 0, 'nothing dropped')
  const info = flow.run.unitInfo()
  t.equal(info.find((u) => u.name === 'sink')?.messagesIn, 60, 'dora-ts list: the sink received 60')
  t.equal(info.find((u) => u.name === 'source')?.messagesOut, 60, 'dora-ts list: the source sent 60')
})

t.test('a node that pulls with next (an SDK without push: DORA_TS_NODE_PULL=1) still gets everything, in order', async (t) => {
  const saved = process.env['DORA_TS_NODE_PULL']
  process.env['DORA_TS_NODE_PULL'] = '1'
  t.teardown(() => {
    if (saved === undefined) delete process.env['DORA_TS_NODE_PULL']
    else process.env['DORA_TS_NODE_PULL'] = saved
  })
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('acked-source.mjs')}
    env: { COUNT: 30 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
      numbers: { source: source/numbers, queue_size: 4, queue_policy: backpressure }
`,
    { dir },
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.same(
    values(record),
    Array.from({ length: 30 }, (_, i) => i + 1),
    'all 30, once, in order',
  )
})
