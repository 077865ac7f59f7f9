/**
 * `queue_size` holds for a receiver whose handler keeps its thread busy (a synchronous
 * inference, say): when it comes back for more, it gets the newest messages, the rest dropped
 * and counted, on every path. On direct links the messages that arrived meanwhile wait in
 * ZeroMQ, where no queue applies; the SDK handed them over one by one as it read them, so a
 * viewer taking 150 ms a frame of a 30 Hz camera with `queue_size: 1` handled every frame,
 * falling 115 ms further behind with each (4.5 s after 40). Real nodes, real sockets.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { dump, startInProcess } from './fixtures/in-process.js'
import { runStalledViewer } from './fixtures/stalled-viewer.js'

process.env['DORA_TS_SHM_DIR'] = t.testdir({})

const COUNT = 20

const paths: [name: string, top: string, inputExtra: string][] = [
  ['a reliable direct link (the default)', '', ''],
  ['a best-effort link', '', ', reliability: best_effort'],
  ['the supervisor path', '_unstable_direct_links: false\n', ''],
]

for (const [name, top, inputExtra] of paths) {
  t.test(`${name}: a receiver busy with one frame gets the newest next, queue_size 1`, async (t) => {
    // Frame 1 once every node is up, the rest while the viewer is busy with it.
    const { result, got: records, closed, detail } = await runStalledViewer(t, { count: COUNT, size: 1024, top, input: `queue_size: 1${inputExtra}` })
    t.ok(result.ok, detail())
    t.ok(closed, 'the camera sent every frame and closed')
    const got = records.map((r) => r.index)
    t.equal(got[0], 1, 'the viewer handled frame 1 first')
    t.equal(got.at(-1), COUNT, 'and the newest frame last')
    // What was sent while it was busy went through its queue of 1: only the newest is left. A
    // reliable link's log holds every frame sent (the SDK reads it to its end when the program
    // comes back), the supervisor's queue too. Handed over one by one as they were read, as
    // before, it took all 20 on every path. A best-effort frame exists only on its way: the
    // camera has ended, but the viewer's ZeroMQ thread may not have read them from the kernel
    // when the program comes back, on a loaded machine (1, 2, 3, 20 and 1..6, 20 in CI runs;
    // 1..20 twice beside the rest of the suite, the viewer's I/O thread not run while its main
    // thread spun on one core and the suite held the other), and those it reads later are each
    // the newest: nothing bounds how many it handles. What holds there is the count below.
    if (inputExtra === '') t.ok(got.length <= 3, `it handled ${got.length} of ${COUNT} frames (${got.join(', ')}), not each in turn`)
    t.equal(got.length + (result.dropped['viewer/frames'] ?? 0), COUNT, 'each frame it did not handle is counted as dropped')
  })
}

t.test('a reliable direct link (the default): a busy receiver of a stream skips to the newest frames', async (t) => {
  const dir = t.testdir({})
  const env = `COUNT: 40, AHEAD: 3, HANDLED_FILE: ${JSON.stringify(join(dir, 'handled.txt'))}, SENT_FILE: ${JSON.stringify(join(dir, 'sent.txt'))}`
  // While the viewer is busy with frame k the camera sends k + 1 .. k + 3, then waits for it.
  const yaml = `nodes:
  - id: camera
    path: ${fixture('paced-camera.mjs')}
    env: { ${env} }
    outputs: [frames]
  - id: viewer
    path: ${fixture('busy-viewer.mjs')}
    env: { ${env} }
    inputs:
      frames: { source: camera/frames, queue_size: 1 }
`
  const { done, logs } = await startInProcess(t, yaml, { dir })
  const result = await done
  t.ok(result.ok, dump(logs))
  const handled = readFileSync(join(dir, 'handled.txt'), 'utf8').split('\n').filter(Boolean).map(Number)
  t.equal(handled.at(-1), 40, 'it handled the last frame')
  t.ok(
    handled.every((index, i) => i === 0 || index > handled[i - 1]!),
    'in order',
  )
  // Each time it came back, frames k + 1 .. k + 3 had been sent: with a queue of 1 it gets the
  // newest that reached it (k + 2 or k + 3; k + 1 only if both others were still on their way).
  t.ok(handled.length <= 30, `it handled ${handled.length} of 40 (${handled.join(', ')}), not each in turn`)
  t.equal(handled.length + (result.dropped['viewer/frames'] ?? 0), 40, 'each frame it did not handle is counted as dropped')
})
