/**
 * Room on a file system: the errors that say there is none, and whether spare files are
 * affordable, on a real small tmpfs (skipped, saying why, where mounting is not permitted).
 */
import t from 'tap'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ANSWER_MS, hasRoomToSpare, isNoRoom } from '../src/no-room.js'
import { smallTmpfs } from './fixtures/small-tmpfs.js'

t.test('ENOSPC and EDQUOT say there is no room; other errors do not', async (t) => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })
  t.ok(isNoRoom(err('ENOSPC')))
  t.ok(isNoRoom(err('EDQUOT')))
  t.notOk(isNoRoom(err('EACCES')))
  t.notOk(isNoRoom(undefined))
})

t.test('a small tmpfs affords spares while a quarter of it is free, not once it is fuller', async (t) => {
  const fs = smallTmpfs(t, '4m')
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  // An answer stands for ANSWER_MS: each look waits that out first (the sleep is at least that).
  const look = async (): Promise<boolean> => {
    await sleep(ANSWER_MS + 1)
    return hasRoomToSpare(fs)
  }
  t.ok(await look(), 'empty: yes')
  writeFileSync(join(fs, 'half'), Buffer.alloc(2 * 1024 * 1024, 1))
  t.ok(await look(), 'half full: yes')
  writeFileSync(join(fs, 'more'), Buffer.alloc(1536 * 1024, 1))
  t.notOk(await look(), 'seven eighths full: no')
  rmSync(join(fs, 'more'))
  t.ok(await look(), 'half full again: yes')
})

t.test('a file system that cannot be asked does not stop spares', async (t) => {
  t.ok(hasRoomToSpare(join(t.testdir({}), 'missing', 'folder')))
})
