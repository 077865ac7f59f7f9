/**
 * A reliable direct link whose receiver stopped reading (killed and not restarted, as here, or
 * hung) does not hold every message its sender sends in shared memory: the sender's log keeps
 * about the newest `queue_size` entries past the receiver's cursor (whole log files: 16 MiB),
 * which is all a `drop_oldest` queue would let through anyway. The next run's receiver gets the
 * newest messages, in order, and every message it never got is counted as a drop of its input,
 * so received + dropped = sent. Real processes, a real SIGKILL, the real log files.
 */
import t from 'tap'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { readJsonl } from '../fixtures/jsonl.js'
import { linkLogBytes } from '../fixtures/link-log-files.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { DEFAULT_LOG_FILE_BYTES } from '../../src/transport/link-log.js'
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

t.test('a receiver killed for good holds its sender log to its queue; the next run gets the newest, the rest counted as dropped', async (t) => {
  const dir = t.testdir({})
  const progress = join(dir, 'progress.txt')
  const dataflow = (sinkEnv: string): string => `nodes:
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
  // Run 1: the viewer SIGKILLs itself at the first frame it gets and is not restarted; the camera
  // sends all 80 MB on.
  const first = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(join(dir, 'run1.jsonl'))}, KILL_FIRST: "1"`), { dir })
  const result1 = await first.done
  t.notOk(result1.ok, 'the viewer failed for good in run 1')
  t.match(first.lines('dora-ts').join('\n'), /viewer was killed by SIGKILL/, dump(first.logs))
  t.equal(readJsonl<Record>(progress).length, COUNT, 'the camera had every send confirmed')
  const left = linkLogBytes(shmRoot())
  // Its newest QUEUE entries lie in at most two files; without the bound all 80 MB were kept.
  t.ok(left > 0 && left <= 2 * DEFAULT_LOG_FILE_BYTES + 2 * MB, `the log holds ${(left / MB).toFixed(1)} MB of the ${COUNT} MB sent`)

  // Run 2: a viewer that reads. The camera's progress says all was sent: it sends nothing more.
  const record = join(dir, 'run2.jsonl')
  const second = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(record)}`), { dir })
  const result2 = await second.done
  t.ok(result2.ok, dump(second.logs))
  const got = readJsonl<Record>(record)
  t.ok(
    got.every((r) => r.ok),
    'every frame it got is intact',
  )
  t.ok(got.length >= QUEUE, `it got the newest frames (${got.map((r) => r.index).join(', ')})`)
  t.equal(got.at(-1)?.index, COUNT, 'up to the last one sent')
  t.ok(
    got.every((r, i) => i === 0 || r.index > got[i - 1]!.index),
    'in order, none twice',
  )
  // Run 1's viewer was handed frame k (its queue had dropped the ones before): from k on,
  // each frame reached run 2's viewer or is one of its input's drops.
  const k = readJsonl<Record>(join(dir, 'run1.jsonl'))[0]?.index ?? 0
  const dropped = result2.dropped['viewer/frames'] ?? 0
  t.equal(got.length + dropped, COUNT - k + 1, `from frame ${k}, every frame was received (${got.length}) or counted as dropped (${dropped})`)
  t.equal(linkLogBytes(shmRoot()), 0, 'the drained log is gone at the end of run 2')
})
