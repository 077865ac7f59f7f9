/**
 * mkdirFailure names what stops a folder from being made: Node's recursive mkdir reports a
 * parent on a read-only file system as ENOENT for the folder itself. A real read-only tmpfs
 * (skipped, saying why, where mounting is not permitted: not root).
 */
import t from 'tap'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { mkdirFailure } from '../src/dir-failure.js'
import { readOnlyFolder } from './fixtures/small-tmpfs.js'

/** What mkdirSync with parents throws for `path`. */
function mkdirError(path: string): unknown {
  try {
    mkdirSync(path, { recursive: true })
  } catch (err) {
    return err
  }
  return undefined
}

t.test('a folder under a read-only file system: the nearest existing folder is named as read-only', async (t) => {
  const ro = readOnlyFolder(t, { 'dataflow.yml': 'nodes: []\n' })
  if (typeof ro !== 'string') return void t.skip(ro.skip, () => {})
  const path = join(ro, '.dora-ts', 'state', 'robot')
  const err = mkdirError(path)
  t.ok(err instanceof Error, `mkdir failed: ${String(err)}`)
  t.equal(mkdirFailure(path, err), `${ro} is on a read-only file system`)
})

t.test('a file in the way is named as such', async (t) => {
  const file = join(t.testdir({ 'a-file': '' }), 'a-file')
  const path = join(file, 'state')
  t.equal(mkdirFailure(path, mkdirError(path)), `${file} is a file, not a folder`)
})

t.test('otherwise the error says it itself', async (t) => {
  const dir = t.testdir({})
  t.equal(mkdirFailure(join(dir, 'x'), new Error('something else')), 'something else')
})
