/**
 * Large payloads between custom nodes travel through shared memory (issue 15), and the
 * supervisor owns the segments: freed when every receiver is done, swept when a node is killed
 * between writing one and sending it, gone with the run. These runs SIGKILL a source in the
 * middle of a burst of large sends and a sink in the middle of a batch, and check that nothing
 * the at-least-once guarantees cover is lost, every byte arrives intact, and no segment is left.
 * The two runs of the supervisor's segments say `_unstable_direct_links: false`: between nodes
 * run by node a reliable input is a direct link by default, whose large payloads go into the
 * sender's link log instead (SIGKILLed mid-transfer in direct-links-kill.test.ts).
 */
import t from 'tap'
import { readJsonl } from '../fixtures/jsonl.js'
import { readdirSync, watch, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'
import { shmRoot } from '../../src/transport/shm-dir.js'

interface Record {
  life: number
  input: string
  index: number
  ok: boolean
  messageId: string
  redelivered: boolean
}

const records = (file: string): Record[] => readJsonl<Record>(file)

/**
 * Entries of the per-user shm root (run directories, store folders), or [] when there is none;
 * not the stores' owner records (`store-<hash>.owner`), which stay while their store exists.
 */
function runDirs(): string[] {
  const root = shmRoot()
  return root === undefined || !existsSync(root) ? [] : readdirSync(root).filter((name) => !name.endsWith('.owner'))
}

// Segments go to a folder of this test (not the machine's /dev/shm), so parallel test files
// cannot see each other's run directories.
const shmBase = t.testdir({})
process.env['DORA_TS_SHM_DIR'] = shmBase

t.test('SIGKILLs mid-transfer of large payloads lose nothing, corrupt nothing and leave no segment behind', async (t) => {
  const dir = t.testdir({})
  const size = 256 * 1024
  const count = 12
  const yaml = `_unstable_direct_links: false
nodes:
  - id: source
    path: ${fixture('big-source.mjs')}
    env: { COUNT: ${count}, SIZE: ${size}, KILL_AFTER: 4 }
    outputs: [frames]
    restart_policy: on-failure
    restart_delay: 1ms
  - id: killed-sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'killed.jsonl'))}, SIZE: ${size}, KILL_AT: 6 }
    inputs:
      frames: { source: source/frames, queue_size: 1000 }
    restart_policy: on-failure
    restart_delay: 1ms
  - id: calm-sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'calm.jsonl'))}, SIZE: ${size} }
    inputs:
      frames: { source: source/frames, queue_size: 1000 }
`
  const segmentsSeen = new Set<string>()
  let watcher: ReturnType<typeof watch> | undefined
  const flow = await startInProcess(t, yaml, { dir })
  // The run's shm directory exists from start(): watch segments come and go in it.
  const [runDir] = runDirs()
  t.ok(runDir, 'the run has a shared-memory directory')
  if (runDir !== undefined) {
    watcher = watch(join(shmRoot()!, runDir), (_event, name) => {
      if (name !== null && name.startsWith('source@')) segmentsSeen.add(name)
    })
  }
  const result = await flow.done
  watcher?.close()
  t.ok(result.ok, dump(flow.logs))
  t.match(flow.lines('dora-ts').join('\n'), /source was killed by SIGKILL \(not sent by dora-ts: [^)]*\); restarting/, 'the source was killed mid-burst')
  t.match(flow.lines('dora-ts').join('\n'), /killed-sink was killed by SIGKILL \(not sent by dora-ts: [^)]*\); restarting/, 'the sink was killed mid-batch')
  t.ok(segmentsSeen.size > 0, `payloads went through shared-memory segments (${segmentsSeen.size} seen)`)

  const all = Array.from({ length: count }, (_, i) => i + 1)
  for (const name of ['killed', 'calm']) {
    const got = records(join(dir, `${name}.jsonl`))
    t.ok(
      got.every((r) => r.ok),
      `${name}-sink: every payload it got was intact`,
    )
    t.same(
      [...new Set(got.map((r) => r.index))].sort((a, b) => a - b),
      all,
      `${name}-sink: every payload arrived (deduplicated by messageId)`,
    )
    t.ok(
      got.every((r) => r.messageId === `big-${r.index}`),
      `${name}-sink: messageIds are the source's`,
    )
  }
  const killed = records(join(dir, 'killed.jsonl'))
  t.ok(
    killed.some((r) => r.life === 1 && r.redelivered && r.index === 6),
    'the input the sink died on came again, marked redelivered, from its segment',
  )
  t.same(runDirs(), [], 'no shared-memory directory or segment is left after the run')
})

t.test('the same payloads below the threshold, and with shared memory turned off, use the socket', async (t) => {
  const dir = t.testdir({})
  const saved = process.env['DORA_TS_SHM_THRESHOLD']
  process.env['DORA_TS_SHM_THRESHOLD'] = '0'
  t.teardown(() => {
    if (saved === undefined) delete process.env['DORA_TS_SHM_THRESHOLD']
    else process.env['DORA_TS_SHM_THRESHOLD'] = saved
  })
  const size = 256 * 1024
  const flow = await startInProcess(
    t,
    `_unstable_direct_links: false
nodes:
  - id: source
    path: ${fixture('big-source.mjs')}
    env: { COUNT: 3, SIZE: ${size} }
    outputs: [frames]
  - id: sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(dir, 'sink.jsonl'))}, SIZE: ${size} }
    inputs:
      frames: { source: source/frames, queue_size: 1000 }
`,
    { dir },
  )
  t.same(runDirs(), [], 'DORA_TS_SHM_THRESHOLD=0: the run has no shared-memory directory')
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const got = records(join(dir, 'sink.jsonl'))
  t.same(
    got.map((r) => [r.index, r.ok]),
    [
      [1, true],
      [2, true],
      [3, true],
    ],
    'every payload arrived intact over the socket',
  )
})

t.test('a payload over max_message_size is refused by send() with DORA_MESSAGE_TOO_LARGE; one at the limit goes', async (t) => {
  const flow = await startInProcess(
    t,
    `max_message_size: 1KiB
nodes:
  - id: big
    path: ${fixture('too-big.mjs')}
    env: { LIMIT: 1024 }
    outputs: [out]
  - id: sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(t.testdirName, 'sink.jsonl'))}, SIZE: 1024 }
    inputs:
      in: big/out
`,
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const out = flow.lines('big').join('\n')
  t.match(
    out,
    /refused: DORA_MESSAGE_TOO_LARGE: node "big" tried to send 1\.0 KiB \(1025 bytes\) on output "out", over the dataflow's max_message_size of 1 KiB \(1024 bytes\); nothing was sent/,
  )
  t.match(out, /hint: Raise the limit with max_message_size: in the dataflow YAML/)
  t.match(out, /sent the payload at the limit/)
  t.equal(flow.run.unitInfo().find((u) => u.name === 'big')?.messagesOut, 1, 'only the payload at the limit was sent')
})

t.test('an operator is held to max_message_size too: ctx.send refuses a larger payload', async (t) => {
  const flow = await startInProcess(
    t,
    `max_message_size: 1KiB
nodes:
  - id: src
    path: ${fixture('source.mjs')}
    env: { COUNT: 1 }
    outputs: [numbers]
  - id: big
    operator:
      javascript: ${fixture('too-big-op.mjs')}
      inputs:
        in: src/numbers
      outputs: [out]
  - id: sink
    path: ${fixture('big-sink.mjs')}
    env: { RECORD_FILE: ${JSON.stringify(join(t.testdirName, 'sink.jsonl'))}, SIZE: 1024 }
    inputs:
      in: big/out
`,
  )
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  const out = flow.logs.map((l) => l.text).join('\n')
  t.match(
    out,
    /refused: DORA_MESSAGE_TOO_LARGE: operator .*big.* tried to send 1\.0 KiB \(1025 bytes\) on output "out", over the dataflow's max_message_size of 1 KiB/,
  )
  t.match(out, /sent the payload at the limit/)
  const got = records(join(t.testdirName, 'sink.jsonl'))
  t.equal(got.length, 1, 'only the payload at the limit reached the sink')
})
