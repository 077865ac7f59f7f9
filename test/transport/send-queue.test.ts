/**
 * The send queue is the only way the supervisor and the SDK write to a socket from several
 * places: it must keep one zeromq.js send pending at a time (a second throws EBUSY), keep the
 * order, and on close reject what it never wrote instead of pretending it was sent. Real
 * sockets: a DEALER with no peer yet blocks its send, which holds messages in the queue.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dealer, Router } from 'zeromq'
import { SendQueue } from '../../src/transport/send-queue.js'
import { ClosedError } from '../../src/transport/errors.js'
import { DoraError } from '../../src/errors.js'

/** A DEALER with no peer (its sends wait) and a ROUTER it can connect to later. */
async function pair(t: Test): Promise<{ dealer: Dealer; router: Router; connect: () => void }> {
  // Not t.testdir(): its paths are longer than a Unix socket path may be.
  const dir = mkdtempSync(join(tmpdir(), 'dsq-'))
  const endpoint = `ipc://${join(dir, 'q.sock')}`
  const dealer = new Dealer({ linger: 0 })
  const router = new Router({ linger: 0 })
  await router.bind(endpoint)
  t.teardown(() => {
    dealer.close()
    router.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { dealer, router, connect: () => dealer.connect(endpoint) }
}

/** The next message's frames after the identity, as strings. */
async function receive(router: Router): Promise<string[]> {
  const [, ...frames] = await router.receive()
  return frames.map((f) => f.toString())
}

t.test('a blocked socket really refuses a second concurrent send (what the queue prevents)', async (t) => {
  const { dealer } = await pair(t)
  const first = dealer.send(['a'])
  t.throws(() => dealer.send(['b']), { code: 'EBUSY' })
  dealer.close()
  await t.rejects(first)
})

t.test('sends from many callers go out one at a time, in call order', async (t) => {
  const { dealer, router, connect } = await pair(t)
  const queue = new SendQueue(dealer, (err) => t.fail(`post failed: ${String(err)}`))
  const sent = Array.from({ length: 50 }, (_, i) => queue.send([String(i)]))
  // One is being written (blocked: no peer yet); the rest wait in the queue, not in ZeroMQ.
  t.equal(queue.pending, 49)
  connect()
  await Promise.all(sent)
  t.equal(queue.pending, 0)
  const got: string[] = []
  for (let i = 0; i < 50; i++) got.push((await receive(router))[0]!)
  t.strictSame(
    got,
    Array.from({ length: 50 }, (_, i) => String(i)),
  )
})

t.test('close rejects the queued sends with DORA_CLOSED and leaves the one being written to ZeroMQ', async (t) => {
  const { dealer, router, connect } = await pair(t)
  const queue = new SendQueue(dealer, () => {})
  const first = queue.send(['first'])
  const second = queue.send(['second'])
  const third = queue.send(['third'])
  queue.close()
  t.equal(queue.closed, true)
  t.equal(queue.pending, 0)
  for (const queued of [second, third]) {
    const err = await queued.then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(err instanceof ClosedError, 'a ClosedError')
    t.ok(err instanceof DoraError, 'a DoraError')
    t.equal((err as ClosedError).code, 'DORA_CLOSED')
  }
  // The first was already ZeroMQ's: it leaves once there is a peer; the others never do.
  connect()
  await first
  await dealer.send(['marker'])
  t.strictSame(await receive(router), ['first'])
  t.strictSame(await receive(router), ['marker'])
})

t.test('the write a socket close interrupts rejects as closed too, with the socket error as cause', async (t) => {
  const { dealer } = await pair(t)
  const queue = new SendQueue(dealer, () => {})
  const writing = queue.send(['never'])
  queue.close()
  dealer.close()
  const err = await writing.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof ClosedError)
  t.ok((err as ClosedError).cause instanceof Error, 'the socket error is the cause')
})

t.test('a send after close rejects the same way, with the close cause', async (t) => {
  const { dealer } = await pair(t)
  const queue = new SendQueue(dealer, () => {})
  const reason = new Error('supervisor gone')
  queue.close(reason)
  queue.close(new Error('second close changes nothing'))
  await t.rejects(queue.send(['late']), { code: 'DORA_CLOSED', cause: reason })
})

t.test('a post after close reaches the error handler, never an unhandled rejection', async (t) => {
  const { dealer } = await pair(t)
  let report: (err: unknown) => void = () => {}
  const reported = new Promise<unknown>((resolve) => (report = resolve))
  const queue = new SendQueue(dealer, (err) => report(err))
  queue.close()
  queue.post(['late'])
  const err = await reported
  t.ok(err instanceof ClosedError)
  t.equal((err as ClosedError).code, 'DORA_CLOSED')
})
