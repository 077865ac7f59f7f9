import t, { type Test } from 'tap'
import { Worker } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { DoraError, deserializeError, errorMessage, errorStack, InternalError, serializeError, type SerializedError } from '../src/errors.js'
import { createSpecError, SpecBadTimerError, SpecError, SpecErrors, SpecUnknownKeyError } from '../src/spec/errors.js'
import { KvsError, KvsOpenError } from '../src/store/kvs/errors.js'
import { StateError, StateMapFullError } from '../src/store/state/errors.js'
import { OpenLockTimeoutError } from '../src/store/lmdb/open-lock.js'
import { ProtocolError } from '../src/protocol/errors.js'
import { UnknownOutputError } from '../node-sdk/errors.js'

const dist = (path: string): string => pathToFileURL(join(process.cwd(), 'dist', path)).href

t.test('a DoraError keeps its code and hint, and describe() prints both', async (t) => {
  const err = new UnknownOutputError('the widget broke', { hint: 'replace the widget' })
  t.equal(err.code, 'DORA_UNKNOWN_OUTPUT')
  t.equal(err.name, 'UnknownOutputError')
  t.equal(err.describe(), 'the widget broke\nreplace the widget')
  t.ok(err instanceof DoraError)
  t.ok(err instanceof UnknownOutputError)
  t.notOk(new Error('plain') instanceof DoraError)
})

t.test("a class without a hint of its own gets the table's default hint", async (t) => {
  t.match(new ProtocolError('bad frame').hint, /node protocol/)
  t.equal(new ProtocolError('bad frame', { hint: 'mine' }).hint, 'mine')
  t.match(new InternalError('boom').hint, /please report/)
  t.equal(new UnknownOutputError('no default').hint, undefined)
})

t.test('JSON round trips keep class, code, hint, context fields and the cause chain', async (t) => {
  const lock = OpenLockTimeoutError.waited('/kvs/open.lock', 4242, 30_000)
  const kvs = new KvsOpenError('cannot open the KVS in /kvs: stuck', { dir: '/kvs', namespace: 'robot', key: 'pose', hint: 'stop it', cause: lock })
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(kvs))))
  t.ok(back instanceof KvsOpenError)
  t.ok(back instanceof KvsError)
  const open = back as KvsOpenError
  t.same([open.code, open.message, open.hint, open.dir, open.namespace, open.key], ['DORA_KVS_OPEN', kvs.message, 'stop it', '/kvs', 'robot', 'pose'])
  t.ok(open.cause instanceof OpenLockTimeoutError, 'the cause is rebuilt as its class')
  const cause = open.cause as OpenLockTimeoutError
  t.same([cause.code, cause.file, cause.holder, cause.timeoutMs], ['DORA_LMDB_OPEN_LOCK_TIMEOUT', '/kvs/open.lock', 4242, 30_000])
  t.equal(cause.hint, lock.hint)
  t.equal(back.stack, kvs.stack, 'the stack of the thrower is kept')

  const state = new StateMapFullError('full', { dir: '/state', operator: 'a/b', cause: Object.assign(new Error('MDB_MAP_FULL'), { code: -30792 }) })
  const stateBack = deserializeError(JSON.parse(JSON.stringify(state))) as StateMapFullError
  t.ok(stateBack instanceof StateError)
  t.same([stateBack.dir, stateBack.operator], ['/state', 'a/b'])
  t.equal((stateBack.cause as Error).message, 'MDB_MAP_FULL')
  t.equal((stateBack.cause as { code?: unknown }).code, 'ERR_UNKNOWN', "lmdb's numeric code is not a dora-ts code")
})

t.test('only defined context fields are serialized, and a class without fields has none', async (t) => {
  const s = serializeError(new StateMapFullError('full', { dir: '/state' }))
  t.same(s.context, { dir: '/state' })
  t.equal(serializeError(new UnknownOutputError('x')).context, undefined)
  t.equal(serializeError(new Error('x')).context, undefined)
})

t.test('a code whose class is not loaded is rebuilt as a DoraError named after its class; a foreign code is kept', async (t) => {
  // What the control client does with a supervisor's error reply (code, message, hint only).
  const internal = deserializeError({ name: 'DoraError', code: 'DORA_INTERNAL', message: 'TypeError: x\n    at y', hint: 'report it' })
  t.ok(internal instanceof InternalError)
  t.equal((internal as InternalError).hint, 'report it')
  const known = deserializeError({ name: 'Whatever', code: 'DORA_DAEMON_NAME_IN_USE', message: 'taken' })
  t.ok(known instanceof DoraError)
  t.equal(known.name, 'DataflowNameInUseError')
  t.equal((known as DoraError).code, 'DORA_DAEMON_NAME_IN_USE')
  const foreign = deserializeError({ name: 'NewerError', code: 'DORA_FROM_THE_FUTURE', message: 'new', hint: 'upgrade' })
  t.ok(foreign instanceof DoraError)
  t.same([foreign.name, (foreign as DoraError).code, (foreign as DoraError).hint], ['NewerError', 'DORA_FROM_THE_FUTURE', 'upgrade'])
  const plain = deserializeError(serializeError(Object.assign(new Error('gone'), { code: 'ENOENT' })))
  t.notOk(plain instanceof DoraError)
  t.equal((plain as { code?: unknown }).code, 'ENOENT')
  const aggregate = deserializeError(serializeError(new AggregateError([new Error('a'), new SpecErrors('b')], 'both')))
  t.ok(aggregate instanceof AggregateError)
  t.ok((aggregate as AggregateError).errors[1] instanceof SpecErrors)
})

t.test('non-Error throwables serialize to a readable message', async (t) => {
  const s = serializeError(42)
  t.equal(s.code, 'ERR_NON_ERROR_THROWN')
  t.match(s.message, /42/)
})

t.test('errorMessage prints something meaningful for anything thrown', async (t) => {
  t.equal(errorMessage(new Error('plain')), 'plain')
  t.equal(errorMessage(new RangeError()), 'RangeError', 'an empty message names the class')
  t.equal(errorMessage('a string'), 'a string')
  t.equal(errorMessage({ message: 'error-like' }), 'error-like')
  t.equal(errorMessage(undefined), 'a non-Error value was thrown: undefined')
  t.equal(errorMessage(null), 'a non-Error value was thrown: null')
  t.equal(errorMessage({ code: 7 }), 'a non-Error value was thrown: { code: 7 }')
  t.equal(errorMessage(Object.create(null)), 'a non-Error value was thrown: [Object: null prototype] {}')
  t.match(errorStack(new Error('with stack')), /^Error: with stack\n\s+at /)
  t.equal(errorStack(5), 'a non-Error value was thrown: 5')
})

/**
 * Build errors in a worker thread from the compiled dist/ modules (another realm, and other
 * copies of the classes than the ones this test imports from the sources), send them back the
 * way operators do (serializeError, then structured clone by postMessage), and rebuild them here.
 */
async function fromWorker(t: Test): Promise<SerializedError[]> {
  const code = `
    const { parentPort } = await import('node:worker_threads')
    const { serializeError } = await import(${JSON.stringify(dist('src/errors.js'))})
    const spec = await import(${JSON.stringify(dist('src/spec/errors.js'))})
    const kvs = await import(${JSON.stringify(dist('src/store/kvs/errors.js'))})
    const lock = await import(${JSON.stringify(dist('src/store/lmdb/open-lock.js'))})
    const state = await import(${JSON.stringify(dist('src/store/state/errors.js'))})
    const timer = spec.createSpecError('DORA_SPEC_BAD_TIMER', 'unknown unit', { file: '/abs/flow.yml', line: 4, column: 13, nodeId: 'lidar', operatorId: 'op' }, 'use millis')
    const unknownKey = spec.createSpecError('DORA_SPEC_UNKNOWN_KEY', 'unknown key', { file: '/abs/flow.yml', line: 2, column: 3 })
    const errors = [
      timer,
      new spec.SpecErrors([timer, unknownKey]),
      new kvs.KvsOpenError('cannot open', { dir: '/kvs', namespace: 'ns', cause: lock.OpenLockTimeoutError.waited('/kvs/open.lock', undefined, 100) }),
      new state.StateMapFullError('full', { dir: '/state', operator: 'n/op', cause: new Error('MDB_MAP_FULL') }),
      'a thrown string',
    ]
    parentPort.postMessage(errors.map(serializeError))
  `
  const worker = new Worker(code, { eval: true, type: 'module' } as ConstructorParameters<typeof Worker>[1])
  t.teardown(() => worker.terminate())
  return new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
}

t.test('errors built in a worker realm come back as their classes, with context and cause chains', async (t) => {
  const [timer, all, kvs, state, thrown] = (await fromWorker(t)).map(deserializeError)

  t.ok(timer instanceof SpecBadTimerError, 'instanceof the subclass across realms')
  t.ok(timer instanceof SpecError)
  t.ok(timer instanceof DoraError)
  t.notOk(timer instanceof SpecUnknownKeyError)
  const bad = timer as SpecBadTimerError
  t.same([bad.file, bad.line, bad.column, bad.nodeId, bad.operatorId, bad.hint], ['/abs/flow.yml', 4, 13, 'lidar', 'op', 'use millis'])

  t.ok(all instanceof SpecErrors)
  t.same(
    (all as SpecErrors).errors.map((e) => [e.name, e.line]),
    [
      ['SpecUnknownKeyError', 2],
      ['SpecBadTimerError', 4],
    ],
    'the problems, sorted, as their classes',
  )

  t.ok(kvs instanceof KvsOpenError)
  t.same([(kvs as KvsOpenError).dir, (kvs as KvsOpenError).namespace], ['/kvs', 'ns'])
  const lock = kvs!.cause as OpenLockTimeoutError
  t.ok(lock instanceof OpenLockTimeoutError)
  t.same([lock.file, lock.holder, lock.timeoutMs], ['/kvs/open.lock', undefined, 100])

  t.ok(state instanceof StateMapFullError)
  t.same([(state as StateMapFullError).dir, (state as StateMapFullError).operator], ['/state', 'n/op'])
  t.equal((state!.cause as Error).message, 'MDB_MAP_FULL')
  t.notOk(state!.cause instanceof DoraError)

  t.equal(thrown!.message, 'a thrown string')
})

t.test('instanceof matches an error made by another copy of the package', async (t) => {
  // A second module instance (as with two installed copies of dora-ts): other class objects.
  const copy = (await import(`${dist('src/spec/errors.js')}?copy=1`)) as typeof import('../src/spec/errors.js')
  t.not(copy.SpecBadTimerError, SpecBadTimerError)
  const theirs = copy.createSpecError('DORA_SPEC_BAD_TIMER', 'x', { file: '/f', line: 1, column: 1 })
  t.ok(theirs instanceof SpecBadTimerError)
  t.ok(theirs instanceof SpecError)
  t.ok(theirs instanceof DoraError)
  t.notOk(theirs instanceof SpecUnknownKeyError)
  const ours = createSpecError('DORA_SPEC_BAD_TIMER', 'x', { file: '/f', line: 1, column: 1 })
  t.ok(ours instanceof copy.SpecBadTimerError)
})
