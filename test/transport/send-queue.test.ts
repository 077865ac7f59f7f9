/**
 * SendQueue: many callers, one zeromq.js socket that allows one pending send. Real sockets
 * (a DEALER/ROUTER pair over inproc), so EBUSY would show if the queue let two sends overlap.
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Dealer, Router } from 'zeromq'
import { SendQueue } from '../../src/transport/send-queue.js'

async function pair(t: Test): Promise<{ dealer: Dealer; router: Router }> {
  const endpoint = `inproc://send-queue-${randomUUID()}`
  const router = new Router({ linger: 0 })
  await router.bind(endpoint)
  const dealer = new Dealer({ linger: 0 })
  dealer.connect(endpoint)
  t.teardown(() => {
    dealer.close()
    router.close()
  })
  return { dealer, router }
}

/** The next `n` messages the router gets, as their last frame's text. */
async function receive(router: Router, n: number): Promise<string[]> {
  const got: string[] = []
  while (got.length < n) {
    const frames = await router.receive()
    got.push(frames.at(-1)!.toString())
  }
  return got
}

t.test('sends from many callers at once go out one at a time, in call order', async (t) => {
  const { dealer, router } = await pair(t)
  const errors: unknown[] = []
  const queue = new SendQueue(dealer, (err) => errors.push(err))
  const sends = Array.from({ length: 200 }, (_, i) => queue.send([`message ${i}`]))
  t.ok(queue.pending > 0, 'the rest wait in the queue while one is in flight')
  const [received] = await Promise.all([receive(router, 200), Promise.all(sends)])
  t.same(received, Array.from({ length: 200 }, (_, i) => `message ${i}`))
  t.same(errors, [], 'no EBUSY from overlapping sends')
  t.equal(queue.pending, 0)
})

t.test('post() sends without waiting and hands errors to the error handler', async (t) => {
  const { dealer, router } = await pair(t)
  const errors: unknown[] = []
  const queue = new SendQueue(dealer, (err) => errors.push(err))
  queue.post(['a'])
  queue.post(['b'])
  t.same(await receive(router, 2), ['a', 'b'])

  // A socket closed under the queue: the send fails, and the failure reaches the handler.
  const failed = new Promise<unknown>((resolve) => {
    const broken = new SendQueue(dealer, resolve)
    dealer.close()
    broken.post(['lost'])
  })
  t.match(await failed, Error)
  t.same(errors, [])
})

t.test('close() settles what is queued and makes later sends no-ops', async (t) => {
  const { dealer, router } = await pair(t)
  const queue = new SendQueue(dealer, () => {})
  const queued = Array.from({ length: 50 }, (_, i) => queue.send([`m${i}`]))
  queue.close()
  // Every caller is released (none left hanging on a closed queue).
  await Promise.all(queued)
  t.equal(queue.pending, 0)
  await queue.send(['after close'])
  queue.close()
  // What did go out arrived in order; nothing after close did.
  const marker = new SendQueue(dealer, () => {})
  await marker.send(['marker'])
  const received: string[] = []
  for (;;) {
    const [last] = await receive(router, 1)
    if (last === 'marker') break
    received.push(last!)
  }
  t.same(received, Array.from({ length: received.length }, (_, i) => `m${i}`), 'a prefix of the queue, in order')
  t.ok(received.length <= 1, `only the send already in flight at close went out (${received.length})`)
})
