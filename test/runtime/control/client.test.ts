import t, { type Test } from 'tap'
import { join } from 'node:path'
import { Router, curveKeyPair } from 'zeromq'
import { ControlServer } from '../../../runtime/control/server.js'
import { shortRuntimeDir } from '../../e2e/fixtures/cli.js'
import { ControlClient } from '../../../runtime/control/client.js'
import { ControlClientClosedError } from '../../../runtime/control/errors.js'
import { decodeControlRequest, encodeControlReply, type ControlReply } from '../../../src/protocol/control/codec.js'

interface Received {
  identity: Buffer
  id: bigint
  command: string
}

/** A real ROUTER that hands every request it gets to the test, which decides whether to answer. */
async function server(t: Test): Promise<{
  endpoint: string
  next(): Promise<Received>
  answer(r: Received, body: unknown): Promise<void>
  reply(r: Received, reply: ControlReply): Promise<void>
}> {
  const endpoint = `ipc://${join(shortRuntimeDir(t), 'control.sock')}`
  const router = new Router({ linger: 0 })
  await router.bind(endpoint)
  t.teardown(() => router.close())
  return {
    endpoint,
    async next() {
      const [identity, frame] = await router.receive()
      const request = decodeControlRequest(frame!)
      return { identity: identity!, id: request.id, command: request.command }
    },
    answer: (r, body) => router.send([r.identity, encodeControlReply({ id: r.id, type: 'ok', body: JSON.stringify(body) })]),
    reply: (r, reply) => router.send([r.identity, encodeControlReply(reply)]),
  }
}

function client(t: Test, endpoint: string): ControlClient {
  const c = ControlClient.open(endpoint, 'the test server', undefined, 'the test hint')
  t.teardown(() => c.close())
  return c
}

t.test('a timed-out request rejects as unresponsive and leaves the client usable for the next', async (t) => {
  const s = await server(t)
  const c = client(t, s.endpoint)
  const first = c.request('first', {}, { timeoutMs: 200 })
  const got1 = await s.next()
  t.equal(got1.command, 'first')
  await t.rejects(first, { code: 'DORA_DAEMON_UNRESPONSIVE', hint: 'the test hint' })

  const second = c.request<{ n: number }>('second', {})
  const got2 = await s.next()
  t.equal(got2.command, 'second')
  // The late reply to the abandoned request comes first: it must not be taken for the second's.
  await s.answer(got1, { n: 1 })
  await s.answer(got2, { n: 2 })
  t.same(await second, { n: 2 })
})

t.test('an aborted request rejects with the AbortError and the client keeps working', async (t) => {
  const s = await server(t)
  const c = client(t, s.endpoint)
  const controller = new AbortController()
  const first = c.request('first', {}, { signal: controller.signal })
  await s.next()
  controller.abort()
  await t.rejects(first, { name: 'AbortError' })
  await t.rejects(c.request('never sent', {}, { signal: AbortSignal.abort() }), { name: 'AbortError' }, 'an already aborted signal rejects at once')

  const second = c.request<string>('second')
  await s.answer(await s.next(), 'ok')
  t.equal(await second, 'ok')
})

t.test('close() rejects the requests still waiting with a closed error, and is idempotent', async (t) => {
  const s = await server(t)
  const c = client(t, s.endpoint)
  const waiting = c.request('waiting')
  await s.next()
  c.close()
  c.close()
  await t.rejects(waiting, ControlClientClosedError)
  await t.rejects(waiting, { code: 'DORA_CONTROL_CLOSED' })
  await t.rejects(c.request('after close'), { code: 'DORA_CONTROL_CLOSED' })
})

t.test('an error reply rejects with its code and hint', async (t) => {
  const s = await server(t)
  const c = client(t, s.endpoint)
  const request = c.request('bad')
  const got = await s.next()
  await s.reply(got, { id: got.id, type: 'error', code: 'DORA_DAEMON_UNKNOWN_DATAFLOW', message: 'no such dataflow', hint: 'start one' })
  await t.rejects(request, { code: 'DORA_DAEMON_UNKNOWN_DATAFLOW', message: 'no such dataflow', hint: 'start one' })
})

t.test('a client refused at the handshake gets DORA_DAEMON_UNRESPONSIVE with the hint, never a raw ZeroMQ error', async (t) => {
  const serverKeys = curveKeyPair()
  const s = await ControlServer.bind({
    endpoints: [{ endpoint: 'tcp://127.0.0.1:*', secretKey: serverKeys.secretKey, allow: () => false }],
    dispatch: async () => null,
  })
  t.teardown(() => s.close())
  // No CURVE keys (a user who forgot them): the server refuses the handshake and libzmq drops
  // the connection. A send then waits for a connection that never comes -- or, when the refusal
  // is processed inside the send itself (a loaded machine), fails at once with EAGAIN (seen in
  // CI in a test's raw client): both must read as "did not answer", with the hint.
  const c = client(t, s.endpoints[0]!)
  const outcomes = new Set<string>()
  for (let i = 0; i < 10; i++) {
    const err = await c.request('ping', {}, { timeoutMs: 20 }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; hint?: string },
    )
    outcomes.add(`${err?.code ?? 'answered'}${err?.hint === 'the test hint' ? '' : ' (another hint)'}`)
  }
  t.same([...outcomes], ['DORA_DAEMON_UNRESPONSIVE'], 'every request ended unresponsive, with the hint')
})
