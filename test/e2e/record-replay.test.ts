/**
 * `dora-ts record` and `dora-ts replay` end to end: a real dataflow recorded (the recording read
 * back on its own, not through what the recorder says), replayed into the live rest of the
 * dataflow at full speed, and a recorder SIGKILLed mid-recording that comes back and leaves
 * every message in the file exactly once.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, shortRuntimeDir, startCli } from './fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'
import { RecordingReader } from '../../src/recording/format.js'
import { waitFor } from '../fixtures/wait-for.js'

function flow(count: number, delayMs: number): string {
  return `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${count}, DELAY_MS: ${delayMs} }
    outputs: [numbers]
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { n: { source: source/numbers, queue_size: 1000 } }
      outputs: [count]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      # Queues that hold every message, on a loaded machine too: what is under test is the
      # recording. (A replay at full speed makes only the inputs it feeds wait: the live counter
      # between the two then passes a burst on, which a queue of 10 would drop from.)
      numbers: { source: source/numbers, queue_size: 1000 }
      count: { source: counter/count, queue_size: 1000 }
`
}

/** The recorded JSON values of each topic, in file order, read straight from the file. */
function recorded(path: string): Map<string, unknown[]> {
  const reader = RecordingReader.open(path)
  const values = new Map<string, unknown[]>()
  try {
    for (const m of reader.messages()) values.set(m.topic, [...(values.get(m.topic) ?? []), JSON.parse(Buffer.from(m.payload).toString())])
  } finally {
    reader.close()
  }
  return values
}

/** The values the sink printed for `input` (`got <input> <value> ...`). */
function sinkGot(stdout: string, input: string): number[] {
  return [...stdout.matchAll(new RegExp(`^\\[sink\\] got ${input} (\\d+) `, 'gm'))].map((m) => Number(m[1]))
}

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

t.test('record a run, then replay it whole and in part into the live rest', async (t) => {
  const dir = t.testdir({ 'flow.yml': flow(20, 5) })
  const runtimeDir = shortRuntimeDir(t)
  const env = { DORA_TS_RUNTIME_DIR: runtimeDir, DORA_TS_LOG_DIR: join(runtimeDir, 'logs') }
  const common = ['--state-dir', join(dir, 'state'), '--clean-state']
  const rec = join(dir, 'run.dtsrec')
  const record = await runCli(['record', join(dir, 'flow.yml'), '-o', rec, ...common], { env })
  t.equal(record.code, 0, record.stderr)
  t.match(record.stderr, /recording 2 topic\(s\) to .*run\.dtsrec: source\/numbers, counter\/count/)
  t.match(record.stdout, /\[dora-ts-recorder\] recorded 40 message\(s\) .*; the file holds 40/)
  const values = recorded(rec)
  t.same(values.get('source/numbers'), oneTo(20))
  t.same(values.get('counter/count'), oneTo(20))
  const reader = RecordingReader.open(rec)
  const first = reader.messages().next().value!
  reader.close()
  t.same(first.metadata, { index: 1 }, 'metadata kept')
  t.equal(first.encoding, 'json')

  const again = await runCli(['record', join(dir, 'flow.yml'), '-o', rec], { env })
  t.equal(again.code, 1)
  t.match(again.stderr, /run\.dtsrec already exists\nRecord into a new file/)

  // Both recorded nodes replayed, as fast as the sink takes them: the sink sees what it saw live.
  const whole = await runCli(['replay', rec, '--speed', '0', ...common], { env })
  t.equal(whole.code, 0, whole.stderr)
  t.match(whole.stderr, /replaying 40 recorded message\(s\) of source, counter at full speed/)
  t.same(sinkGot(whole.stdout, 'numbers'), oneTo(20))
  t.same(sinkGot(whole.stdout, 'count'), oneTo(20))
  t.match(whole.stdout, /\[source\] replayed 20 message\(s\) of source/)

  // Only the source: the live counter counts the replayed numbers again, from empty state.
  const part = await runCli(['replay', rec, join(dir, 'flow.yml'), '--replace', 'source', '--speed', '0', ...common], { env })
  t.equal(part.code, 0, part.stderr)
  t.same(sinkGot(part.stdout, 'count'), oneTo(20))
  t.match(part.stdout, /\[counter\] final count=20 sum=210/)

  const missing = await runCli(['replay', rec, '--replace', 'sink'], { env })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^error: the recording holds no message of node "sink"\nIt holds messages of: source, counter\./)
  const notOne = await runCli(['replay', join(dir, 'flow.yml')], { env })
  t.equal(notOne.code, 1)
  t.match(notOne.stderr, /flow\.yml is not a dora-ts recording/)
})

/** The pid of the recorder writing `file` (its environment names the file). */
function recorderPid(file: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`DORA_TS_RECORD_FILE=${file}`)) return Number(entry)
    } catch {
      // Gone, or not ours to read.
    }
  }
  return undefined
}

function entries(file: string): number {
  try {
    const reader = RecordingReader.open(file)
    try {
      return [...reader.topicCounts().values()].reduce((a, b) => a + b, 0)
    } finally {
      reader.close()
    }
  } catch {
    return 0
  }
}

t.test('a recorder SIGKILLed mid-recording comes back: every message in the file, once, in order', async (t) => {
  const count = 300
  const dir = t.testdir({ 'flow.yml': flow(count, 4) })
  const runtimeDir = shortRuntimeDir(t)
  const rec = join(dir, 'kill.dtsrec')
  const run = startCli(['record', join(dir, 'flow.yml'), '-o', rec, '--state-dir', join(dir, 'state'), '--clean-state'], {
    env: { DORA_TS_RUNTIME_DIR: runtimeDir, DORA_TS_LOG_DIR: join(runtimeDir, 'logs') },
  })
  await waitFor(() => entries(rec) >= 60, { what: 'the recording to hold 60 messages' })
  const pid = recorderPid(rec)
  t.ok(pid !== undefined, 'the recorder found')
  process.kill(pid!, 'SIGKILL')
  const atKill = entries(rec)
  t.ok(atKill < 2 * count, `killed mid-recording (${atKill} of ${2 * count} messages in the file)`)
  const ended = await run.exited
  t.equal(ended.code, 0, ended.stderr)
  t.match(ended.stdout + ended.stderr, /dora-ts-recorder .*restart/i, 'restarted by its policy')
  const values = recorded(rec)
  t.same(values.get('source/numbers'), oneTo(count), 'every number once, in order')
  t.same(values.get('counter/count'), oneTo(count), 'every count once, in order')
})
