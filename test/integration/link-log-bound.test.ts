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
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { readJsonl } from '../fixtures/jsonl.js'
import { linkLogBytes, linkLogFiles } from '../fixtures/link-log-files.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { DEFAULT_LOG_FILE_BYTES } from '../../src/transport/link-log.js'
import type { Test } from 'tap'
import type { RunResult } from '../../runtime/supervisor/run-types.js'
import type { UnitInfo } from '../../runtime/supervisor/counters.js'
import { LINK_MARK_AHEAD } from '../../node-sdk/link-inputs.js'
import { waitFor } from '../fixtures/wait-for.js'
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
 * A camera sending COUNT frames of 1 MB, frame 1 once `<dir>/start` exists and the rest once
 * `<dir>/rest` does, to a viewer (big-sink.mjs with `sinkEnv`, queue_size QUEUE); `top` goes
 * before `nodes:`, `viewerKeys` into the viewer's entry.
 */
function gatedCamera(dir: string, sinkEnv: string, top = '', viewerKeys = ''): { yaml: string; progress: string; start: string; rest: string } {
  const progress = join(dir, 'progress.txt')
  const start = join(dir, 'start')
  const rest = join(dir, 'rest')
  const yaml = `${top}nodes:
  - id: camera
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: ${COUNT}, SIZE: ${MB}, PROGRESS_FILE: ${JSON.stringify(progress)}, START_FILE: ${JSON.stringify(start)}, REST_FILE: ${JSON.stringify(rest)} }
    outputs: [frames]
  - id: viewer
    path: ${fixture('big-sink.mjs')}
    env: { SIZE: ${MB}, ${sinkEnv} }
${viewerKeys}    inputs:
      frames: { source: camera/frames, queue_size: ${QUEUE} }
`
  return { yaml, progress, start, rest }
}

/**
 * Run 1: a camera sends COUNT frames of 1 MB to a viewer (queue_size QUEUE, restart_policy
 * never) that SIGKILLs itself at the first frame it gets: frame 1, sent once the viewer has
 * connected, the rest once it is dead. `between` checks what was kept for it. Run 2: a viewer
 * that reads; the camera's progress says all was sent, so it sends nothing.
 */
async function viewerDiesThenReads(t: Test, top: string, between: (result1: RunResult) => void): Promise<TwoRuns> {
  const dir = t.testdir({})
  const dataflow = (sinkEnv: string) => gatedCamera(dir, sinkEnv, top, '    restart_policy: never\n')
  const { progress, start, rest } = dataflow('')
  const first = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(join(dir, 'run1.jsonl'))}, KILL_FIRST: "1"`).yaml, { dir })
  await first.run.startupSettled()
  writeFileSync(start, '')
  await first.waitForLine(/viewer was killed by SIGKILL/)
  writeFileSync(rest, '')
  const result1 = await first.done
  t.notOk(result1.ok, 'the viewer failed for good in run 1')
  t.equal(readJsonl<number>(progress).length, COUNT, 'the camera had every send confirmed')
  between(result1)

  const record = join(dir, 'run2.jsonl')
  const second = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(record)}`).yaml, { dir })
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

t.test(
  'a reliable direct link: the sender log is held to the dead receiver queue; the frames it no longer holds are run 1 drops, the rest go to the next run',
  async (t) => {
    let oldest = 0
    const {
      result1,
      result2,
      firstHanded: k,
      got,
    } = await viewerDiesThenReads(t, '', () => {
      const files = linkLogFiles(shmRoot())
      const left = files.reduce((sum, [, bytes]) => sum + bytes, 0)
      // Its newest QUEUE frames and the camera's close lie in one file, or the ends of two;
      // without the bound all 80 MB were kept.
      t.ok(left > 0 && left <= DEFAULT_LOG_FILE_BYTES + (QUEUE + 1) * MB, `the log holds ${(left / MB).toFixed(1)} MB of the ${COUNT} MB sent`)
      // Files are named after their first entry; the camera's frame i is entry i.
      oldest = Math.min(...files.map(([path]) => Number(basename(path, '.log'))))
    })
    t.equal(k, 1, "run 1's viewer was handed frame 1, the only one sent before it died")
    // It had read frame 1 alone, which marked up to LINK_MARK_AHEAD frames past it as maybe read
    // (its cursor); the frames past those that the log no longer holds were certainly never read:
    // run 1 counts them itself (the supervisor reads the log and the cursor).
    const neverRead = oldest - 1 - (k + Number(LINK_MARK_AHEAD))
    t.ok(neverRead > 0, `the bound removed frames it never read (the oldest left is ${oldest})`)
    const dropped1 = result1.dropped['viewer/frames'] ?? 0
    t.equal(dropped1, neverRead, `run 1 counts frames ${k + Number(LINK_MARK_AHEAD) + 1} .. ${oldest - 1} as its drops`)
    // From the oldest left on, each frame reached run 2's viewer or is one of run 2's drops: run 2
    // does not count run 1's again.
    const dropped2 = result2.dropped['viewer/frames'] ?? 0
    t.equal(
      got.length + dropped2,
      COUNT - oldest + 1,
      `from frame ${oldest}, every frame was received (${got.length}) or counted as dropped in run 2 (${dropped2})`,
    )
    t.equal(linkLogBytes(shmRoot()), 0, 'the drained log is gone at the end of run 2')
  },
)

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

/**
 * A camera sends frame 1 to a viewer (queue_size QUEUE) that holds it (its handler waits while
 * HOLD_FILE exists); `meanwhile` runs once it does, and the camera sends the rest once it has
 * returned; `thenSent` runs once all COUNT were sent and the camera ended. Then the viewer goes
 * on to the end.
 */
async function viewerHoldsFrameOne(
  t: Test,
  meanwhile: (viewerPid: number) => void,
  thenSent: (viewer: () => UnitInfo) => Promise<void>,
): Promise<{ result: RunResult; got: Record[] }> {
  const dir = t.testdir({})
  const record = join(dir, 'got.jsonl')
  const hold = join(dir, 'hold')
  writeFileSync(hold, '')
  const { yaml, progress, start, rest } = gatedCamera(dir, `RECORD_FILE: ${JSON.stringify(record)}, HOLD_FILE: ${JSON.stringify(hold)}`)
  const { run, done, logs } = await startInProcess(t, yaml, { dir })
  const viewer = (): UnitInfo => run.unitInfo().find((u) => u.name === 'viewer')!
  await run.startupSettled()
  writeFileSync(start, '')
  await waitFor(() => existsSync(record) && readJsonl<Record>(record).length === 1, { what: 'the first frame at the viewer', detail: () => dump(logs) })
  t.equal(readJsonl<Record>(record)[0]!.index, 1, 'the viewer holds frame 1')
  meanwhile(viewer().pid!)
  writeFileSync(rest, '')
  // Once the camera has ended: its close collected the log behind its bound for the last time.
  await waitFor(() => run.unitInfo().find((u) => u.name === 'camera')?.status === 'finished', { what: 'the camera to end', detail: () => dump(logs) })
  t.equal(readJsonl<number>(progress).length, COUNT, 'the camera had every send confirmed')
  await thenSent(viewer)
  rmSync(hold)
  const result = await done
  t.ok(result.ok, dump(logs))
  const got = readJsonl<Record>(record)
  t.ok(
    got.every((r, i) => i === 0 || r.index > got[i - 1]!.index),
    'in order, none twice',
  )
  // Each frame was handed to it or dropped (by its queue, or gone from the log), counted once.
  t.equal(got.length + (result.dropped['viewer/frames'] ?? 0), COUNT, `every frame was received (${got.length}) or counted as dropped`)
  return { result, got }
}

t.test(
  'a hung reliable direct receiver: dora-ts list counts what its sender log no longer holds for it while it is stopped, and no frame twice once it reads again',
  async (t) => {
    let pid = 0
    let live = 0
    const { result } = await viewerHoldsFrameOne(
      t,
      (viewerPid) => {
        // Stopped for real before the rest is sent: its SDK reads nothing more.
        pid = viewerPid
        process.kill(pid, 'SIGSTOP')
        t.teardown(() => {
          try {
            process.kill(pid, 'SIGCONT')
          } catch {
            // Ended.
          }
        })
      },
      async (viewer) => {
        // The camera's last appends collected the log behind its bound; the files are named
        // after their first entry (frame i is entry i).
        const oldest = Math.min(...linkLogFiles(shmRoot()).map(([path]) => Number(basename(path, '.log'))))
        live = viewer().messagesDropped
        // It read frame 1 alone, which marked up to LINK_MARK_AHEAD past it as maybe read: the
        // frames past those that the log no longer holds are drops it has not counted.
        const neverRead = oldest - 2 - Number(LINK_MARK_AHEAD)
        t.ok(neverRead > 0, `the log no longer holds frames the stopped viewer never read (the oldest left is ${oldest})`)
        t.equal(live, neverRead, `while the viewer is stopped, dora-ts list counts frames ${Number(LINK_MARK_AHEAD) + 2} .. ${oldest - 1} as dropped`)
        process.kill(pid, 'SIGCONT')
      },
    )
    const dropped = result.dropped['viewer/frames'] ?? 0
    t.ok(live <= dropped, `the live count (${live}) was no more than the final one (${dropped})`)
  },
)

t.test('a slow reliable direct receiver (its handler busy, its SDK reading on): dora-ts list counts each drop once', async (t) => {
  const { result, got } = await viewerHoldsFrameOne(
    t,
    () => undefined,
    async (viewer) => {
      // Its SDK reads the frames as they come and its queue drops all but the newest QUEUE;
      // the log's bound removes most of them, after they were read (not drops again) or, when
      // the SDK lagged a file behind on a loaded machine, before (a drop it counts as it
      // passes them, or the supervisor while it has not). Either way each frame but the one
      // held and the newest QUEUE is one drop: the count reaches that and goes no further.
      const all = COUNT - 1 - QUEUE
      const seen = await waitFor(
        () => {
          const dropped = viewer().messagesDropped
          return dropped >= all ? { dropped } : undefined
        },
        { what: `dora-ts list to count ${all} drops of the viewer`, detail: () => JSON.stringify(viewer()) },
      )
      t.equal(seen.dropped, all, `dora-ts list counts the ${all} frames dropped, each once`)
    },
  )
  t.equal(result.dropped['viewer/frames'], COUNT - 1 - QUEUE, 'and so does the run')
  t.same(
    got.map((r) => r.index),
    [1, COUNT - 1, COUNT],
    'it got frame 1 and the newest',
  )
})

t.test(
  'a reliable direct receiver that exits on its own right after reading a backlog: its queue drops it had not reported are counted, every frame once over three runs',
  async (t) => {
    const dir = t.testdir({})
    const dataflow = (sinkEnv: string) => gatedCamera(dir, sinkEnv, '', '    restart_policy: never\n')
    const { progress, start, rest } = dataflow('')
    const records = [1, 2, 3].map((n) => join(dir, `run${n}.jsonl`))
    // Run 1: the viewer exits (process.exit) at frame 1, the rest is sent after: its sender's log
    // keeps the newest frames for the next run (a file's worth and more: 1 MB frames, 16 MiB
    // files). Its SDK marked its cursor exactly as it exited (not LINK_MARK_AHEAD frames ahead,
    // as a SIGKILL leaves it), so every frame gone from the log but frame 1 is counted.
    const first = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(records[0])}, EXIT_FIRST: "3"`).yaml, { dir })
    await first.run.startupSettled()
    writeFileSync(start, '')
    await first.waitForLine(/viewer exited with code 3/)
    writeFileSync(rest, '')
    const result1 = await first.done
    t.equal(readJsonl<number>(progress).length, COUNT, 'the camera had every send confirmed')
    const oldest = Math.min(...linkLogFiles(shmRoot()).map(([path]) => Number(basename(path, '.log'))))
    t.ok(COUNT - oldest + 1 > 2 * QUEUE, `the log kept frames ${oldest} .. ${COUNT} for the next run`)
    t.equal(result1.dropped['viewer/frames'], oldest - 2, `run 1 counts frames 2 .. ${oldest - 1} as dropped`)

    // Run 2: its SDK reads that backlog in one slice, its queue keeps the newest QUEUE (the rest
    // are drops), and the program exits at the first frame it is handed: before the SDK's next
    // report of its counts (every 0.2 s). Those drops are in the run's count all the same.
    const second = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(records[1])}, EXIT_FIRST: "3"`).yaml, { dir })
    const result2 = await second.done
    t.match(dump(second.logs), /viewer exited with code 3/, 'the viewer exited with code 3 in run 2')
    const got2 = readJsonl<Record>(records[1]!)
    t.same(
      got2.map((r) => r.index),
      [COUNT - QUEUE + 1],
      'run 2 handed it the oldest of the newest QUEUE frames first',
    )
    const dropped2 = result2.dropped['viewer/frames'] ?? 0
    t.equal(dropped2, COUNT - oldest + 1 - QUEUE, `run 2 counts the ${COUNT - oldest + 1 - QUEUE} frames its queue dropped before it exited`)

    // Run 3: a viewer that reads gets what was left: the frame run 2 held (marked redelivered:
    // the program had it) and the one still waiting in its queue (not marked: it never had it).
    const third = await startInProcess(t, dataflow(`RECORD_FILE: ${JSON.stringify(records[2])}`).yaml, { dir })
    const result3 = await third.done
    t.ok(result3.ok, dump(third.logs))
    const got3 = readJsonl<Record>(records[2]!)
    t.same(
      got3.map((r) => [r.index, r.redelivered === true]),
      [
        [COUNT - 1, true],
        [COUNT, false],
      ],
      'run 3 got frame 79 again, marked, and frame 80',
    )
    // Every frame was handed over (in some run) or counted as dropped, once.
    const handed = new Set([...records].flatMap((r) => (existsSync(r) ? readJsonl<Record>(r).map((x) => x.index) : [])))
    const dropped = [result1, result2, result3].map((r) => r.dropped['viewer/frames'] ?? 0)
    t.equal(handed.size + dropped[0]! + dropped[1]! + dropped[2]!, COUNT, `handed ${handed.size} + dropped ${dropped.join(' + ')} = every frame`)
  },
)
