/**
 * NodeOutputs with a real state store: a custom node's message is committed into the outbox
 * before it is routed and confirmed, numbers continue across runs, and everything a node sent
 * is confirmed in the order it arrived (confirmations are cumulative).
 */
import t from 'tap'
import type { MessageHeader } from '../../../src/events.js'
import { StateStore } from '../../../src/store/state/store.js'
import { NodeOutputs, nodeOrder } from '../../../runtime/supervisor/node-outputs.js'

function header(outputId: string, n: number): MessageHeader {
  return {
    dataflowId: 'df',
    senderNode: 'cam',
    senderOperator: '',
    outputId,
    sequence: BigInt(n),
    timestampNs: 0n,
    metadata: {},
    encoding: 'raw',
    messageId: `0.${n}`,
    redelivered: false,
  }
}

/** `cam/frames` feeds `sink/in`; `cam/debug` feeds nobody. */
function outputs(store: StateStore | undefined, events: string[]): NodeOutputs {
  return new NodeOutputs(store, {
    routes: (_sender, outputId) => (outputId === 'frames' ? [{ receiver: 'sink', inputId: 'in' }] : []),
    route: (_sender, h, _data, order) => events.push(`route ${h.outputId} ${h.sequence} ${order ?? '-'}`),
    warn: (sender, text) => events.push(`warn ${sender} ${text}`),
  })
}

t.test('a message is committed before it is routed and confirmed, and is pending for its receiver', async (t) => {
  const dir = t.testdir({})
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const events: string[] = []
  const nodes = outputs(store, events)
  const confirmed = new Promise<void>((resolve) =>
    nodes.take('cam', header('frames', 1), new Uint8Array([7]), () => {
      // Committed by now: a reader sees the entry.
      events.push(`taken 1 pending=${store.receiverOutbox('sink').pending('df').length}`)
      resolve()
    }),
  )
  t.same(events, [], 'nothing routed or confirmed before the group commit')
  await confirmed
  t.same(events, [`route frames 1 ${nodeOrder(1n)}`, 'taken 1 pending=1'])
  const [entry] = store.receiverOutbox('sink').pending('df')
  t.equal(entry?.sender, 'cam')
  t.equal(entry?.header.messageId, '0.1', "the node's own messageId is kept")
  t.same([...(entry?.data ?? [])], [7])
})

t.test('numbers continue across runs (no key is reused), in send order', async (t) => {
  const dir = t.testdir({})
  for (let run = 0; run < 2; run++) {
    const store = StateStore.open({ dir, durability: 'process' })
    const events: string[] = []
    const nodes = outputs(store, events)
    await new Promise<void>((resolve) => {
      nodes.take('cam', header('frames', 1), new Uint8Array(0), () => {})
      nodes.take('cam', header('frames', 2), new Uint8Array(0), () => resolve())
    })
    t.same(events, [`route frames 1 ${nodeOrder(BigInt(2 * run + 1))}`, `route frames 2 ${nodeOrder(BigInt(2 * run + 2))}`], `run ${run + 1}`)
    store.close()
  }
  const store = StateStore.open({ dir, durability: 'process' })
  t.same(
    store
      .receiverOutbox('sink')
      .pending('df')
      .map((e) => e.order),
    [1n, 2n, 3n, 4n].map(nodeOrder),
    'four entries, in order',
  )
  store.close()
})

t.test('a message nobody receives, and a step after the outputs, wait for the earlier commits', async (t) => {
  const dir = t.testdir({})
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const events: string[] = []
  const nodes = outputs(store, events)
  await new Promise<void>((resolve) => {
    nodes.take('cam', header('frames', 1), new Uint8Array(0), () => events.push('taken 1'))
    nodes.take('cam', header('debug', 1), new Uint8Array(0), () => events.push('taken debug'))
    nodes.inOrder('cam', () => {
      events.push('close outputs')
      resolve()
    })
  })
  t.same(events, [`route frames 1 ${nodeOrder(1n)}`, 'taken 1', 'route debug 1 -', 'taken debug', 'close outputs'])
  // With nothing waiting, both go at once.
  events.length = 0
  nodes.take('cam', header('debug', 2), new Uint8Array(0), () => events.push('taken debug 2'))
  nodes.inOrder('cam', () => events.push('step'))
  t.same(events, ['route debug 2 -', 'taken debug 2', 'step'])
})

t.test('consumed entries are deleted in the group commit', async (t) => {
  const dir = t.testdir({})
  const store = StateStore.open({ dir, durability: 'process' })
  t.teardown(() => store.close())
  const nodes = outputs(store, [])
  await new Promise<void>((resolve) => nodes.take('cam', header('frames', 1), new Uint8Array(0), () => resolve()))
  const [entry] = store.receiverOutbox('sink').pending('df')
  // How DataflowRun deletes a custom node's consumed entries (#consumedByNode).
  store.receiverOutbox('sink').discardLater([entry!.key], () => {})
  t.equal(store.receiverOutbox('sink').pending('df').length, 1, 'still there until the group commits')
  nodes.flush()
  t.equal(store.receiverOutbox('sink').pending('df').length, 0)
})

t.test('without a store, messages are routed and confirmed at once', async (t) => {
  const events: string[] = []
  const nodes = outputs(undefined, events)
  nodes.take('cam', header('frames', 1), new Uint8Array(0), () => events.push('taken'))
  t.same(events, ['route frames 1 -', 'taken'])
})
