/**
 * The node client against a supervisor played by the test: a real ZeroMQ ROUTER speaking the
 * node protocol through the one codec (src/protocol/node/codec.ts). Pins the close, destroy
 * and cancellation semantics users rely on (undici's: one shared close, closed errors for late
 * callers, AbortSignal on every long wait), and that the SDK never exits the process.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Router } from 'zeromq'
import { decodeNodeToSupervisor, encodeSupervisorToNode } from '../../src/protocol/node/codec.js'
import type { NodeToSupervisor, Registration, SupervisorToNode, WireInput } from '../../src/protocol/node/messages.js'
import type { DoraEvent } from '../../node-sdk/events.js'
import { ClosedError } from '../../src/transport/errors.js'
import { Node } from '../../node-sdk/node.js'
import { ROOT } from '../e2e/fixtures/cli.js'

const NODE_ID = 'camera'

const registration: Registration = {
  dataflowId: 'df-1',
  dataflowName: 'test-flow',
  nodeId: NODE_ID,
  restartCount: 0,
  inputs: ['tick'],
  outputs: ['image'],
  kvsPath: '',
  kvsMapSize: 0n,
  kvsNamespace: '',
  atLeastOnce: false,
  maxMessageSize: 0,
  shmDir: '',
  shmThreshold: 0,
}

/** The supervisor's side of the node socket, played by the test. */
class FakeSupervisor {
  readonly endpoint: string
  readonly router: Router
  /** Resolves on the first peer disconnect: the (one) node of the test closed its socket. */
  readonly disconnected: Promise<void>

  private constructor(endpoint: string, router: Router) {
    this.endpoint = endpoint
    this.router = router
    this.disconnected = new Promise((resolve) => router.events.on('disconnect', () => resolve()))
  }

  static async start(t: Test): Promise<FakeSupervisor> {
    // Not t.testdir(): its paths are longer than a Unix socket path may be.
    const dir = mkdtempSync(join(tmpdir(), 'dsn-'))
    const endpoint = `ipc://${join(dir, 'node.sock')}`
    const router = new Router({ linger: 0 })
    const supervisor = new FakeSupervisor(endpoint, router) // observe events before any peer
    await router.bind(endpoint)
    t.teardown(() => {
      router.close()
      rmSync(dir, { recursive: true, force: true })
    })
    return supervisor
  }

  /** The next message from any node, with the identity to answer it. */
  async receive(): Promise<{ identity: Buffer; message: NodeToSupervisor; payload: Buffer | undefined }> {
    const [identity, head, payload] = await this.router.receive()
    return { identity: identity!, message: decodeNodeToSupervisor(head!), payload }
  }

  /** The next message, which must be of `type`. */
  async expect<K extends NodeToSupervisor['type']>(
    t: Test,
    type: K,
  ): Promise<{ identity: Buffer; message: Extract<NodeToSupervisor, { type: K }>; payload: Buffer | undefined }> {
    const got = await this.receive()
    t.equal(got.message.type, type, `the node sent ${type}`)
    return got as never
  }

  /** Send `message`, then its payload frames (an `inputs` batch has one per input). */
  async send(identity: Buffer, message: SupervisorToNode, ...payloads: Uint8Array[]): Promise<void> {
    await this.router.send([identity, encodeSupervisorToNode(message), ...payloads])
  }

  /** Accept the next registration; resolves with the node's identity. */
  async accept(t: Test, reply: Registration = registration): Promise<Buffer> {
    const { identity, message } = await this.expect(t, 'register')
    t.equal(message.nodeId, NODE_ID)
    await this.send(identity, { type: 'registered', registration: reply })
    return identity
  }

  /** Whether a message is already waiting, without waiting for one. */
  async hasPending(): Promise<boolean> {
    this.router.receiveTimeout = 0
    try {
      await this.router.receive()
      return true
    } catch {
      return false
    } finally {
      this.router.receiveTimeout = -1
    }
  }
}

async function connected(t: Test, supervisor: FakeSupervisor, reply: Registration = registration): Promise<{ node: Node; identity: Buffer }> {
  const [node, identity] = await Promise.all([Node.connect({ endpoint: supervisor.endpoint, nodeId: NODE_ID }), supervisor.accept(t, reply)])
  t.teardown(() => node.destroy())
  return { node, identity }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  )
}

t.test('connect registers with the ids from the reply; events are pulled with next; sends carry the payload', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor)
  t.equal(node.id, NODE_ID)
  t.equal(node.dataflowName, 'test-flow')
  t.strictSame(node.outputs, ['image'])
  t.equal(node.isRestart, false)

  const events = node.events()
  const first = events.next()
  await supervisor.expect(t, 'next')
  await supervisor.send(identity, { type: 'input-closed', id: 'tick' })
  t.strictSame((await first).value, { type: 'input-closed', id: 'tick' })

  await node.send('image', new Uint8Array([1, 2, 3]))
  const { message, payload } = await supervisor.expect(t, 'output')
  t.equal(message.header.outputId, 'image')
  t.equal(message.header.sequence, 1n)
  t.strictSame([...payload!], [1, 2, 3])
  await events.return()
})

t.test('two concurrent close() calls share one promise and send close-outputs once', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor)
  await node.send('image', new Uint8Array([7]))
  const first = node.close()
  const second = node.close()
  t.equal(second, first, 'the same promise')
  t.equal(node[Symbol.asyncDispose](), first, 'asyncDispose shares it')
  // The closing state is set before close() awaits anything: a send now is refused.
  const refused = await rejection(node.send('image', new Uint8Array([8])))
  t.ok(refused instanceof ClosedError, 'a send during close rejects with ClosedError')
  t.equal((refused as ClosedError).code, 'DORA_CLOSED')

  // What was sent before close() is flushed ahead of close-outputs.
  const flushed = await supervisor.expect(t, 'output')
  t.strictSame([...flushed.payload!], [7])
  const { message } = await supervisor.expect(t, 'close-outputs')
  t.strictSame(message.outputs, ['image'])
  await supervisor.send(identity, { type: 'outputs-closed', outputs: ['image'] })
  await first
  // The node closed its socket: everything it sent has arrived, and nothing else did.
  await supervisor.disconnected
  t.equal(await supervisor.hasPending(), false, 'no second close-outputs')
  t.equal(node.close(), first, 'a later close() gets the same promise')
  t.ok((await rejection(node.send('image', new Uint8Array([9])))) instanceof ClosedError, 'a send after close rejects')
})

t.test('destroy() cuts a close() that waits for the supervisor short and rejects later sends with its cause', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node } = await connected(t, supervisor)
  const closing = node.close()
  await supervisor.expect(t, 'close-outputs') // never answered
  const reason = new Error('shutting down now')
  t.equal(node.destroy(reason), closing, 'destroy shares the close promise')
  await closing
  await supervisor.disconnected
  const err = await rejection(node.send('image', new Uint8Array([1])))
  t.ok(err instanceof ClosedError)
  t.equal((err as ClosedError).cause, reason)
})

t.test('aborting connect before the registration reply closes the socket and rejects with the reason', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const controller = new AbortController()
  const connecting = Node.connect({ endpoint: supervisor.endpoint, nodeId: NODE_ID, signal: controller.signal })
  await supervisor.expect(t, 'register') // registered, never answered
  controller.abort()
  const err = await rejection(connecting)
  t.ok(err instanceof Error && err.name === 'AbortError', `an AbortError (got ${String(err)})`)
  await supervisor.disconnected
  t.pass('the socket was closed')

  const custom = new Error('no longer needed')
  await t.rejects(
    Node.connect({ endpoint: supervisor.endpoint, nodeId: NODE_ID, signal: AbortSignal.abort(custom) }),
    custom,
    'an already aborted signal: its reason',
  )
})

t.test('aborting events() ends the iteration cleanly and loses no event', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor)
  const controller = new AbortController()
  const seen: string[] = []
  const loop = (async () => {
    for await (const event of node.events({ signal: controller.signal })) seen.push(event.type)
    return 'ended'
  })()
  await supervisor.expect(t, 'next') // the loop is waiting for an event
  controller.abort()
  t.equal(await loop, 'ended', 'the for-await loop finished without throwing')
  t.strictSame(seen, [])

  // The node is still open; an event that arrives now goes to the next iteration.
  await supervisor.send(identity, { type: 'stop', cause: 'all-inputs-closed' })
  const again: unknown[] = []
  for await (const event of node.events()) again.push(event)
  t.strictSame(again, [{ type: 'stop', cause: 'all-inputs-closed' }])
})

t.test('when the supervisor dies the node ends its events with stop and never exits the process', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  // A stand-in supervisor process whose pid the node watches.
  const fakePid = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' })
  t.teardown(() => fakePid.kill('SIGKILL'))
  const sdk = pathToFileURL(join(ROOT, 'dist', 'node-sdk', 'index.js')).href
  const script = `
    const { Node } = await import(${JSON.stringify(sdk)})
    const node = await Node.connect()
    console.log('connected')
    for await (const event of node.events()) console.log('event ' + JSON.stringify(event))
    console.log('events ended')
    const err = await node.send('image', new Uint8Array(1)).then(() => undefined, (e) => e)
    console.log('send after: ' + err?.code + ' caused by ' + err?.cause?.code)
    await node.close()
    console.log('script returned')
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DORA_TS_ENDPOINT: supervisor.endpoint, DORA_TS_NODE_ID: NODE_ID, DORA_TS_SUPERVISOR_PID: String(fakePid.pid) },
  })
  t.teardown(() => child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>

  await supervisor.accept(t)
  await supervisor.expect(t, 'next') // the child is iterating its events
  fakePid.kill('SIGKILL')
  await once(fakePid, 'exit')

  const [code, signal] = await exited
  t.equal(signal, null, stderr)
  t.equal(code, 0, 'exit code 0: the script returned, the SDK did not call process.exit')
  t.strictSame(stdout.trim().split('\n'), [
    'connected',
    'event {"type":"stop","cause":"manual"}',
    'events ended',
    'send after: DORA_CLOSED caused by DORA_SUPERVISOR_GONE',
    'script returned',
  ])
  t.equal(stderr.match(/is gone/g)?.length, 1, `reported once on stderr: ${stderr}`)
})

/** A supervisor that confirms outputs and ends batches (issue 11's at-least-once protocol). */
const atLeastOnce: Registration = { ...registration, atLeastOnce: true, restartCount: 2 }

t.test('send() resolves only once the supervisor confirmed it; one outputs-taken settles a burst', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor, atLeastOnce)
  const settled: number[] = []
  const sends = [1, 2, 3].map((n) => node.send('image', new Uint8Array([n])).then(() => settled.push(n)))
  // All three are on the wire at once (pipelined), numbered per connection.
  const got = [await supervisor.expect(t, 'output'), await supervisor.expect(t, 'output'), await supervisor.expect(t, 'output')]
  t.strictSame(
    got.map((g) => g.message.sendSeq),
    [1n, 2n, 3n],
  )
  t.strictSame(
    got.map((g) => g.message.header.messageId),
    ['2.1', '2.2', '2.3'],
    'default ids: <restartCount>.<sequence>',
  )
  t.strictSame(settled, [], 'nothing resolved before a confirmation')
  await supervisor.send(identity, { type: 'outputs-taken', upTo: 2n })
  await Promise.all(sends.slice(0, 2))
  t.strictSame(settled, [1, 2], 'upTo 2 resolves the first two only')
  await supervisor.send(identity, { type: 'outputs-taken', upTo: 3n })
  await Promise.all(sends)
  t.strictSame(settled, [1, 2, 3])
})

t.test('a messageId given to send() is sent as is; a non-string one is refused', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor, atLeastOnce)
  const sent = node.sendJson('image', { position: 7 }, { messageId: 'pos-7' })
  const { message } = await supervisor.expect(t, 'output')
  t.equal(message.header.messageId, 'pos-7')
  await supervisor.send(identity, { type: 'outputs-taken', upTo: message.sendSeq })
  await sent
  const err = await rejection(node.send('image', new Uint8Array(0), { messageId: 7 as never }))
  t.equal((err as { code?: string }).code, 'DORA_INVALID_SEND')
})

t.test('destroy() rejects the sends still waiting for their confirmation with a ClosedError', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node } = await connected(t, supervisor, atLeastOnce)
  const pending = rejection(node.send('image', new Uint8Array([1])))
  await supervisor.expect(t, 'output') // never confirmed
  const reason = new Error('going down')
  await node.destroy(reason)
  const err = await pending
  t.ok(err instanceof ClosedError, 'a ClosedError')
  t.match((err as Error).message, /before the supervisor confirmed its message #1; it may or may not have reached its receivers/)
  t.equal((err as ClosedError).cause, reason)
})

t.test('close() resolves the sends confirmed before outputs-closed', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor, atLeastOnce)
  const sent = node.send('image', new Uint8Array([1]))
  const closing = node.close()
  const { message } = await supervisor.expect(t, 'output')
  await supervisor.expect(t, 'close-outputs')
  // The supervisor confirms before it answers close-outputs (node-router.ts).
  await supervisor.send(identity, { type: 'outputs-taken', upTo: message.sendSeq })
  await supervisor.send(identity, { type: 'outputs-closed', outputs: ['image'] })
  await sent
  await closing
  t.pass('the send resolved and the node closed')
})

t.test('with batch-end, the next request waits until the batch ended and every event of it was taken', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor, atLeastOnce)
  const events = node.events()
  const first = events.next()
  await supervisor.expect(t, 'next')
  await supervisor.send(identity, wireInput(1), new Uint8Array([1]))
  t.equal((await first).value?.type, 'input')
  // The batch's second input is still on its way: taking the first must not ask for more (a
  // `next` now would tell the supervisor the whole batch was consumed).
  const second = events.next()
  const output = node.send('image', new Uint8Array([9]))
  t.equal((await supervisor.receive()).message.type, 'output', 'the output came first: no next was sent before it')
  await supervisor.send(identity, wireInput(2), new Uint8Array([2]))
  t.equal((await second).value?.type, 'input')
  await supervisor.send(identity, { type: 'batch-end' })
  const third = events.next()
  await supervisor.expect(t, 'next')
  t.pass('next once the batch ended and its events were taken')
  await supervisor.send(identity, { type: 'outputs-taken', upTo: 1n })
  await output
  await supervisor.send(identity, { type: 'stop', cause: 'manual' })
  t.equal((await third).value?.type, 'stop')
  await events.return()
})

function header(sequence: number): Extract<SupervisorToNode, { type: 'input' }>['header'] {
  return {
    dataflowId: 'df-1',
    senderNode: 'up',
    senderOperator: '',
    outputId: 'out',
    sequence: BigInt(sequence),
    timestampNs: 0n,
    metadata: {},
    encoding: 'raw',
    messageId: `0.${sequence}`,
    redelivered: false,
  }
}

/** A node connected in push mode, its loop asked for a first event, its first credit (the window) received. */
async function pushedNode(t: Test): Promise<{
  supervisor: FakeSupervisor
  node: Node
  identity: Buffer
  events: AsyncGenerator<DoraEvent, void, undefined>
  first: Promise<IteratorResult<DoraEvent, void>>
}> {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor, { ...atLeastOnce, pushInputs: true })
  const events = node.events()
  const first = events.next()
  await supervisor.expect(t, 'credit')
  return { supervisor, node, identity, events, first }
}

/** Input `id` carrying sequence `n`, as the wire has it (its payload goes as a frame). Hoisted: tests above use it too. */
function wireInput(n: number, id = 'tick'): WireInput {
  return { type: 'input', id, header: { ...header(n) } }
}

t.test('push mode: the first credit opens the window; consumption is told on outputs and when the loop waits, never ahead of it', async (t) => {
  const supervisor = await FakeSupervisor.start(t)
  const { node, identity } = await connected(t, supervisor, { ...atLeastOnce, pushInputs: true })
  const events = node.events()
  const first = events.next()
  const open = await supervisor.expect(t, 'credit')
  t.strictSame(open.message, { type: 'credit', consumedUpTo: 0n, window: 256, inputBatches: true }, 'nothing consumed yet, a window of 256, batches read')
  // Pushed without a next: two inputs, numbered 1 and 2 on this connection. In one message, so
  // that 2 is buffered when the loop asks past 1 (two messages raced on a loaded machine: the
  // loop found nothing buffered, waited and sent a credit where the test expected an output).
  await supervisor.send(identity, { type: 'inputs', inputs: [wireInput(1), wireInput(2)] }, new Uint8Array([1]), new Uint8Array([2]))
  t.equal((await first).value?.type, 'input')
  // Taken, not yet asked past: an output carries no consumption.
  const sent1 = node.send('image', new Uint8Array([9]))
  const out1 = await supervisor.expect(t, 'output')
  t.equal(out1.message.consumedUpTo, undefined, 'input 1 is being handled: not consumed')
  // Asking for more consumes 1; input 2 is buffered, so the loop does not wait: no credit yet.
  t.equal((await events.next()).value?.type, 'input')
  const sent2 = node.send('image', new Uint8Array([8]))
  const out2 = await supervisor.expect(t, 'output')
  t.equal(out2.message.consumedUpTo, 1n, 'the output carries consumption up to 1')
  // Asking past 2 with nothing buffered: a credit says 2.
  const third = events.next()
  const credit = await supervisor.expect(t, 'credit')
  t.equal(credit.message.consumedUpTo, 2n, 'the waiting loop tells that 2 is consumed')
  await supervisor.send(identity, { type: 'outputs-taken', upTo: 2n })
  await Promise.all([sent1, sent2])
  await supervisor.send(identity, { type: 'batch-end' }) // a pull-mode message: ignored in push mode
  await supervisor.send(identity, { type: 'stop', cause: 'manual' })
  t.equal((await third).value?.type, 'stop')
  t.equal(await supervisor.hasPending(), false, 'no next was ever sent')
  await events.return()
})

t.test('push mode: a loop that breaks out and closes names the event it held in its last credit, for the supervisor to count at a clean exit', async (t) => {
  const { supervisor, node, identity, events, first } = await pushedNode(t)
  await supervisor.send(
    identity,
    { type: 'inputs', inputs: [wireInput(1), wireInput(2), wireInput(3)] },
    new Uint8Array([1]),
    new Uint8Array([2]),
    new Uint8Array([3]),
  )
  t.equal((await first).value?.type, 'input')
  t.equal((await events.next()).value?.type, 'input', 'took 1, asked past it, took 2')
  // `break` on 2: the loop's return(), as a throw would do too.
  await events.return()
  const closing = node.close()
  const last = await supervisor.expect(t, 'credit')
  t.strictSame(
    last.message,
    { type: 'credit', consumedUpTo: 1n, window: 256, inputBatches: true, heldAtClose: 2n, exact: true },
    'the closing credit: 1 consumed; 2 held (consumed only by a clean exit); 3 never taken',
  )
  await supervisor.expect(t, 'close-outputs')
  await supervisor.send(identity, { type: 'outputs-closed', outputs: ['image'] })
  await closing
})

t.test(
  'push mode: a Stop that names waiting inputs comes next: their pushed inputs are set aside, never counted consumed, and the supervisor is told first',
  async (t) => {
    const { supervisor, node, identity, events, first } = await pushedNode(t)
    // Events 1..5: camera 1, camera 2, a best-effort `pose` 3 (no other copy: it keeps its
    // place), camera 4, a tick 5 (dropped at the Stop). The program takes 1 and holds it.
    const frames = [1, 2, 3, 4, 5].map((n) => new Uint8Array([n]))
    const pushed = [wireInput(1, 'camera'), wireInput(2, 'camera'), wireInput(3, 'pose'), wireInput(4, 'camera'), wireInput(5)]
    await supervisor.send(identity, { type: 'inputs', inputs: pushed }, ...frames)
    t.equal((await first).value?.type, 'input')
    // Event 6: the Stop, naming camera as waiting and tick as dropped.
    await supervisor.send(identity, { type: 'stop', cause: 'manual', waitingInputs: ['camera'], droppedInputs: ['tick'] })
    // The SDK tells the supervisor its credits are exact, with a round trip, before the program
    // gets its Stop: 1 is still in the program's hands, so nothing is consumed yet.
    const told = await supervisor.expect(t, 'credit')
    t.strictSame(told.message, { type: 'credit', consumedUpTo: 0n, window: 256, inputBatches: true, exact: true }, 'an exact credit: nothing consumed yet')
    const roundTrip = await supervisor.expect(t, 'close-outputs')
    t.strictSame(roundTrip.message.outputs, [], 'a round trip of no outputs')
    const next = events.next()
    await supervisor.send(identity, { type: 'outputs-closed', outputs: [] })
    const pose = (await next).value
    t.equal(pose?.type === 'input' ? pose.id : pose?.type, 'pose', 'the best-effort input kept its place')
    const stop = (await events.next()).value
    t.strictSame(stop, { type: 'stop', cause: 'manual' }, 'then the Stop, without the wire lists; cameras 2 and 4 and the tick never came')
    t.equal((await events.next()).done, true, 'the events end after the Stop')
    const closing = node.close()
    const last = await supervisor.expect(t, 'credit')
    // 1 consumed; 2 (camera) waits, so nothing past 1 is told, though the program took 3 and 6.
    t.strictSame(
      last.message,
      { type: 'credit', consumedUpTo: 1n, window: 256, inputBatches: true, exact: true },
      'the last credit: up to 1, nothing from the first set aside on',
    )
    await supervisor.expect(t, 'close-outputs')
    await supervisor.send(identity, { type: 'outputs-closed', outputs: ['image'] })
    await closing
  },
)

t.test('push mode: an inputs batch is several events, in list order, each numbered and consumed on its own', async (t) => {
  const { supervisor, node, identity, events, first } = await pushedNode(t)
  // Three inputs in one message, the second with an empty payload (still its own frame), then
  // a fourth alone: numbered 1..4 on the connection.
  await supervisor.send(
    identity,
    { type: 'inputs', inputs: [wireInput(1), wireInput(2), wireInput(3)] },
    new Uint8Array([1]),
    new Uint8Array(0),
    new Uint8Array([3, 3]),
  )
  await supervisor.send(identity, wireInput(4), new Uint8Array([4]))
  const got: { sequence: bigint; data: number[] }[] = []
  const take = (e: IteratorResult<DoraEvent>): void => {
    if (e.value?.type !== 'input') throw new Error(`expected an input, got ${e.value?.type}`)
    got.push({ sequence: e.value.metadata.sequence, data: [...e.value.data] })
  }
  take(await first)
  // Taken 1, asked past it: the output after tells 1 consumed, not the whole message.
  take(await events.next())
  const sent = node.send('image', new Uint8Array([9]))
  const out = await supervisor.expect(t, 'output')
  t.equal(out.message.consumedUpTo, 1n, 'consumption counts events, not messages')
  take(await events.next())
  take(await events.next())
  t.strictSame(
    got,
    [
      { sequence: 1n, data: [1] },
      { sequence: 2n, data: [] },
      { sequence: 3n, data: [3, 3] },
      { sequence: 4n, data: [4] },
    ],
    'every input, in order, each with its own payload',
  )
  const waiting = events.next()
  let credit = await supervisor.expect(t, 'credit')
  // Input 4 came in a message of its own: if it was not there yet when the loop took 3, the
  // loop waited and said 3 first.
  if (credit.message.consumedUpTo === 3n) credit = await supervisor.expect(t, 'credit')
  t.equal(credit.message.consumedUpTo, 4n, 'all four consumed once the loop waits')
  await supervisor.send(identity, { type: 'outputs-taken', upTo: 1n })
  await sent
  await supervisor.send(identity, { type: 'stop', cause: 'manual' })
  t.equal((await waiting).value?.type, 'stop')
  await events.return()
})
