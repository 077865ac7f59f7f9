/**
 * An operator whose large outputs its worker stages as segment files (segments.ts: kept under
 * the names the worker gave them, and written over again from the spare pool) crashes after
 * sending, before its event commits: by a throw and by `process.exit` in its worker. Each
 * crashed event's staged file is dropped, never delivered; the restarted launch writes over
 * the crashed one's spares under names of its own; every payload reaches the counting
 * operator whole, once and in order, also when the counter crashes and gets it again from its
 * segment file; and nothing is left in the store's shm folder once the run ends.
 */
import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { dump, startInProcess } from './fixtures/in-process.js'

// Segments go to a folder of this test (not the machine's /dev/shm).
process.env['DORA_TS_SHM_DIR'] = t.testdir({})

const SIZE = 80 * 1024
const LIMIT = 40
const CRASH_AT = [5, 12, 13, 30]
const CRASH_HOW = ['throw', 'exit', 'throw', 'exit']
/** Where the counting operator crashes once: those payloads come again, read from their segment files. */
const COUNT_CRASH_AT = [3, 17, 21, 35]

/** Every file in the stores' shm folders (`store-*`), spares included. */
function storeFiles(): string[] {
  const root = shmRoot()
  if (root === undefined || !existsSync(root)) return []
  return readdirSync(root)
    .filter((name) => name.startsWith('store-') && !name.endsWith('.owner'))
    .flatMap((name) => readdirSync(join(root, name)).map((file) => `${name}/${file}`))
}

t.test('an operator crashing with staged payloads: each payload once and whole, the crashed ones dropped, no file left', async (t) => {
  const run = await startInProcess(
    t,
    `nodes:
  - id: src
    restart_policy: on-failure
    restart_delay: 1ms
    env: { LIMIT: ${LIMIT}, SIZE: ${SIZE}, CRASH_AT: "${CRASH_AT.join(',')}", CRASH_HOW: "${CRASH_HOW.join(',')}" }
    operator:
      javascript: ${fixture('seg-op-source.mjs')}
      inputs:
        tick: dora/timer/millis/2
      outputs: [frames]
  - id: count
    restart_policy: on-failure
    restart_delay: 1ms
    env: { LIMIT: ${LIMIT}, SIZE: ${SIZE}, CRASH_AT: "${COUNT_CRASH_AT.join(',')}" }
    operator:
      javascript: ${fixture('seg-op-counter.mjs')}
      inputs:
        frames: { source: src/frames, queue_size: 1000 }
      outputs: [unused]
`,
  )
  // Or a unit that could not go on (a payload file gone): the checks below then say what.
  await run.waitForLine(new RegExp(`^reached ${LIMIT} |could not|failed`))
  const during = storeFiles()
  run.run.stop()
  const result = await run.done
  const counted = run.lines('count')
  t.same(
    counted.filter((l) => /^(BAD|DUP|GAP)/.test(l)),
    [],
    'no payload damaged, twice or missing',
  )
  t.same(
    counted.filter((l) => l.startsWith('count=')),
    Array.from({ length: LIMIT }, (_, i) => `count=${i + 1} last=${i + 1}`),
    'every index counted once, in order',
  )
  // (A message of an event that ran again after its operator crashed is marked redelivered too.)
  const redelivered = counted.filter((l) => l.startsWith('redelivered'))
  for (const i of COUNT_CRASH_AT)
    t.ok(redelivered.includes(`redelivered ${i}`), `payload ${i}, which the counter crashed on, came again whole, from its segment file`)
  const restarts = (id: string): number => run.logs.filter((l) => l.source === 'dora-ts' && l.text.startsWith(`${id} restarting`)).length
  t.equal(restarts('src'), CRASH_AT.length, `the source crashed and came back ${CRASH_AT.length} times`)
  t.equal(restarts('count'), COUNT_CRASH_AT.length, `the counter crashed and came back ${COUNT_CRASH_AT.length} times`)
  t.ok(during.length > 0, `the run kept its spares in the store's folder while it ran (${during.length})`)
  t.ok(
    during.every((f) => f.split('/')[1]!.startsWith('.')),
    `a file there is a staged payload or a spare, never under a message's name: ${during.join(', ')}`,
  )
  t.ok(result.ok, dump(run.logs))
  t.same(storeFiles(), [], 'nothing is left in the shm folder once the run ended')
})
