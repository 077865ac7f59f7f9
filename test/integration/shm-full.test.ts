/**
 * A reliable direct link whose shared memory is full recovers once its receiver has caught up.
 * Docker gives a container 64 MB of /dev/shm by default; a 1080p camera's frames (6 MB) filled
 * it after ten, and from then on every send failed with DORA_LINK_LOG_WRITE for good, though
 * the viewer had consumed all ten: the consumed frames lay in the log's newest file (a file
 * closes for appends at 16 MiB, so it never filled), and the consumed files before it had
 * become spares kept for reuse. The camera here sends 1 MB frames into an 8 MB tmpfs (smaller
 * than one log file, so the fill is certain) and tries a refused frame again until it goes;
 * the viewer must get every frame, once, in order. The viewer connects only once the tmpfs has
 * filled, so its first cursor writes come while it is (nearly) full: CI once saw one fail there
 * with ENOSPC, the camera quicker than usual, and nothing could be collected after (the exact
 * case, a tmpfs full to its last page, is in test/transport/link-log.test.ts). Real
 * processes, a real tmpfs (skipped, saying why, where mounting is not permitted: not root).
 */
import t, { type Test } from 'tap'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixture } from '../fixtures/nodes.js'
import { readJsonl } from '../fixtures/jsonl.js'
import { linkLogBytes } from '../fixtures/link-log-files.js'
import { smallTmpfs } from '../fixtures/small-tmpfs.js'
import { shmRoot } from '../../src/transport/shm-dir.js'
import { dump, startInProcess } from './fixtures/in-process.js'

const MB = 1024 * 1024
const COUNT = 40

/** An 8 MB tmpfs as the shared-memory root of what this test runs (DORA_TS_SHM_DIR), or why none. */
function shmOnSmallTmpfs(t: Test): string | { skip: string } {
  const shm = smallTmpfs(t, '8m')
  if (typeof shm !== 'string') return shm
  const previous = process.env['DORA_TS_SHM_DIR']
  process.env['DORA_TS_SHM_DIR'] = shm
  t.teardown(() => {
    if (previous === undefined) delete process.env['DORA_TS_SHM_DIR']
    else process.env['DORA_TS_SHM_DIR'] = previous
  })
  return shm
}

interface Received {
  index: number
  ok: boolean
  redelivered: boolean
}

t.test('a reliable direct link on a full tmpfs takes sends again once its receiver has consumed what the log held', async (t) => {
  const shm = shmOnSmallTmpfs(t)
  if (typeof shm !== 'string') return void t.skip(shm.skip, () => {})
  const dir = t.testdir({})
  const record = join(dir, 'got.jsonl')
  const full = join(dir, 'full.txt')
  const progress = join(dir, 'progress.txt')
  const yaml = `nodes:
  - id: camera
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: ${COUNT}, SIZE: ${MB}, PROGRESS_FILE: ${JSON.stringify(progress)}, FULL_FILE: ${JSON.stringify(full)} }
    outputs: [frames]
  - id: viewer
    path: ${fixture('big-sink.mjs')}
    env: { SIZE: ${MB}, RECORD_FILE: ${JSON.stringify(record)}, CONNECT_AFTER_FILE: ${JSON.stringify(full)} }
    inputs:
      frames: { source: camera/frames, queue_size: ${COUNT} }
`
  const { done, logs } = await startInProcess(t, yaml, { dir })
  const result = await done
  t.ok(result.ok, dump(logs))
  const refused = existsSync(full) ? readJsonl<number>(full) : []
  t.ok(refused.length > 0, `the tmpfs filled: ${refused.length} send(s) refused (frames ${[...new Set(refused)].join(', ')}), each tried again`)
  t.same(
    readJsonl<number>(progress),
    Array.from({ length: COUNT }, (_, i) => i + 1),
    'the camera had every frame confirmed',
  )
  const got = readJsonl<Received>(record)
  t.same(
    got.map((r) => r.index),
    Array.from({ length: COUNT }, (_, i) => i + 1),
    'the viewer got every frame, once, in order',
  )
  t.ok(
    got.every((r) => r.ok && !r.redelivered),
    'each intact, none marked redelivered',
  )
  t.equal(linkLogBytes(shmRoot()), 0, 'the drained log is gone at the end of the run')
})

t.test('through the supervisor: while the tmpfs is full large payloads take the socket, and shared memory is used again once it has room', async (t) => {
  const shm = shmOnSmallTmpfs(t)
  if (typeof shm !== 'string') return void t.skip(shm.skip, () => {})
  // Less than one frame of room left.
  const ballast = join(shm, 'ballast')
  writeFileSync(ballast, Buffer.alloc(7.5 * MB, 1))
  const dir = t.testdir({})
  const record = join(dir, 'got.jsonl')
  const progress = join(dir, 'progress.txt')
  const stop = join(dir, 'stop')
  const yaml = `_unstable_direct_links: false
nodes:
  - id: camera
    path: ${fixture('seg-source.mjs')}
    env: { COUNT: 100000, SIZE: ${MB}, PROGRESS_FILE: ${JSON.stringify(progress)}, UNTIL_FILE: ${JSON.stringify(stop)} }
    outputs: [frames]
  - id: viewer
    path: ${fixture('big-sink.mjs')}
    env: { SIZE: ${MB}, RECORD_FILE: ${JSON.stringify(record)} }
    inputs:
      frames: { source: camera/frames, queue_size: 100000 }
`
  const { done, logs, waitForLine } = await startInProcess(t, yaml, { dir })
  await waitForLine(/camera" could not write a shared-memory segment .*go over the socket until it has room/)
  rmSync(ballast)
  await waitForLine(/camera": shared memory in .* has room again; large payloads use it again/)
  writeFileSync(stop, '')
  const result = await done
  t.ok(result.ok, dump(logs))
  t.notOk(
    logs.some((l) => /from now on/.test(l.text)),
    'shared memory was never given up for good',
  )
  const sent = readJsonl<number>(progress)
  const got = readJsonl<Received>(record)
  t.ok(sent.length > 1, `the camera had ${sent.length} frames confirmed`)
  t.same(
    got.map((r) => r.index),
    sent,
    'the viewer got every frame confirmed, once, in order, over the socket and through shared memory',
  )
  t.ok(
    got.every((r) => r.ok),
    'each intact',
  )
})
