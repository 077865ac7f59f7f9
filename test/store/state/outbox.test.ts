import t from 'tap'
import { join } from 'node:path'
import type { MessageHeader } from '../../../src/events.js'
import { encodeOutboxValue, eventOrder, outboxKey, SPLIT_BYTES } from '../../../src/store/state/outbox.js'
import { StateStore } from '../../../src/store/state/store.js'
import { operatorHeader } from '../fixtures/raw-store.js'

const header = (messageId: string): MessageHeader => operatorHeader(messageId, { big: 7n, bytes: new Uint8Array([1, 2]) })

t.test('small and large payloads survive a reopen and leave with their entry', async (t) => {
  const dir = join(t.testdir(), 'state')
  const small = new Uint8Array(10).fill(1)
  const large = new Uint8Array(SPLIT_BYTES * 4 + 3).fill(2)
  t.equal(encodeOutboxValue(header('1.0'), small).data, undefined, 'a small payload stays behind its header')
  const split = encodeOutboxValue(header('1.1'), large)
  t.equal(split.data?.buffer, large.buffer, 'a large payload is stored from its own buffer, not copied')
  const keys = [0, 1].map((i) => outboxKey('n/b', 'in', 'n/a', eventOrder(1, i)))
  let store = StateStore.open({ dir, durability: 'process' })
  store.operator('n/a').commit(
    [],
    { lastEvent: 1n, seen: new Map() },
    {
      put: [
        { key: keys[0] as Buffer, ...encodeOutboxValue(header('1.0'), small) },
        { key: keys[1] as Buffer, ...split },
      ],
      remove: [],
    },
  )
  store.close()

  store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const pending = store.operator('n/b').pending('flow')
  t.same(
    pending.map((e) => [e.header.messageId, e.data.byteLength, e.data[0], e.header.metadata['big']]),
    [
      ['1.0', 10, 1, 7n],
      ['1.1', large.byteLength, 2, 7n],
    ],
    'both come back, in order, with their payloads and metadata',
  )
  const b = store.operator('n/b')
  t.same([...(b.payload(keys[0] as Buffer) ?? [])], [...small], 'payload() reads a small entry back')
  const again = b.payload(keys[1] as Buffer)
  t.equal(again?.byteLength, large.byteLength, 'payload() reads a large entry back, from its own key')
  t.equal(again?.[0], 2)
  t.equal(again?.buffer.byteLength, large.byteLength, 'as a copy that owns its buffer (the host transfers it)')
  store.operator('n/b').commit([], { lastEvent: 1n, seen: new Map() }, { put: [], remove: [keys[1] as Buffer] })
  t.equal(b.payload(keys[1] as Buffer), undefined, 'payload() of a consumed entry is undefined')
  t.same(
    store
      .operator('n/b')
      .pending('flow')
      .map((e) => e.header.messageId),
    ['1.0'],
    'consuming the large one removes it and its payload',
  )
  store.operator('n/b').discard([keys[0] as Buffer])
  t.same(store.operator('n/b').pending('flow'), [], 'discarding the small one empties the outbox')
})

t.test('discardLater() joins the group commit of its turn and reports when it is done', async (t) => {
  const store = StateStore.open({ dir: join(t.testdir(), 'state'), durability: 'process' })
  t.teardown(() => store.close())
  const keys = [0, 1, 2].map((i) => outboxKey('sink', 'in', 'n/a', eventOrder(1, i)))
  const put = keys.map((key, i) => ({ key, ...encodeOutboxValue(header(`1.${i}`), new Uint8Array(i === 2 ? SPLIT_BYTES : 4).fill(i)) }))
  store.operator('n/a').commit([], { lastEvent: 1n, seen: new Map() }, { put, remove: [] })
  const outbox = store.receiverOutbox('sink')
  const done = new Promise<unknown>((resolve) => outbox.discardLater([keys[0] as Buffer, keys[2] as Buffer], resolve))
  let committed = false
  store.operator('n/a').commitLater([{ key: 'k', value: new Uint8Array([1]) }], { lastEvent: 2n, seen: new Map() }, undefined, () => (committed = true))
  t.equal(outbox.pending('flow').length, 3, 'nothing is removed before the group commits')
  t.equal(await done, undefined, 'done without an error')
  t.ok(committed, 'in the same group as the commit queued after it')
  t.same(
    outbox.pending('flow').map((e) => e.header.messageId),
    ['1.1'],
    'the consumed entries are gone, the large one with its payload',
  )
  const none = new Promise<unknown>((resolve) => outbox.discardLater([], resolve))
  t.equal(await none, undefined, 'discarding nothing is done at once')
  store.close()
  const closed = await new Promise<unknown>((resolve) => outbox.discardLater([keys[1] as Buffer], resolve))
  t.match(String(closed), /closed/, 'after close() it reports DORA_STATE_CLOSED')
})
