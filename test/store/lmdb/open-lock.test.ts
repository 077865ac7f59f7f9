import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DoraError } from '../../../src/errors.js'
import { OPEN_LOCK_FILE, OpenLockTimeoutError, withEnvOpenLock } from '../../../src/store/lmdb/open-lock.js'

t.test('the lock is held during the work and released after it, also when it throws', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, OPEN_LOCK_FILE)
  t.equal(
    withEnvOpenLock(dir, () => existsSync(file)),
    true,
    'held during the work',
  )
  t.notOk(existsSync(file), 'released')
  t.throws(
    () =>
      withEnvOpenLock(dir, () => {
        throw new Error('boom')
      }),
    { message: 'boom' },
  )
  t.notOk(existsSync(file), 'released after a throw')
  t.same(readdirSync(dir), [], 'no temporary files left')
})

t.test('a lock left by a dead process is taken over; a live holder makes it wait, then time out', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, OPEN_LOCK_FILE)
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!
  writeFileSync(file, `${dead}\n`)
  t.equal(
    withEnvOpenLock(dir, () => 'ran'),
    'ran',
    'taken over from a dead pid',
  )

  writeFileSync(file, `${process.ppid}\n`) // alive for as long as this test runs
  const started = Date.now()
  let error: unknown
  try {
    withEnvOpenLock(dir, () => 'never', 100)
  } catch (err) {
    error = err
  }
  t.ok(error instanceof OpenLockTimeoutError, 'times out')
  t.equal((error as OpenLockTimeoutError).holder, process.ppid, 'naming the holder')
  t.ok(error instanceof DoraError, 'a DoraError: it reaches users as the cause of DORA_KVS_OPEN')
  t.equal((error as OpenLockTimeoutError).code, 'DORA_LMDB_OPEN_LOCK_TIMEOUT')
  t.equal((error as OpenLockTimeoutError).file, file)
  t.match((error as OpenLockTimeoutError).describe(), /was held by pid \d+ for over 0\.1 s[^]*\nFind the process holding the lock/)
  t.ok(Date.now() - started >= 100, 'waited for the timeout first')
  t.ok(existsSync(file), "a live holder's lock is left alone")
})
