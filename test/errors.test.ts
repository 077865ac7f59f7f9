import t from 'tap'
import { Worker } from 'node:worker_threads'
import { DoraError, deserializeError, registerErrorClass, serializeError } from '../src/errors.js'

class WidgetBrokenError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_TEST_WIDGET_BROKEN', message, options)
  }
}
registerErrorClass(WidgetBrokenError)

t.test('a DoraError keeps its code and hint, and describe() prints both', async (t) => {
  const err = new WidgetBrokenError('the widget broke', { hint: 'replace the widget' })
  t.equal(err.code, 'DORA_TEST_WIDGET_BROKEN')
  t.equal(err.name, 'WidgetBrokenError')
  t.equal(err.describe(), 'the widget broke\nreplace the widget')
  t.ok(err instanceof DoraError)
  t.ok(err instanceof WidgetBrokenError)
  t.notOk(new Error('plain') instanceof DoraError)
})

t.test('serialize/deserialize rebuilds the registered class with code, hint and cause', async (t) => {
  const err = new WidgetBrokenError('outer', { hint: 'do this', cause: new Error('inner') })
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))))
  t.ok(back instanceof WidgetBrokenError)
  t.equal((back as WidgetBrokenError).code, 'DORA_TEST_WIDGET_BROKEN')
  t.equal((back as WidgetBrokenError).hint, 'do this')
  t.equal((back.cause as Error).message, 'inner')
})

t.test('non-Error throwables serialize to a readable message', async (t) => {
  const s = serializeError(42)
  t.equal(s.code, 'ERR_NON_ERROR_THROWN')
  t.match(s.message, /42/)
})

t.test('instanceof works for an error made in another realm (worker thread)', async (t) => {
  // The worker builds a DoraError-branded object with the global symbol and sends it back by
  // structured clone; the brand is what instanceof checks, so it must survive as an own prop.
  const worker = new Worker(
    `const e = new Error('from worker'); e.name = 'WidgetBrokenError';
     require('node:worker_threads').parentPort.postMessage({ name: e.name, message: e.message })`,
    { eval: true },
  )
  const data = await new Promise<{ name: string; message: string }>((resolve) => worker.once('message', resolve))
  await worker.terminate()
  const rebuilt = deserializeError({ ...data, code: 'DORA_TEST_WIDGET_BROKEN' })
  t.ok(rebuilt instanceof WidgetBrokenError)
  t.ok(rebuilt instanceof DoraError)
})
