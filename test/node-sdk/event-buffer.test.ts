/**
 * A custom node's event buffer and its best-effort inputs: queue_size held per input in the
 * buffer, one input-closed per input after its last message, a Stop that answers a close held
 * until that close, and a dataflow's Stop ahead of what was read from link logs.
 */
import t from 'tap'
import { EventBuffer, type BufferedEvent } from '../../node-sdk/event-buffer.js'
import { DirectInputs } from '../../node-sdk/direct-inputs.js'
import { DirectCounter } from '../../node-sdk/direct-counter.js'
import { StopHold } from '../../node-sdk/stop-hold.js'
import type { DoraEvent } from '../../node-sdk/events.js'

function input(id: string, value: number): DoraEvent {
  return { type: 'input', id, data: new Uint8Array([value]), metadata: {} } as unknown as DoraEvent
}

/** What the program would see, in order, taking everything buffered. */
function drain(buffer: EventBuffer): BufferedEvent[] {
  const out: BufferedEvent[] = []
  for (let item = buffer.shift(); item !== undefined; item = buffer.shift()) out.push(item)
  return out
}

function shown(items: BufferedEvent[]): string[] {
  return items.map(({ event }) => {
    if (event === undefined) return '-'
    if (event.type === 'input') return `${event.id}:${(event.data as Uint8Array)[0]}`
    if (event.type === 'input-closed') return `closed:${event.id}`
    return event.type
  })
}

t.test('a best-effort input keeps its newest queue_size messages; taken ones make room again', async (t) => {
  const buffer = new EventBuffer()
  t.notOk(buffer.pushDirect('scan', input('scan', 1), 2))
  t.notOk(buffer.pushDirect('scan', input('scan', 2), 2))
  buffer.push({ event: input('cmd', 9), seq: 1 })
  t.ok(buffer.pushDirect('scan', input('scan', 3), 2), 'the third one over a limit of 2 drops the oldest')
  t.strictSame(shown(drain(buffer)), ['scan:2', 'cmd:9', 'scan:3'], 'the oldest scan went; order and the other input are kept')
  t.notOk(buffer.pushDirect('scan', input('scan', 4), 2), 'taken messages no longer count against the limit')
  t.notOk(buffer.pushDirect('scan', input('scan', 5), 2))
  t.strictSame(shown(drain(buffer)), ['scan:4', 'scan:5'])
})

t.test('wait() resolves on the next push, or with true when woken as ended', async (t) => {
  const buffer = new EventBuffer()
  const first = buffer.wait()
  t.ok(buffer.waiting)
  buffer.push({ event: input('a', 1), seq: 0 })
  t.equal(await first, false)
  t.notOk(buffer.waiting)
  const second = buffer.wait()
  buffer.wake(true)
  t.equal(await second, true)
})

t.test('best-effort arrivals: counted, dropped once closed, one input-closed per input', async (t) => {
  const buffer = new EventBuffer()
  const counter = new DirectCounter()
  const direct = new DirectInputs([{ inputId: 'scan', queueSize: 1, senderNode: 'lidar', outputId: 'scan' }], buffer, counter, undefined)
  t.ok(direct.has('scan'))
  t.notOk(direct.has('cmd'))
  direct.arrived({ type: 'input', id: 'scan', event: input('scan', 1) })
  direct.arrived({ type: 'input', id: 'scan', event: input('scan', 2) })
  direct.arrived({ type: 'input', id: 'scan', event: undefined })
  direct.arrived({ type: 'input-closed', id: 'scan' })
  direct.arrived({ type: 'input', id: 'scan', event: input('scan', 3) })
  direct.supervisorClosed('scan', false, 7)
  t.strictSame(shown(drain(buffer)), ['scan:2', 'closed:scan', '-'], 'one close, the supervisor numbered one consumed unseen')
  t.strictSame(
    { received: counter.received, dropped: counter.dropped },
    { received: 2, dropped: 3 },
    'queue overflow, unreadable and late messages count as dropped',
  )
})

/** Best-effort input `scan` (queue_size 10) and a StopHold over it, wired as node.ts does. */
function heldOverScan(buffer: EventBuffer, receiver?: { pending: boolean }): { direct: DirectInputs; hold: StopHold } {
  const hold: StopHold = new StopHold(buffer, () => direct.closing)
  const direct = new DirectInputs([{ inputId: 'scan', queueSize: 10, senderNode: 'lidar', outputId: 'scan' }], buffer, new DirectCounter(), receiver, () =>
    hold.inputClosed(),
  )
  return { direct, hold }
}

t.test("the supervisor's close waits for the sender's marker, and a Stop answering it waits too", async (t) => {
  const buffer = new EventBuffer()
  const { direct, hold } = heldOverScan(buffer)
  t.teardown(() => direct.release())
  direct.supervisorClosed('scan', true, 1)
  t.ok(hold.hold({ type: 'stop', cause: 'all-inputs-closed' }, 2), 'the stop is held while the marker is awaited')
  direct.arrived({ type: 'input', id: 'scan', event: input('scan', 1) })
  direct.arrived({ type: 'input-closed', id: 'scan' })
  t.strictSame(shown(drain(buffer)), ['-', '-', 'scan:1', 'closed:scan', 'stop'], 'the last message, then its close, then the stop')
  t.notOk(hold.hold({ type: 'stop', cause: 'all-inputs-closed' }, 3), 'nothing awaited: a stop is not held')
  direct.supervisorClosed('scan', true, 4)
  t.notOk(hold.hold({ type: 'stop', cause: 'manual' }, 5), "a dataflow's stop is never held")
})

t.test('without its marker the input closes after the wait, and the held stop follows', async (t) => {
  const buffer = new EventBuffer()
  const { direct, hold } = heldOverScan(buffer, { pending: false })
  // The close's timer is unref'd (it must never hold a node's process open): this one keeps
  // the test's process alive until it fires.
  const alive = setInterval(() => {}, 60_000)
  t.teardown(() => {
    clearInterval(alive)
    direct.release()
  })
  direct.supervisorClosed('scan', true, 1)
  hold.hold({ type: 'stop', cause: 'all-inputs-closed' }, 2)
  t.strictSame(shown(drain(buffer)), ['-', '-'])
  const seen: string[] = []
  while (!seen.includes('stop')) {
    await buffer.wait()
    seen.push(...shown(drain(buffer)))
  }
  t.strictSame(seen, ['closed:scan', 'stop'])
})

t.test('a long catch-up over a small queue_size: the newest stay, in order, and length counts only them', async (t) => {
  const buffer = new EventBuffer()
  let drops = 0
  for (let i = 0; i < 50_000; i++) {
    if (buffer.pushDirect('pose', input('pose', i % 256), 10, BigInt(i + 1))) drops++
    if (i === 20_000) buffer.push({ event: input('cmd', 7), seq: 1 })
  }
  t.equal(drops, 50_000 - 10, 'all but 10 were dropped')
  t.equal(buffer.length, 11, 'length counts what the program will get: 10 poses and the command')
  const items = drain(buffer)
  t.strictSame(
    items.map((i) => i.link?.seq),
    [undefined, ...Array.from({ length: 10 }, (_, k) => BigInt(50_000 - 9 + k))],
    'the command, then the newest 10 poses with their link entries, oldest first',
  )
  t.notOk(buffer.pushDirect('pose', input('pose', 1), 10), 'taken ones make room again')
})

t.test("supervisorQueued counts what waits from the supervisor, not direct messages nor a link log's close", async (t) => {
  const buffer = new EventBuffer()
  buffer.pushDirect('cam', input('cam', 1), 10)
  buffer.pushDirect('pose', input('pose', 1), 10, 7n)
  buffer.push({ event: { type: 'input-closed', id: 'pose' }, seq: 0, link: { input: 'pose', seq: 8n } })
  t.equal(buffer.supervisorQueued, 0, 'direct messages and a link close: none from the supervisor')
  buffer.push({ event: { type: 'stop', cause: 'manual' }, seq: 3 })
  buffer.push({ event: undefined, seq: 4 })
  buffer.pushDirect('cam', input('cam', 2), 1) // drops cam 1 where it stands
  t.equal(buffer.supervisorQueued, 2, 'a Stop and a placeholder from the supervisor')
  const kinds = drain(buffer).map((i) => (i.direct !== undefined ? `direct ${i.direct}` : i.link !== undefined ? 'link close' : `supervisor ${i.seq}`))
  t.same(kinds, ['direct pose', 'link close', 'supervisor 3', 'supervisor 4', 'direct cam'])
  t.equal(buffer.supervisorQueued, 0, 'all taken')
})

t.test("a dataflow's Stop goes ahead of what was read from link logs, which stays counted as waiting", async (t) => {
  const buffer = new EventBuffer()
  // A link input with a queue_size of 2 (drops the oldest), one of 100, a best-effort input
  // and the supervisor's events, interleaved.
  buffer.pushDirect('pose', input('pose', 1), 2, 1n)
  buffer.push({ event: input('cmd', 1), seq: 1 })
  buffer.pushDirect('pose', input('pose', 2), 2, 2n)
  buffer.pushDirect('scan', input('scan', 1), 10)
  buffer.pushDirect('pose', input('pose', 3), 2, 3n)
  buffer.pushDirect('map', input('map', 1), 100, 7n)
  t.strictSame(shown([buffer.shift()!]), ['cmd:1'], 'pose 1 was dropped, the command comes first')
  buffer.pushDirect('map', input('map', 2), 100, 8n)
  buffer.withholdLinks()
  buffer.push({ event: input('cmd', 2), seq: 2 })
  t.notOk(buffer.pushDirect('pose', input('pose', 4), 2, 4n), 'a link message read after it is not queued')
  buffer.push({ event: { type: 'input-closed', id: 'map' }, seq: 0, link: { input: 'map', seq: 9n } })
  buffer.push({ event: { type: 'stop', cause: 'manual' }, seq: 3 })
  t.equal(buffer.length, 3)
  t.same(
    { pose: buffer.oldestLinkSeq('pose'), map: buffer.oldestLinkSeq('map') },
    { pose: 2n, map: 7n },
    'the withheld stay the oldest waiting of their inputs',
  )
  t.same({ pose: buffer.directQueued('pose'), map: buffer.directQueued('map') }, { pose: 2, map: 2 })
  t.strictSame(shown(drain(buffer)), ['scan:1', 'cmd:2', 'stop'], 'the best-effort message and the supervisor events keep their places; no link message')
  t.equal(buffer.supervisorQueued, 0)
})
