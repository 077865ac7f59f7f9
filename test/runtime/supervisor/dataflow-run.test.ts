import t, { type Test } from 'tap'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDataflow } from '../../../src/spec/load.js'
import { StateStore } from '../../../src/store/state/store.js'
import { acquireOwnerLock } from '../../../src/store/state/owner-lock.js'
import { DataflowRun } from '../../../runtime/supervisor/dataflow-run.js'
import type { LogEntry } from '../../../runtime/supervisor/unit.js'
import { shortRuntimeDir } from '../../e2e/fixtures/cli.js'
import { fixture } from '../../fixtures/nodes.js'

/** source (custom node) -> plus (operator, with state) -> sink (custom node); the source never ends by itself. */
function spec(dir: string): ReturnType<typeof parseDataflow> {
  const yaml = `name: closing
nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000000, DELAY_MS: 20 }
    outputs: [numbers]
  - id: plus
    operator:
      javascript: ${fixture('add-one.mjs')}
      inputs:
        numbers: source/numbers
      outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: plus/numbers
`
  const file = join(dir, 'dataflow.yml')
  writeFileSync(file, yaml)
  return parseDataflow(yaml, file)
}

/** A run whose log can be waited on. */
function newRun(t: Test, dir: string, runtimeDir: string): { run: DataflowRun; logged(pattern: RegExp): Promise<void> } {
  const waiters: Array<{ pattern: RegExp; resolve(): void }> = []
  const logs: LogEntry[] = []
  const run = new DataflowRun(spec(dir), {
    graceMs: 5000,
    runtimeDir,
    stateDir: join(dir, 'state'),
    kvsDir: join(dir, 'kvs'),
    log: (entry) => {
      logs.push(entry)
      for (const w of [...waiters]) {
        if (w.pattern.test(`[${entry.source}] ${entry.text}`)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve()
        }
      }
    },
  })
  // Whatever a failed assertion leaves running is still ended.
  t.teardown(() => run.close())
  return {
    run,
    logged: (pattern) =>
      new Promise((resolve) => {
        if (logs.some((e) => pattern.test(`[${e.source}] ${e.text}`))) resolve()
        else waiters.push({ pattern, resolve })
      }),
  }
}

t.test('close() of a running dataflow stops it, shares one promise, and releases its socket, store and lock', async (t) => {
  const dir = t.testdir({})
  const runtimeDir = shortRuntimeDir(t)
  const { run, logged } = newRun(t, dir, runtimeDir)
  await run.start()
  const endpoint = run.endpoint!.replace(/^ipc:\/\//, '')
  t.ok(existsSync(endpoint), 'the node socket exists while it runs')
  // Messages went all the way: source -> operator -> sink.
  await logged(/^\[sink\] got numbers \d+/)

  const first = run.close()
  const second = run.close()
  t.equal(second, first, "a second close() shares the first one's promise")
  await first
  t.equal(run.finished, true)
  const result = await run.done
  t.equal(result.reason, 'stopped')
  t.equal(result.ok, true, JSON.stringify(result.units))
  t.notOk(existsSync(endpoint), 'no socket file is left')
  t.same(readdirSync(join(runtimeDir, 'dora-ts')), [], 'nor the run directory')

  // The store and its owner lock were released: this process can take both again.
  const lock = acquireOwnerLock(run.stateDir)
  const store = StateStore.open({ dir: run.stateDir, durability: 'process' })
  t.ok(
    store.stats().some((s) => s.operator === 'plus/plus'),
    "the operator's state is there",
  )
  store.close()
  lock.release()
  t.equal(run.close(), first, 'close() after the end is the same promise')
})

t.test('close() before start() ends the run at once; start() afterwards is refused', async (t) => {
  const dir = t.testdir({})
  const { run } = newRun(t, dir, shortRuntimeDir(t))
  await run.close()
  t.equal(run.finished, true)
  t.same((await run.done).units, [])
  await t.rejects(run.start(), /once, before close/)
})

t.test('close() after a start() that failed resolves, with nothing left open', async (t) => {
  const dir = t.testdir({})
  // A socket path over the Unix limit: start() fails after the state store was opened.
  const tooLong = join(dir, 'x'.repeat(120))
  const { run } = newRun(t, dir, tooLong)
  await t.rejects(run.start(), { code: 'DORA_RUN_DIR' })
  await run.close()
  t.equal(run.finished, true)
  const lock = acquireOwnerLock(run.stateDir)
  StateStore.open({ dir: run.stateDir, durability: 'process' }).close()
  lock.release()
  t.pass('the store and its lock were released')
})

t.test('await using closes the run at the end of the block', async (t) => {
  const dir = t.testdir({})
  const runtimeDir = shortRuntimeDir(t)
  let endpoint: string
  {
    await using scoped = newRun(t, dir, runtimeDir).run
    await scoped.start()
    endpoint = scoped.endpoint!.replace(/^ipc:\/\//, '')
  }
  t.notOk(existsSync(endpoint), 'the socket is gone once the block is left')
})

t.test('a stop() while start() is still opening the run launches nothing and leaves nothing open', async (t) => {
  const dir = t.testdir({})
  const runtimeDir = shortRuntimeDir(t)
  const { run } = newRun(t, dir, runtimeDir)
  const starting = run.start()
  run.stop()
  await starting
  await run.close()
  t.same((await run.done).units, [], 'no unit was launched')
  t.same(readdirSync(join(runtimeDir, 'dora-ts')), [], 'no run directory is left')
  const lock = acquireOwnerLock(run.stateDir)
  StateStore.open({ dir: run.stateDir, durability: 'process' }).close()
  lock.release()
})
