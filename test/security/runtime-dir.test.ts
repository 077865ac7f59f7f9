/**
 * The runtime directory (sockets, pid files) is trusted only when it is ours: issue 13 point 2,
 * where another user pre-created /tmp/dora-ts-<uid> mode 0777 and a fake supervisor in it got
 * the victim's `start`.
 */
import t from 'tap'
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync, chownSync } from 'node:fs'
import { join } from 'node:path'
import { ensurePrivateDir, checkPrivateDir, makeTreePrivate } from '../../src/security/private-path.js'
import { createRunDir } from '../../src/transport/run-dir.js'
import { runCli } from '../e2e/fixtures/cli.js'
import { OTHER_UID, otherUserSkip, runAsOtherUser } from './fixtures/other-user.js'

t.test('a private directory is created 0700 whatever the umask, and our 0755 one is closed', async (t) => {
  const base = t.testdir({})
  const old = process.umask(0)
  try {
    ensurePrivateDir(join(base, 'fresh'))
  } finally {
    process.umask(old)
  }
  t.equal(statSync(join(base, 'fresh')).mode & 0o777, 0o700)
  const open = join(base, 'open')
  mkdirSync(open)
  chmodSync(open, 0o755)
  ensurePrivateDir(open)
  t.equal(statSync(open).mode & 0o777, 0o700)
})

t.test('a symlink in place of the runtime directory is refused with the path and the fix', async (t) => {
  const base = t.testdir({ elsewhere: {} })
  const root = join(base, 'dora-ts-x')
  symlinkSync(join(base, 'elsewhere'), root)
  t.throws(() => createRunDir(root), { code: 'DORA_INSECURE_PATH', message: new RegExp(`${root} is a symbolic link`), hint: /DORA_TS_RUNTIME_DIR/ })
  t.throws(() => checkPrivateDir(root), { code: 'DORA_INSECURE_PATH' })
})

t.test('as a second Unix user', { skip: otherUserSkip() ?? false }, async (t) => {
  // A shared sticky /tmp of our own, as /tmp is.
  const tmp = t.testdir({})
  chmodSync(tmp, 0o1777)
  const root = join(tmp, `dora-ts-${process.getuid!()}`)

  t.test('a runtime directory pre-created by another user is refused by up and by the CLI', async (t) => {
    const made = await runAsOtherUser('sh', ['-c', `mkdir -m 777 ${root} && echo fake > ${root}/planted`])
    t.equal(made.code, 0, made.stderr)
    const env = { TMPDIR: tmp, DORA_TS_RUNTIME_DIR: undefined, XDG_RUNTIME_DIR: undefined, XDG_STATE_HOME: join(tmp, 'state-home') }
    for (const args of [['up'], ['list'], ['stop', 'x']]) {
      const r = await runCli(args, { env })
      t.equal(r.code, 1, `${args[0]} fails`)
      t.match(r.stderr, `the runtime directory ${root} is owned by uid ${OTHER_UID}`, `${args[0]} names the path and the owner`)
      t.match(r.stderr, /DORA_TS_RUNTIME_DIR/, 'and says what to do')
      t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
    }
    t.equal(statSync(root).uid, OTHER_UID, 'nothing was created in it or changed')
  })

  t.test('our own directory that was open to others is refused if it holds their files', async (t) => {
    const dir = join(tmp, 'ours-open')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    writeFileSync(join(dir, 'daemon.pid'), '1')
    chownSync(join(dir, 'daemon.pid'), OTHER_UID, OTHER_UID)
    t.throws(() => ensurePrivateDir(dir), { code: 'DORA_INSECURE_PATH', message: /holds daemon.pid, owned by uid 64123/ })
  })

  t.test('a store directory with a file of another user is refused, not opened', async (t) => {
    const dir = join(tmp, 'store')
    mkdirSync(dir, { mode: 0o700 })
    writeFileSync(join(dir, 'data.mdb'), '')
    chownSync(join(dir, 'data.mdb'), OTHER_UID, OTHER_UID)
    t.throws(() => makeTreePrivate(dir), { code: 'DORA_INSECURE_PATH', message: /data.mdb .*owned by uid 64123/ })
  })
})
