import t from 'tap'
import type { DeliveredEvent, MessageHeader } from '../../../src/events.js'
import { decodeJson } from '../../../node-sdk/payload.js'
import { Inbox } from '../../../runtime/supervisor/inbox.js'
import { Deliveries, forWorker, poisonReport } from '../../../runtime/operator/deliveries.js'

function input(messageId: string, senderOperator = 'op', data = new Uint8Array([1, 2, 3])): DeliveredEvent {
  const header: MessageHeader = {
    dataflowId: 'df',
    senderNode: 'up',
    senderOperator,
    outputId: 'out',
    sequence: 7n,
    timestampNs: 0n,
    metadata: {},
    encoding: 'raw',
    messageId,
    redelivered: false,
  }
  return { type: 'input', id: 'in', header, data }
}

function inboxOf(...items: DeliveredEvent[]): Inbox {
  const inbox = new Inbox(new Map([['in', { queueSize: 100, queuePolicy: 'drop_oldest' as const }]]))
  for (const item of items) inbox.push(item)
  return inbox
}

t.test('events stay in flight until committed; messages an event sent are numbered <event>.<index>', async (t) => {
  const d = new Deliveries()
  const inbox = inboxOf(input('1.0'), { type: 'stop', cause: 'manual' })
  const first = d.take(inbox)!
  t.equal(first.eventNo, 1)
  t.equal(d.inFlight, first)
  d.post(first)
  t.same(d.messageIds(2), ['1.0', '1.1'])
  const second = d.take(inbox)!
  t.equal(second.item.type, 'stop', 'a second event can be taken before the first committed (pipelining)')
  t.same(d.uncommitted, [first, second])
  t.equal(d.committed(), first)
  t.equal(d.inFlight, second)
  t.equal(d.meta().lastEvent, 1n)
  t.same([...d.meta().seen], [['up/op>in', [1n, 0]]], 'the dedup record is kept per sender and input')
})

t.test('event numbers continue from the committed meta, so ids are never reused across runs', async (t) => {
  const d = new Deliveries()
  d.resume({ lastEvent: 41n, seen: new Map([['up/op>in', [9n, 2]]]), launches: 2n })
  const next = d.take(inboxOf(input('9.2'), input('9.3')))!
  t.equal(next.eventNo, 42, 'the copy of 9.2 was skipped, 9.3 is event 42')
  t.same(d.messageIds(1), ['42.0'])
  t.same(d.launchIds(2), { launch: 3, ids: ['i3.0', 'i3.1'] }, 'init messages have their own id space')
  d.launchCommitted(3)
  t.equal(d.meta().launches, 3n)
  t.equal(d.meta().lastEvent, 41n, 'nothing committed yet')
})

t.test('a held event stays in the inbox, also when copies already committed were skipped before it', async (t) => {
  const d = new Deliveries()
  d.resume({ lastEvent: 41n, seen: new Map([['up/op>in', [9n, 2]]]), launches: 0n })
  const inbox = inboxOf(input('9.2'), input('9.3'))
  const skipped: string[] = []
  const checked: string[] = []
  const idOf = (item: DeliveredEvent): string => (item.type === 'input' ? item.header.messageId : item.type)
  const held = (item: DeliveredEvent): boolean => {
    checked.push(idOf(item))
    return true
  }
  t.equal(
    d.take(inbox, (item) => skipped.push(idOf(item)), held),
    undefined,
  )
  t.same(skipped, ['9.2'], 'the copy is skipped (its outbox entry can go)')
  t.same(checked, ['9.3'], 'the hold is asked of the event past the copy, not of the copy')
  const head = inbox.peek()
  t.equal(head?.type === 'input' && head.header.messageId, '9.3', 'the held event waits in the inbox')
  t.equal(d.eventNo, 41, 'no event number was used')
  const next = d.take(inbox, undefined, () => false)
  t.equal(next?.item.type === 'input' && next.item.header.messageId, '9.3')
  t.equal(next?.eventNo, 42)
  t.equal(inbox.peek(), undefined)
})

t.test('after a crash the input caused, the same event goes again, marked redelivered, with the same ids', async (t) => {
  const d = new Deliveries()
  const inFlight = d.take(inboxOf(input('1.0')))!
  d.post(inFlight)
  t.equal(d.crashed(3, true), undefined, 'one crash is no poison')
  const again = d.post(d.inFlight!)
  t.equal(again.type === 'input' && again.header.redelivered, true)
  t.same(d.messageIds(1), ['1.0'], 'the same ids as the first attempt')
})

t.test('crashes the input did not cause (a kill, a failed restore) never make it poison', async (t) => {
  const d = new Deliveries()
  d.take(inboxOf(input('1.0')))
  for (let i = 0; i < 5; i++) t.equal(d.crashed(1, false), undefined)
  t.equal(d.inFlight?.crashes, 0)
  const again = d.post(d.inFlight!)
  t.equal(again.type === 'input' && again.header.redelivered, true, 'it still goes again marked redelivered')
})

t.test('an input that crashed the operator max_redeliveries times is dropped as poison and counts as consumed', async (t) => {
  const d = new Deliveries()
  const inbox = inboxOf(input('4.2'))
  d.take(inbox)
  t.equal(d.crashed(2, true), undefined)
  const poison = d.crashed(2, true)!
  t.equal(poison.crashes, 2)
  t.equal(d.inFlight, undefined)
  inbox.push(input('4.2'))
  t.equal(d.take(inbox), undefined, 'a redelivered copy of the poison is not run again')

  const { text, payload } = poisonReport('sink', poison, 2, 'boom')
  t.match(text, /dropped input "in" \(sequence 7 from up\/op\) as poison: it crashed the operator 2 times \(max_redeliveries 2\); last error: boom/)
  t.same(decodeJson(payload), { operator: 'sink', input: 'in', sequence: '7', sender: 'up/op', messageId: '4.2', crashes: 2, error: 'boom' })
})

t.test('a Stop never becomes poison', async (t) => {
  const d = new Deliveries()
  d.take(inboxOf({ type: 'stop', cause: 'manual' }))
  t.equal(d.crashed(1, true), undefined)
  t.equal(d.inFlight?.item.type, 'stop', 'it stays in flight for the restarted worker')
})

t.test('copies an operator already committed are skipped; messages from custom nodes never are', async (t) => {
  const d = new Deliveries()
  const inbox = inboxOf(input('3.1'))
  d.take(inbox)
  d.committed()
  inbox.push(input('3.0'))
  inbox.push(input('3.1'))
  inbox.push(input('i1.0'))
  const skipped: string[] = []
  t.equal(d.take(inbox, (item) => skipped.push((item as { header: MessageHeader }).header.messageId))?.eventNo, 2, 'the two old ids were skipped')
  t.same(skipped, ['3.0', '3.1'])
  t.equal((d.inFlight!.item as { header: MessageHeader }).header.messageId, 'i1.0', 'init ids are compared among themselves')
  d.committed()
  inbox.push(input('i1.0'))
  inbox.push(input('3.2'))
  t.equal((d.take(inbox)!.item as { header: MessageHeader }).header.messageId, '3.2')
  d.committed()
  inbox.push(input('3.1', ''))
  t.ok(d.take(inbox), 'a custom node (no operator) is never deduplicated')
})

t.test('forWorker trims a view to a buffer of its own and leaves the original untouched', async (t) => {
  const backing = new Uint8Array([9, 1, 2, 3, 9])
  const event = input('1.0', 'op', backing.subarray(1, 4))
  const posted = forWorker(event, false)
  t.not(posted, event)
  t.same(posted.type === 'input' && [...posted.data], [1, 2, 3])
  t.equal(posted.type === 'input' && posted.data.buffer.byteLength, 3)
  t.equal(event.type === 'input' && event.data.buffer, backing.buffer, 'the original keeps its bytes for redelivery')
  const whole = input('1.0')
  t.equal(
    forWorker(whole, false).type === 'input' && (forWorker(whole, false) as { data: Uint8Array }).data,
    (whole as { data: Uint8Array }).data,
    'a view of a whole buffer is posted as is (structured clone copies it)',
  )
})
