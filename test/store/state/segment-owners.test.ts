/**
 * The shared-memory folders of deleted state stores are swept (segment-owners.ts): a store
 * records its owner file when it opens; the sweep removes the folder (link logs, segments) of a
 * store whose path is gone from a mounted file system, and nothing else.
 */
import t from 'tap'
import { existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { StateStore } from '../../../src/store/state/store.js'
import { segmentDirFor } from '../../../src/store/state/segments.js'
import { sweepOrphanSegmentDirs } from '../../../src/store/state/segment-owners.js'
import { shmRoot } from '../../../src/transport/shm-dir.js'
import { LinkLogWriter } from '../../../src/transport/link-log.js'

const base = t.testdir({ shm: {}, stores: {} })
process.env['DORA_TS_SHM_DIR'] = join(base, 'shm')
const root = shmRoot()!

/** Open a store at `stores/<name>/state`, write a link log entry into its shm folder, close it. */
function storeWithLinkLog(name: string): { state: string; shm: string } {
  const state = join(base, 'stores', name, 'state')
  const store = StateStore.open({ dir: state, durability: 'process' })
  try {
    const log = LinkLogWriter.open(join(store.linksDir, 'src@out'))
    log.append(Buffer.from('h'), Buffer.alloc(4096))
    log.close()
  } finally {
    store.close()
  }
  return { state, shm: segmentDirFor(realpathSync(state))! }
}

t.test('a deleted store loses its shared-memory folder at the next sweep; a living one keeps it', async (t) => {
  const gone = storeWithLinkLog('gone')
  const kept = storeWithLinkLog('kept')
  t.ok(existsSync(join(gone.shm, 'links')), 'the link log lives in the store shm folder')
  t.ok(existsSync(`${gone.shm}.owner`), 'the store recorded itself as the owner of its folder')
  t.same(sweepOrphanSegmentDirs(root), [], 'nothing swept while both stores exist')
  t.ok(existsSync(gone.shm))

  rmSync(join(base, 'stores', 'gone'), { recursive: true })
  t.same(sweepOrphanSegmentDirs(root), [join(realpathSync(join(base, 'stores')), 'gone', 'state')], 'the deleted store is swept')
  t.notOk(existsSync(gone.shm), 'its folder is gone')
  t.notOk(existsSync(`${gone.shm}.owner`), 'and its owner file')
  t.ok(existsSync(join(kept.shm, 'links')), 'the other store keeps its link logs')
  t.same(sweepOrphanSegmentDirs(root), [], 'a second sweep finds nothing')
})

t.test('a store on a file system that is not there, or without an owner file, is left alone', async (t) => {
  // A store whose path is missing while its nearest ancestor is on another device: its drive
  // is not mounted, and its committed entries may still reference the segments.
  const unmounted = join(base, 'stores', 'usb', 'state')
  const unmountedShm = segmentDirFor(unmounted)!
  mkdirSync(join(unmountedShm, 'links'), { recursive: true })
  writeFileSync(join(unmountedShm, 'links', 'x.log'), 'bytes')
  writeFileSync(`${unmountedShm}.owner`, JSON.stringify({ store: unmounted, dev: statSync(base).dev + 1 }))
  // A folder from before owner files (or whose store never opened since).
  const legacy = join(root, 'store-0123456789abcdef01234567')
  mkdirSync(legacy, { recursive: true })
  // An owner file that names a store whose hash is not this folder's.
  const forged = join(root, 'store-aaaaaaaaaaaaaaaaaaaaaaaa')
  mkdirSync(forged, { recursive: true })
  writeFileSync(`${forged}.owner`, JSON.stringify({ store: join(base, 'nowhere'), dev: statSync(base).dev }))

  t.same(sweepOrphanSegmentDirs(root), [], 'nothing swept')
  t.ok(existsSync(join(unmountedShm, 'links', 'x.log')), 'the unmounted store keeps its folder')
  t.ok(existsSync(legacy), 'a folder without an owner file stays')
  t.ok(existsSync(forged), 'a folder whose owner file names another store stays')
})

t.test("a gone store's owner file without a folder is removed, whatever its device; a living store's stays", async (t) => {
  // A store that was on a file system since unmounted (a small tmpfs, a USB drive) and never
  // wrote a segment or a link log: its owner file protects nothing.
  const unmounted = join(base, 'stores', 'old-usb', 'state')
  const unmountedOwner = `${segmentDirFor(unmounted)!}.owner`
  writeFileSync(unmountedOwner, JSON.stringify({ store: unmounted, dev: statSync(base).dev + 1 }))
  // A store that exists and never wrote to its folder: the folder would be made when it does.
  const living = join(base, 'stores', 'living', 'state')
  StateStore.open({ dir: living, durability: 'process' }).close()
  const livingShm = segmentDirFor(realpathSync(living))!
  t.ok(existsSync(`${livingShm}.owner`), 'the living store recorded its owner file')
  t.notOk(existsSync(livingShm), 'and has no folder')

  t.same(sweepOrphanSegmentDirs(root), [], 'no folder swept')
  t.notOk(existsSync(unmountedOwner), "the unmounted store's lone owner file is gone")
  t.ok(existsSync(`${livingShm}.owner`), "the living store's owner file stays")
})
