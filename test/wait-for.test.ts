/** The tests' one bounded wait: it returns what the condition found, and fails saying what it waited for. */
import t from 'tap'
import { waitFor, WaitTimeoutError } from './fixtures/wait-for.js'

t.test('resolves with the first truthy value, sync or async', async (t) => {
  let calls = 0
  t.equal(await waitFor(() => (++calls >= 3 ? 'found' : undefined), { what: 'the third call', intervalMs: 1 }), 'found')
  t.equal(calls, 3)
  t.equal(await waitFor(async () => 42, { what: 'an async value' }), 42)
})

t.test('fails after the bounded time, naming what it waited for, with the detail', async (t) => {
  const err = await waitFor(() => false, { what: 'the moon', timeoutMs: 20, intervalMs: 5, detail: () => 'log: nothing' }).catch((e: unknown) => e)
  t.ok(err instanceof WaitTimeoutError)
  t.match(err, { code: 'TEST_WAIT_TIMEOUT', message: /^timed out after 20 ms waiting for the moon\nlog: nothing$/ })
})

t.test('rethrows what the condition throws, and stops on abort', async (t) => {
  await t.rejects(
    waitFor(
      () => {
        throw new Error('broken condition')
      },
      { what: 'x' },
    ),
    { message: 'broken condition' },
  )
  const controller = new AbortController()
  const waiting = waitFor(() => false, { what: 'never', signal: controller.signal })
  controller.abort(new Error('test over'))
  await t.rejects(waiting, { message: 'test over' })
})
