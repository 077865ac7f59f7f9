/**
 * What is on its way to a best-effort receiver that stopped reading is bounded in bytes, and
 * what its sender drops for want of room is counted as the receiving input's drop in the run's
 * report. ZeroMQ's high-water marks count messages: 64 of a camera's 4 MB frames waited in the
 * camera's pipe and 64 more in the viewer's while the viewer was busy (353 MB and 330 MB,
 * measured); large payloads sent as shared-memory files waited as files, every one of them
 * (their names are small, and wait in the kernel's socket buffer beyond any high-water mark).
 * Now at most `DORA_TS_DIRECT_PIPE_BYTES` of large messages (32 MiB by default; 4 MiB here, 8
 * frames of 512 KiB) are on their way: the receiver acknowledges the large messages it takes
 * in a small file its sender reads (node-sdk/link-acks.ts), and files count as unread until
 * their receiver lets go of them (node-sdk/direct-send.ts; the pieces are tested in
 * test/node-sdk/direct-send-pipe.test.ts).
 *
 * A viewer stalls at the first of 120 frames while the camera sends the rest and ends; the
 * newest frame it ever gets says how many were let on their way (frames go in order, and none
 * is acknowledged while it stalls); through files, the test also counts the files waiting for
 * it. Before, every frame came through on the socket (the newest it got was 92-120), and 119
 * files waited. Real nodes, real sockets, real files.
 */
import t from 'tap'
import { readdirSync } from 'node:fs'
import { basename } from 'node:path'
import { runStalledViewer } from './fixtures/stalled-viewer.js'

const shmRoot = t.testdir({})
process.env['DORA_TS_SHM_DIR'] = shmRoot

const COUNT = 120
const SIZE = 512 << 10
/** The camera's budget: 8 frames. */
const PIPE_BYTES = 4 << 20
const FRAMES_IN_BUDGET = PIPE_BYTES / SIZE

/** The files of the viewer's input waiting to be read, in every run folder under the root. */
function unreadFiles(): string[] {
  return (readdirSync(shmRoot, { recursive: true }) as string[])
    .map((p) => basename(p))
    .filter((name) => name.startsWith('viewer@camera@') && !name.endsWith('.free'))
}

const ways: [name: string, cameraEnv: string][] = [
  ['on the socket', ''],
  ['through shared-memory files', ', DORA_TS_DIRECT_SHM_THRESHOLD: 262144'],
]

for (const [name, cameraEnv] of ways) {
  t.test(`best effort ${name}: a stalled viewer makes its camera hold its budget at most; the rest is the viewer's drop`, async (t) => {
    const { result, got, detail } = await runStalledViewer(t, {
      count: COUNT,
      size: SIZE,
      input: 'queue_size: 1, reliability: best_effort',
      cameraEnv: `, DORA_TS_DIRECT_PIPE_BYTES: ${PIPE_BYTES}${cameraEnv}`,
      whileStalled: () => {
        if (cameraEnv === '') return
        const files = unreadFiles()
        t.ok(
          files.length >= 1 && files.length <= FRAMES_IN_BUDGET,
          `${files.length} files wait for the stalled viewer, at most ${FRAMES_IN_BUDGET} (before: all ${COUNT - 1})`,
        )
      },
    })
    t.ok(result.ok, detail())
    const indexes = got.map((r) => r.index)
    t.ok(
      got.every((r) => r.ok),
      'every frame it got has the bytes sent',
    )
    t.ok(
      indexes.every((index, i) => i === 0 || index > indexes[i - 1]!),
      `in order (${indexes.join(', ')})`,
    )
    t.ok(indexes.length >= 2, `frames that waited reached it after its stall (${indexes.join(', ')})`)
    const newest = Math.max(...indexes)
    t.ok(newest <= 1 + FRAMES_IN_BUDGET, `the newest frame it got is ${newest}: ${FRAMES_IN_BUDGET} at most were let on their way after frame 1`)
    // The camera's drops for want of room and the viewer's queue drops alike.
    const dropped = result.dropped['viewer/frames'] ?? 0
    t.equal(got.length + dropped, COUNT, `each frame it did not handle is counted as its input's drop (got ${got.length}, dropped ${dropped})`)
    t.same(unreadFiles(), [], 'no file left')
  })
}
