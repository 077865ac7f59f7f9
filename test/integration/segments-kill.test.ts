/**
 * Large payloads kept durable as segment files of the state store (src/store/state/segments.ts):
 * the supervisor SIGKILLed in the middle of bursts of 256 KiB payloads, node -> node (a shared-
 * memory segment adopted by the store) and operator -> operator (a segment the store writes),
 * then run again until everything arrived. Every payload the sender had confirmed (a node's
 * `await send()`, an operator's committed event) arrives intact, none is counted twice between
 * operators, and no segment is left once the last run consumed everything.
 */
import t from 'tap'
import { completeLines, readJsonl } from '../fixtures/jsonl.js'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fixture } from '../fixtures/nodes.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { waitFor } from '../fixtures/wait-for.js'
import { SPARE_PREFIX } from '../../src/store/state/segment-spares.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { sourceDir } from '../fixtures/paths.js'
import { unconsumedLinkMessages } from '../fixtures/link-log-files.js'

const CHILD = join(sourceDir(import.meta.url), 'fixtures', 'supervisor-child.mjs')
const SIZE = 256 * 1024
const COUNT = 30
const LIMIT = 30

// Segments go to a folder of this test (not the machine's /dev/shm).
const shmBase = t.testdir({})
process.env['DORA_TS_SHM_DIR'] = shmBase

interface Record {
  index: number
  ok: boolean
  messageId: string
}

const records = (file: string): Record[] => readJsonl<Record>(file)

/** The files in the store segment folders under the shm root (`store-*`, not their `.owner` records). */
function storeSegments(): string[] {
  const root = shmRoot()
  if (root === undefined || !existsSync(root)) return []
  return readdirSync(root)
    .filter((name) => name.startsWith('store-') && !name.endsWith('.owner'))
    .flatMap((name) =>
      readdirSync(join(root, name))
        // Spares (consumed files kept to be written over) hold no message.
        .filter((file) => !file.startsWith(SPARE_PREFIX))
        .map((file) => `${name}/${file}`),
    )
}

t.test('supervisor SIGKILLs mid-burst of 256 KiB payloads: every confirmed payload arrives intact, no segment is left', async (t) => {
  const dir = t.testdir({})
  const sinkFile = join(dir, 'sink.jsonl')
  // While it exists the sink takes one input per run and then holds: what the source had confirmed
  // beyond it is still the supervisor's (outbox entries and segment files) when the kill lands.
  const holdFile = join(dir, 'hold')
  writeFileSync(holdFile, '')
  const progress = join(dir, 'progress.txt')
  const file = join(dir, 'dataflow.yml')
  writeFileSync(
    file,
    `nodes:
  - id: source
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: ${COUNT}, SIZE: ${SIZE}, PROGRESS_FILE: ${JSON.stringify(progress)} }
    outputs: [frames]
  - id: sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(sinkFile)}, SIZE: ${SIZE}, HOLD_FILE: ${JSON.stringify(holdFile)} }
    inputs:
      frames: { source: source/frames, queue_size: 1000 }
  - id: src
    env: { LIMIT: ${LIMIT}, SIZE: ${SIZE} }
    operator:
      javascript: ${fixture('seg-op-source.mjs')}
      inputs:
        tick: dora/timer/millis/2
      outputs: [frames]
  - id: count
    env: { LIMIT: ${LIMIT}, SIZE: ${SIZE} }
    operator:
      javascript: ${fixture('seg-op-counter.mjs')}
      inputs:
        frames: { source: src/frames, queue_size: 100000 }
      outputs: [unused]
`,
  )
  const runtimeDir = shortRuntimeDir(t)
  const counter: string[] = []
  const sinkDone = (): boolean => new Set(records(sinkFile).map((r) => r.index)).size >= COUNT
  const counterDone = (): boolean => counter.some((l) => l.startsWith(`reached ${LIMIT}`))

  /** Run the supervisor until `until` holds (the sink's file, the counter's lines), then `signal` it. */
  const runChild = async (until: (lines: string[]) => boolean, signal: NodeJS.Signals): Promise<string[]> => {
    const child = spawn(process.execPath, [CHILD, file], { env: { ...process.env, RUNTIME_DIR: runtimeDir }, stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => void child.kill('SIGKILL'))
    let ended = false
    const exited = new Promise((resolve) => child.once('exit', resolve)).then(() => (ended = true))
    const lines: string[] = []
    let failed = false
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line.startsWith('[count] ')) counter.push(line.slice(8))
      // A unit that failed for good would make `until` wait forever: end the run and say so.
      if (/^\[dora-ts\] .* failed/.test(line)) failed = true
    })
    // The sink's progress is a file: polled (waitFor), not only checked when a line comes.
    await waitFor(() => ended || failed || until(lines), { what: 'the chains to make progress', detail: () => lines.slice(-20).join('\n') })
    t.notOk(failed, `no unit failed:\n${lines.slice(-20).join('\n')}`)
    t.notOk(ended, `the supervisor ran until it was signalled:\n${lines.slice(-20).join('\n')}`)
    child.kill(failed ? 'SIGKILL' : signal)
    await exited
    return lines
  }

  const confirmedIndexes = (): Set<number> => new Set(completeLines(progress).map(Number))
  const sinkIndexes = (): Set<number> => new Set(records(sinkFile).map((r) => r.index))
  for (let kill = 1; kill <= 3; kill++) {
    // Mid-burst: the held sink took its one input of this run, the source has had more sends
    // confirmed since the last kill (or all of them), and some confirmed payload has not reached the
    // sink; the operator chain has counted more since the last kill, or is done.
    const sinkBefore = records(sinkFile).length
    const confirmedBefore = confirmedIndexes().size
    const countBefore = counter.length
    await runChild(() => {
      const confirmed = confirmedIndexes()
      const undelivered = [...confirmed].some((i) => !sinkIndexes().has(i))
      const sourceMoved = confirmed.size >= Math.min(COUNT, confirmedBefore + 3)
      return records(sinkFile).length > sinkBefore && sourceMoved && undelivered && (counter.length >= countBefore + 3 || counterDone())
    }, 'SIGKILL')
    // Those confirmed, undelivered payloads are committed in the outbox, their bytes in segment files.
    const left = storeSegments().length
    t.ok(left > 0, `kill ${kill} left the confirmed, undelivered payloads as segment files for the next run (${left} seen)`)
  }
  rmSync(holdFile)
  // The operator chain may have counted everything during the kill rounds: the last run must still
  // have started (the source says so once its sends are done) before it is asked to stop.
  const last = await runChild((lines) => sinkDone() && counterDone() && lines.some((l) => l.startsWith('[source] sent up to')), 'SIGTERM')
  t.ok(
    last.some((l) => l.includes('[test] done ok=true')),
    `the last run ended cleanly:\n${last.slice(-10).join('\n')}`,
  )

  const got = records(sinkFile)
  t.ok(
    got.every((r) => r.ok),
    'node -> node: every payload the sink got was intact',
  )
  const confirmed = readFileSync(progress, 'utf8').split('\n').filter(Boolean).map(Number)
  t.same(
    [...new Set(got.map((r) => r.index))].sort((a, b) => a - b),
    Array.from({ length: COUNT }, (_, i) => i + 1),
    'node -> node: every payload arrived',
  )
  t.same([...new Set(confirmed)].sort((a, b) => a - b).length, COUNT, 'the source saw every send confirmed')
  t.same(
    counter.filter((l) => /^(GAP|DUP|BAD)/.test(l)),
    [],
    'operator -> operator: nothing lost, doubled or damaged across the kills',
  )
  t.ok(counter.includes(`reached ${LIMIT} count=${LIMIT}`), 'operator -> operator: every payload counted exactly once')
  // The outbox's segments all went. A link log may still hold, for the next run, a copy of a
  // message the sink already got: a source killed between its log append and its progress line
  // sent that index again, and the stop can come before the sink reached the copy.
  t.same(
    storeSegments().filter((name) => !name.endsWith('/links')),
    [],
    'no segment file is left once everything was consumed',
  )
  const gotIds = new Set(records(sinkFile).map((r) => r.messageId))
  const left = unconsumedLinkMessages(shmRoot())
  t.same(
    left.filter((id) => !gotIds.has(id)),
    [],
    `what the link log keeps for the next run is only copies of messages the sink got (${left.length} left: ${left.join(', ')})`,
  )
})
