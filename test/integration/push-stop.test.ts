/**
 * Pushed inputs and Stop (issue 15): nothing is pushed to a custom node after its Stop. A
 * clean stop sends Stop to every unit at once, and an operator upstream still works through the
 * inputs queued ahead of its own Stop, so its outputs reach the sink's queue behind the sink's
 * Stop. Pushed, they went to a node that was leaving; its clean exit counted everything sent to
 * it as consumed, their outbox entries were deleted, and the next run never delivered them (the
 * in-suite torture's "numbers lost before the sink: 4", seed 784642846).
 */
import t, { type Test } from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import type { Unit } from '../../runtime/supervisor/unit.js'
import { dump, startInProcess, type InProcessRun } from './fixtures/in-process.js'

interface Receipt {
  life: number
  value: number
  redelivered: boolean
  dup: boolean
}

function receipts(file: string): Receipt[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Receipt)
}

function unit(flow: InProcessRun, nodeId: string): Unit {
  const found = [...flow.run.units.values()].find((u) => u.nodeId === nodeId)
  if (found === undefined) throw new Error(`no unit ${nodeId}`)
  return found
}

/** The stateful source of both tests: one number per tick, 1 to `limit`, each committed as sent. */
function sourceNode(limit: number): string {
  return `  - id: src
    env: { LIMIT: ${limit} }
    operator:
      javascript: ${fixture('seq-source.mjs')}
      inputs:
        tick: dora/timer/millis/2
      outputs: [n]
`
}

/** The numbers 1..limit the sink never recorded, across runs. */
function missing(record: string, limit: number): number[] {
  const got = new Set(receipts(record).map((r) => r.value))
  return Array.from({ length: limit }, (_, i) => i + 1).filter((v) => !got.has(v))
}

/**
 * The dataflow's next run, in `dir`: stopped once the sink recorded `limit`; it ends cleanly and
 * every number 1..limit reached the sink across the runs.
 */
async function nextRunDeliversAll(t: Test, yaml: string, dir: string, record: string, limit: number): Promise<void> {
  const second = await startInProcess(t, yaml, { dir })
  await waitFor(() => receipts(record).some((r) => r.value === limit), { what: `the sink to get ${limit}`, detail: () => dump(second.logs) })
  second.run.stop()
  t.ok((await second.done).ok, dump(second.logs))
  t.same(missing(record, limit), [], 'every number reached the sink across the two runs')
}

t.test('regression: inputs queued behind a custom node’s Stop are not pushed to it, and the next run delivers them', async (t) => {
  const LIMIT = 40
  const GATE_AT = 5
  const dir = t.testdir({})
  const record = join(dir, 'record.jsonl')
  const relayGate = join(dir, 'relay-gate')
  const sinkGate = join(dir, 'sink-gate')
  // src (stateful, one number per tick) -> relay (holds GATE_AT until relay-gate exists) ->
  // sink (a custom node; after its first input it waits until sink-gate exists, so Stop is
  // pushed to it while it is busy).
  const yaml = `nodes:
${sourceNode(LIMIT)}  - id: relay
    env: { GATE_AT: ${GATE_AT}, GATE_FILE: ${JSON.stringify(relayGate)} }
    operator:
      javascript: ${fixture('gated-relay.mjs')}
      inputs:
        n: { source: src/n, queue_size: 100000 }
      outputs: [n]
  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)}, WAIT_FILE: ${JSON.stringify(sinkGate)} }
    inputs:
      n: { source: relay/n, queue_size: 100000 }
`
  const first = await startInProcess(t, yaml, { dir })
  await first.waitForLine(new RegExp(`^waiting at ${GATE_AT}$`))
  await waitFor(() => receipts(record).length >= 1, { what: "the sink's first input", detail: () => dump(first.logs) })
  // Numbers pile up behind the held one (posted into its worker, or queued), so the relay
  // still has work when its Stop comes.
  const relay = unit(first, 'relay')
  const relayIn = (): number => first.run.unitInfo().find((u) => u.name === 'relay')?.messagesIn ?? 0
  await waitFor(() => relayIn() >= GATE_AT + 5, { what: 'a backlog behind the relay', detail: () => dump(first.logs) })

  first.run.stop()
  // Stop went out to the sink (it is still busy with its first input, its Stop unread).
  const sink = unit(first, 'sink')
  await waitFor(() => sink.status === 'stopping', { what: 'the Stop sent to the sink', detail: () => dump(first.logs) })
  // The relay forwards what it held and its backlog: behind the sink's Stop.
  writeFileSync(relayGate, 'go')
  await waitFor(() => relay.status === 'finished' || relay.status === 'failed', { what: 'the relay to end', detail: () => dump(first.logs) })
  writeFileSync(sinkGate, 'go')
  const stopped = await first.done
  t.ok(stopped.ok, dump(first.logs))
  const firstValues = receipts(record).map((r) => r.value)
  t.ok(!firstValues.includes(GATE_AT), `the first run's sink never got the numbers behind its Stop: ${JSON.stringify(firstValues)}`)

  // The next run replays what the sink did not consume, then goes on to LIMIT.
  await nextRunDeliversAll(t, yaml, dir, record, LIMIT)
  t.same(
    receipts(record).filter((r) => r.dup),
    [],
    'and none twice',
  )
})

for (const exitCode of [0, 3]) {
  const how = exitCode === 0 ? 'ends cleanly' : `breaks out and then exits with code ${exitCode}`
  t.test(`a pushed node that ${how} before its Stop keeps what it never read: the next run delivers it`, async (t) => {
    const LIMIT = 40
    const dir = t.testdir({})
    const record = join(dir, 'record.jsonl')
    const sinkGate = join(dir, 'sink-gate')
    const exited = join(dir, 'exited')
    // src (stateful, one number per tick) -> sink (a custom node; after its first input it
    // waits until sink-gate exists, so numbers are pushed to it meanwhile; it breaks out of its
    // loop at its second input, closes and exits with exitCode without reading the rest).
    const yaml = `nodes:
${sourceNode(LIMIT)}  - id: sink
    path: ${fixture('dedup-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(record)}, WAIT_FILE: ${JSON.stringify(sinkGate)}, EXIT_ONCE: ${JSON.stringify(exited)}, EXIT_CODE: "${exitCode}" }
    inputs:
      n: { source: src/n, queue_size: 100000 }
`
    const first = await startInProcess(t, yaml, { dir })
    await waitFor(() => receipts(record).length >= 1, { what: "the sink's first input", detail: () => dump(first.logs) })
    // Numbers reach the sink's queue and leave it for the node (pushed, unread behind the gate).
    const sink = unit(first, 'sink')
    const queued = (): number => first.run.unitInfo().find((u) => u.name === 'sink')?.messagesIn ?? 0
    await waitFor(() => queued() >= 10 && sink.inbox.length === 0, { what: 'numbers pushed to the waiting sink', detail: () => dump(first.logs) })
    writeFileSync(sinkGate, 'go')
    await waitFor(() => sink.status === 'finished' || sink.status === 'failed', { what: 'the sink to end', detail: () => dump(first.logs) })
    t.equal(sink.status, exitCode === 0 ? 'finished' : 'failed', `the sink ${exitCode === 0 ? 'ended cleanly' : 'failed'}`)
    t.same(
      receipts(record).map((r) => r.value),
      [1, 2],
      'it read only its first two numbers',
    )
    first.run.stop()
    t.equal((await first.done).ok, exitCode === 0, dump(first.logs))

    // The next run delivers what was pushed to the first sink and never read, then goes on.
    await nextRunDeliversAll(t, yaml, dir, record, LIMIT)
    // The loop broke out while handling 2: its close said so (Credit.heldAtClose). A clean exit
    // then consumes it, as it does 1; a failing one leaves it unconsumed (the program may have
    // failed on it), so it comes again, marked.
    t.same(
      receipts(record)
        .filter((r) => r.dup)
        .map((r) => ({ value: r.value, redelivered: r.redelivered })),
      exitCode === 0 ? [] : [{ value: 2, redelivered: true }],
      exitCode === 0 ? 'none came twice: not even the one it broke out on' : 'only the number it broke out on came twice, marked redelivered',
    )
  })
}
