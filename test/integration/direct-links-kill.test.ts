/**
 * Reliable direct links (`_unstable_direct_links: true`) with the supervisor SIGKILLed: the
 * messages a source had confirmed and its sink had not consumed are in the link log when the
 * kill lands (the sinks hold their input, so they cannot have consumed everything), and the
 * next run delivers them: every confirmed message arrives intact, a copy seen twice is marked
 * `redelivered`, and the last, clean run leaves no message bytes in shared memory. Small
 * payloads (on the socket) and large ones (read from the log) alike.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fixture } from '../fixtures/nodes.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { waitFor } from '../fixtures/wait-for.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { linkLogBytes } from '../fixtures/link-log-files.js'
import { completeLines } from '../fixtures/jsonl.js'
import { sourceDir } from '../fixtures/paths.js'

const CHILD = join(sourceDir(import.meta.url), 'fixtures', 'supervisor-child.mjs')

process.env['DORA_TS_SHM_DIR'] = t.testdir({})

interface Record {
  index: number
  ok: boolean
  messageId: string
  redelivered: boolean
  /** The source process that sent it (run and restart: TAG_SENDER). */
  sender: string
}

/** Bytes of the link log files under this test's shm root. */
t.test('supervisor SIGKILLs while sinks hold their input: every confirmed message arrives, repeats are marked, nothing is left', async (t) => {
  const dir = t.testdir({})
  const hold = join(dir, 'hold')
  writeFileSync(hold, '')
  const chains = [
    { name: 'small', count: 40, size: 2048 },
    { name: 'large', count: 12, size: 300 * 1024 },
  ].map((c) => ({ ...c, progress: join(dir, `${c.name}-progress.txt`), sink: join(dir, `${c.name}-sink.jsonl`) }))
  const file = join(dir, 'dataflow.yml')
  writeFileSync(
    file,
    `_unstable_direct_links: true
nodes:
${chains
  .map(
    (c) => `  - id: ${c.name}-source
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: ${c.count}, SIZE: ${c.size}, PROGRESS_FILE: ${JSON.stringify(c.progress)}, TAG_SENDER: "1" }
    outputs: [frames]
  - id: ${c.name}-sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(c.sink)}, SIZE: ${c.size}, HOLD_FILE: ${JSON.stringify(hold)} }
    inputs:
      frames: { source: ${c.name}-source/frames, queue_size: 1000 }
`,
  )
  .join('')}`,
  )
  const runtimeDir = shortRuntimeDir(t)
  const confirmed = (c: (typeof chains)[number]): Set<number> => new Set(completeLines(c.progress).map(Number))
  const got = (c: (typeof chains)[number]): Record[] => completeLines(c.sink).map((l) => JSON.parse(l) as Record)

  const runChild = async (until: (out: string[]) => boolean, signal: NodeJS.Signals): Promise<string[]> => {
    const child = spawn(process.execPath, [CHILD, file], { env: { ...process.env, RUNTIME_DIR: runtimeDir }, stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => void child.kill('SIGKILL'))
    let ended = false
    const exited = new Promise((resolve) => child.once('exit', resolve)).then(() => (ended = true))
    const out: string[] = []
    createInterface({ input: child.stdout! }).on('line', (line) => out.push(line))
    await waitFor(() => ended || until(out), { what: 'the chains to make progress', detail: () => out.slice(-20).join('\n') })
    t.notOk(ended, `the supervisor ran until it was signalled:\n${out.slice(-20).join('\n')}`)
    child.kill(signal)
    await exited
    return out
  }

  for (let kill = 1; kill <= 3; kill++) {
    const before = chains.map((c) => ({ records: got(c).length, confirmed: confirmed(c).size }))
    await runChild(
      () =>
        chains.every((c, i) => {
          const seen = new Set(got(c).map((r) => r.index))
          const conf = confirmed(c)
          return got(c).length > before[i]!.records && conf.size >= Math.min(c.count, before[i]!.confirmed + 3) && [...conf].some((n) => !seen.has(n))
        }),
      'SIGKILL',
    )
    t.ok(linkLogBytes(shmRoot()) > 0, `kill ${kill}: confirmed, unconsumed messages are in the link logs for the next run`)
  }
  rmSync(hold)
  const last = await runChild(
    (out) =>
      chains.every((c) => new Set(got(c).map((r) => r.index)).size >= c.count) &&
      out.filter((l) => l.startsWith('[') && l.includes('sent up to')).length === chains.length,
    'SIGTERM',
  )
  t.ok(
    last.some((l) => l.includes('[test] done ok=true')),
    `the last run ended cleanly:\n${last.slice(-10).join('\n')}`,
  )
  for (const c of chains) {
    const records = got(c)
    t.same(confirmed(c).size, c.count, `${c.name}: the source saw every send confirmed`)
    t.same(
      [...new Set(records.map((r) => r.index))].sort((a, b) => a - b),
      Array.from({ length: c.count }, (_, i) => i + 1),
      `${c.name}: every message arrived`,
    )
    t.ok(
      records.every((r) => r.ok && r.messageId === `seg-${r.index}`),
      `${c.name}: every payload intact, with its messageId`,
    )
    // A source killed after a send was appended but before it saw it confirmed sends that
    // number again from its next process: a new message. The same message twice must be marked.
    const seen = new Set<string>()
    const unmarked = records.filter((r) => {
      const key = `${r.index}/${r.sender}`
      const again = seen.has(key)
      seen.add(key)
      return again && !r.redelivered
    })
    t.same(unmarked, [], `${c.name}: a message given twice (same number, same source process) is marked redelivered the second time`)
  }
  t.equal(linkLogBytes(shmRoot()), 0, 'the clean last run consumed everything: no message bytes left in the link logs')
})
