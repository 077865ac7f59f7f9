import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { acquireOwnerLock, acquireOwnerLockWaiting } from '../../../src/store/state/owner-lock.js'
import { StateInUseError } from '../../../src/store/state/errors.js'

t.test('a second owner is refused while the first lives, in the same process too', async (t) => {
  const dir = t.testdir({})
  const lock = acquireOwnerLock(dir)
  t.throws(() => acquireOwnerLock(dir), { code: 'DORA_STATE_IN_USE' })
  lock.release()
  lock.release()
  acquireOwnerLock(dir).release()
})

t.test('the folders it creates are private (0700), parents included; existing ones keep their mode', async (t) => {
  const root = t.testdir({})
  mkdirSync(join(root, 'shared'), { mode: 0o755 })
  const dir = join(root, 'shared', 'state', 'robot')
  acquireOwnerLock(dir).release()
  const mode = (path: string): number => statSync(path).mode & 0o777
  t.equal(mode(join(root, 'shared', 'state')).toString(8), '700', 'a new state root')
  t.equal(mode(dir).toString(8), '700', 'the store folder')
  t.equal(mode(join(root, 'shared')).toString(8), '755', 'a folder the user made is left as it is')
})

t.test('a lock left by a SIGKILLed process is taken over', async (t) => {
  const dir = t.testdir({})
  // A child that writes the lock file the way an owner does, then waits to be killed.
  const child = spawn(
    process.execPath,
    ['-e', `require('fs').writeFileSync(${JSON.stringify(join(dir, 'owner.pid'))}, process.pid + '\\n'); console.log('locked'); setInterval(() => {}, 1000)`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
  try {
    acquireOwnerLock(dir)
    t.fail('the live owner should have kept the lock')
  } catch (err) {
    t.ok(err instanceof StateInUseError)
    t.match((err as Error).message, new RegExp(`in use by another dora-ts process \\(pid ${child.pid}\\)`))
    t.match((err as Error).message, dir)
  }
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  const lock = acquireOwnerLock(dir)
  t.pass('taken over after the owner died')
  lock.release()
})

t.test('a starting run waits for a short holder (a CLI read), and gives up on a long one', async (t) => {
  const dir = t.testdir({})
  // A process that holds the lock for 300 ms, as `dora-ts state ls` does, then releases it.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const f = ${JSON.stringify(join(dir, 'owner.pid'))}; require('fs').writeFileSync(f, process.pid + '\\n'); console.log('locked'); setTimeout(() => require('fs').rmSync(f), 300); setTimeout(() => {}, 5000)`,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
  t.throws(() => acquireOwnerLock(dir), { code: 'DORA_STATE_IN_USE' }, 'held right now')
  const lock = await acquireOwnerLockWaiting(dir, 30_000)
  t.pass('acquired once the holder let go')

  // Held for good: refused after the wait, naming the holder.
  await t.rejects(acquireOwnerLockWaiting(dir, 200), { code: 'DORA_STATE_IN_USE', message: new RegExp(`pid ${process.pid}`) })
  lock.release()
})
