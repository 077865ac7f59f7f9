/**
 * The counts a node's process leaves as it exits (src/transport/exit-counts.ts): written whole
 * or not at all, taken once, and nothing but a `direct-counts` message is taken from the file.
 */
import t from 'tap'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { encodeNodeToSupervisor } from '../../src/protocol/node/codec.js'
import { exitCountsPath, takeExitCounts, writeExitCounts } from '../../src/transport/exit-counts.js'

const counts = { sent: 3n, received: 120n, dropped: 90n, inputDrops: [{ inputId: 'frames', dropped: 90n }] }

t.test('written as the process exits, taken once by the supervisor', async (t) => {
  const dir = t.testdir({})
  writeExitCounts(dir, 'viewer', 2, counts)
  t.same(readdirSync(dir), ['viewer@2@counts'], 'one file under the node segment prefix, no partial one left')
  t.same(takeExitCounts(dir, 'viewer', 1), undefined, "another process's counts: none")
  t.same(takeExitCounts(dir, 'viewer', 2), counts, 'the counts, as written')
  t.notOk(existsSync(exitCountsPath(dir, 'viewer', 2)), 'the file is gone once taken')
  t.same(takeExitCounts(dir, 'viewer', 2), undefined, 'taken once')
})

t.test('a damaged file, another message, no shared memory: nothing, never a throw', async (t) => {
  const dir = t.testdir({})
  writeFileSync(exitCountsPath(dir, 'viewer', 0), Buffer.from('not capnp at all'))
  t.same(takeExitCounts(dir, 'viewer', 0), undefined, 'damaged: nothing counted')
  t.notOk(existsSync(exitCountsPath(dir, 'viewer', 0)), 'and removed')
  writeFileSync(exitCountsPath(dir, 'viewer', 1), encodeNodeToSupervisor({ type: 'next' }))
  t.same(takeExitCounts(dir, 'viewer', 1), undefined, 'a message that is not direct-counts: nothing')
  t.doesNotThrow(() => writeExitCounts('', 'viewer', 0, counts), 'a run without shared memory: nothing written')
  t.doesNotThrow(() => writeExitCounts(`${dir}/gone/deeper`, 'viewer', 0, counts), 'a directory that is gone: nothing written, no throw')
  t.same(takeExitCounts('', 'viewer', 0), undefined, 'nothing to take without shared memory')
})
