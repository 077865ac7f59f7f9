/**
 * A receiver that stopped reading (killed and not restarted, as here, or hung) does not make
 * its sender's messages pile up in shared memory until the run ends: only about the newest
 * `queue_size` of them are kept for it, which is all its `drop_oldest` queue would let through
 * anyway. On a reliable direct link the sender's log keeps the newest `queue_size` entries past
 * the receiver's cursor (whole log files: 16 MiB); on the supervisor's path the outbox keeps
 * `queue_size` messages for a receiver that ended. The next run's receiver gets the newest
 * messages, in order, and every message it never got is counted as a drop of its input. Real
 * processes, a real SIGKILL, the real files.
 */
import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { readJsonl } from '../fixtures/jsonl.js'
import { linkLogBytes } from '../fixtures/link-log-files.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { DEFAULT_LOG_FILE_BYTES } from '../../src/transport/link-log.js'
import type { Test } from 'tap'
import type { RunResult } from '../../runtime/supervisor/run-types.js'
import { dump, startInProcess } from './fixtures/in-process.js'

// Logs go to a folder of this test (not the machine's /dev/shm).
process.env['DORA_TS_SHM_DIR'] = t.testdir({})

interface Record {
  index: number
  ok: boolean
  redelivered: boolean
}

const MB = 1024 * 1024
const COUNT = 80
const QUEUE = 2

/** Segment files (payloads of 64 KiB and more kept for a receiver) under the stores' shm folders, spares aside. */
function segmentFiles(): string[] {
  const root = shmRoot()
  if (root === undefined) return []
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name.startsWith('store-'))
    .flatMap((e) =>
      readdirSync(join(root, e.name), { withFileTypes: true })
        .filter((f) => f.isFile() && !f.name.startsWith('.'))
        .map((f) => f.name),
    )
}

/** What the two runs of {@link viewerDiesThenReads} left for the test to check. */
interface TwoRuns {
  result1: RunResult
  result2: RunResult
  /** The frame run 1's viewer was handed before it died. */
  firstHanded: number
  /** What run 2's viewer got. */
  got: Record[]
}

/**
 * Run 1: a camera sends COUNT frames of 1 MB to a viewer (queue_size QUEUE, restart_policy
 * never) that SIGKILLs itself at the first frame it gets. `between` checks what was kept for
 * it. Run 2: a viewer that reads; the camera's progress says all was sent, so it sends nothing.
 */
async function viewerDiesThenReads(t: Test, top: string, between: (result1: RunResult) => void): Promise<TwoRuns> {
  const dir = t.testdir({})
  const progress = join(dir, 'progress.txt')
  const dataflow = (sinkEnv: string): string => `${top}nodes:
  - id: camera
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: ${COUNT}, SIZE: ${MB}, PROGRESS_FILE: ${JSON.stringify(progress)} }
    outputs: [frames]
  - id: viewer
    path: ${fixture('big-sink.mjs')}
    env: { SIZE: ${MB}, ${sinkEnv} }
    restart_policy: never
    inputs:
      frames: { source: camera/frames, queue_size: ${QUEUE} }
`
  const first = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(join(dir, 'run1.jsonl'))}, KILL_FIRST: "1"`), { dir })
  const result1 = await first.done
  t.notOk(result1.ok, 'the viewer failed for good in run 1')
  t.match(first.lines('dora-ts').join('\n'), /viewer was killed by SIGKILL/, dump(first.logs))
  t.equal(readJsonl<number>(progress).length, COUNT, 'the camera had every send confirmed')
  between(result1)

  const record = join(dir, 'run2.jsonl')
  const second = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(record)}`), { dir })
  const result2 = await second.done
  t.ok(result2.ok, dump(second.logs))
  const got = readJsonl<Record>(record)
  t.ok(
    got.every((r) => r.ok),
    'every frame it got is intact',
  )
  t.equal(got.at(-1)?.index, COUNT, `it got the newest frames, up to the last one sent (${got.map((r) => r.index).join(', ')})`)
  t.ok(
    got.every((r, i) => i === 0 || r.index > got[i - 1]!.index),
    'in order, none twice',
  )
  return { result1, result2, firstHanded: readJsonl<Record>(join(dir, 'run1.jsonl'))[0]?.index ?? 0, got }
}

t.test('a reliable direct link: the sender log is held to the dead receiver queue; the next run gets the newest, the rest counted as dropped', async (t) => {
  const {
    result2,
    firstHanded: k,
    got,
  } = await viewerDiesThenReads(t, '', () => {
    const left = linkLogBytes(shmRoot())
    // Its newest QUEUE + 16 entries lie in at most two files; without the bound all 80 MB were kept.
    t.ok(left > 0 && left <= 2 * DEFAULT_LOG_FILE_BYTES + 2 * MB, `the log holds ${(left / MB).toFixed(1)} MB of the ${COUNT} MB sent`)
  })
  // Run 1's viewer was handed frame k (its queue had dropped the ones before): from k on, each
  // frame reached run 2's viewer or is one of its input's drops (the viewer's own count).
  const dropped = result2.dropped['viewer/frames'] ?? 0
  t.equal(got.length + dropped, COUNT - k + 1, `from frame ${k}, every frame was received (${got.length}) or counted as dropped (${dropped})`)
  t.equal(linkLogBytes(shmRoot()), 0, 'the drained log is gone at the end of run 2')
})

t.test('through the supervisor: a receiver that ended for good keeps its queue in the outbox, the rest dropped and counted', async (t) => {
  const { result1, result2, got } = await viewerDiesThenReads(t, '_unstable_direct_links: false\n', (result1) => {
    const kept = segmentFiles()
    // Its queue, and what it had been sent and not consumed when it died.
    t.ok(kept.length <= 2 * QUEUE + 2, `the outbox keeps ${kept.length} frames of ${COUNT} for it`)
    t.ok((result1.dropped['viewer/frames'] ?? 0) > 0, 'run 1 counts the frames it dropped')
  })
  // The supervisor counts its own drops exactly: each frame was dropped in run 1, or reached
  // run 2 (the one the viewer died holding comes again), or was dropped there.
  const dropped1 = result1.dropped['viewer/frames'] ?? 0
  const dropped2 = result2.dropped['viewer/frames'] ?? 0
  t.equal(dropped1 + got.length + dropped2, COUNT, `dropped ${dropped1} + got ${got.length} + dropped ${dropped2} = every frame`)
  t.same(segmentFiles(), [], 'nothing is left for it after run 2')
})
