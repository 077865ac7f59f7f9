/**
 * What the supervisor does with link logs when a run ends (runtime/supervisor/link-logs.ts):
 * a log whose every entry its receivers consumed goes, cursors and all, and so does `links/`
 * once empty; a log that still holds an entry for someone stays, whole, for the next run.
 * Real files, written by the SDK's own writer and cursor.
 */
import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { compactLinkLogs, prepareLinkLogs } from '../../../runtime/supervisor/link-logs.js'
import { LinkCursor, LinkLogReader, LinkLogWriter } from '../../../src/transport/link-log.js'
import { encodeNodeToNode } from '../../../src/protocol/node/codec.js'

/** A log of `count` entries in `dir`, and one cursor `name` that consumed the first `consumed`. */
function logWith(dir: string, count: number, name: string, consumed: number): void {
  const writer = LinkLogWriter.open(dir)
  for (let i = 1; i <= count; i++) {
    const header = encodeNodeToNode({
      type: 'input',
      id: '',
      sequence: BigInt(i),
      timestampNs: 0n,
      messageId: `0.${i}`,
      encoding: 'raw',
      metadata: {},
    })
    writer.append(header, new Uint8Array([i]))
  }
  writer.close()
  const cursor = new LinkCursor(dir, name)
  cursor.set({ consumed: BigInt(consumed), inHand: 0n })
  cursor.close()
}

t.test('a drained log goes with its cursors, then links/ itself; the next writer starts at entry 1', async (t) => {
  const links = join(t.testdir({}), 'links')
  const dir = join(links, 'src@out')
  logWith(dir, 3, 'sink@in', 3)
  compactLinkLogs(links)
  t.notOk(existsSync(dir), 'the log folder is gone')
  t.notOk(existsSync(links), 'links/ is gone')
  // The next run: its receiver's cursor is made before any sender starts (prepareLinkLogs),
  // then the sender numbers from 1 again and the receiver reads from there.
  new LinkCursor(dir, 'sink@in').close()
  const writer = LinkLogWriter.open(dir)
  t.equal(writer.nextSeq, 1n)
  writer.close()
})

t.test('a log with an entry nobody consumed stays whole for the next run, and links/ with it', async (t) => {
  const links = join(t.testdir({}), 'links')
  const kept = join(links, 'src@out')
  const drained = join(links, 'other@out')
  logWith(kept, 3, 'sink@in', 2)
  logWith(drained, 2, 'sink@other', 2)
  compactLinkLogs(links)
  t.same(readdirSync(links), ['src@out'], 'only the drained log went')
  const reader = new LinkLogReader(kept, 2n)
  const entry = reader.next()
  reader.close()
  t.equal(entry?.seq, 3n, 'the unconsumed entry is still there')
  t.same([...(entry?.payload ?? [])], [3])
})

t.test('a log folder whose sender never sent (cursors only) goes too', async (t) => {
  const links = join(t.testdir({}), 'links')
  const dir = join(links, 'quiet@out')
  new LinkCursor(dir, 'sink@in').close()
  compactLinkLogs(links)
  t.notOk(existsSync(links))
})

t.test(
  'a close its receiver never read (it ended on its Stop, the supervisor was then killed) is passed at the next start, its cursor with it: no drop',
  async (t) => {
    const links = join(t.testdir({}), 'links')
    const dir = join(links, 'src@out')
    logWith(dir, 5, 'sink@in', 5)
    const writer = LinkLogWriter.open(dir)
    writer.append(encodeNodeToNode({ type: 'link-closed', dataflowId: 'run-1' }), new Uint8Array(0))
    writer.close()
    const wiring = new Map([
      ['sink', { directInputs: [{ inputId: 'in', queueSize: 10, senderNode: 'src', outputId: 'out', logDir: dir, cursorName: 'sink@in' }] }],
    ])
    prepareLinkLogs(wiring, links, (text) => t.fail(text))
    t.equal(new LinkCursor(dir, 'sink@in').value.consumed, 6n, 'the cursor is past the close')
    const reader = new LinkLogReader(dir, 6n)
    t.equal(reader.next(), undefined, 'nothing is left to read')
    t.equal(reader.takeSkipped(), 0n, 'and nothing was passed: no drop to count')
    reader.close()
  },
)
