/**
 * State and KVS are private: directories 0700 and files 0600 whatever the umask, loose modes
 * left by an older version fixed on open, and a second Unix user reads nothing. Pins issue 13
 * point 3 (state folders were 0755 and data.mdb 0644; another user ran `strings` on it).
 */
import t, { type Test } from 'tap'
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { StateStore } from '../../src/store/state/store.js'
import { KvsStore } from '../../src/store/kvs/store.js'
import { otherUserSkip, runAsOtherUser } from './fixtures/other-user.js'

/** Run `fn` with umask 0, the worst case: every mode comes out as asked. */
function withOpenUmask<T>(fn: () => T): T {
  const old = process.umask(0)
  try {
    return fn()
  } finally {
    process.umask(old)
  }
}

function modes(dir: string): Record<string, number> {
  const out: Record<string, number> = { '.': statSync(dir).mode & 0o777 }
  for (const f of readdirSync(dir)) out[f] = statSync(join(dir, f)).mode & 0o777
  return out
}

function assertPrivate(t: Test, dir: string): void {
  for (const [name, mode] of Object.entries(modes(dir))) {
    t.equal(mode & 0o077, 0, `${name} in ${dir} is private (mode ${mode.toString(8)})`)
  }
}

t.test('a new state store and a new KVS are 0700 / 0600 even with umask 0', async (t) => {
  const base = t.testdir({})
  const stateDir = join(base, 'state', 'robot')
  const kvsDir = join(base, 'kvs')
  withOpenUmask(() => {
    StateStore.open({ dir: stateDir, durability: 'process' }).close()
    KvsStore.open({ dir: kvsDir }).close()
  })
  t.equal(modes(stateDir)['.'], 0o700)
  t.equal(modes(stateDir)['data.mdb'], 0o600)
  assertPrivate(t, stateDir)
  assertPrivate(t, kvsDir)
})

t.test('a store left readable by others is made private when opened', async (t) => {
  const base = t.testdir({})
  const stateDir = join(base, 'old-state')
  StateStore.open({ dir: stateDir, durability: 'process' }).close()
  chmodSync(stateDir, 0o755)
  for (const f of readdirSync(stateDir)) chmodSync(join(stateDir, f), 0o644)
  StateStore.open({ dir: stateDir, durability: 'process' }).close()
  assertPrivate(t, stateDir)
  // A KVS in an existing 0755 --kvs-dir (issue 13).
  const kvsDir = t.testdir({})
  chmodSync(kvsDir, 0o755)
  KvsStore.open({ dir: kvsDir }).close()
  assertPrivate(t, kvsDir)
})

t.test('a second Unix user reads neither the state nor the KVS', { skip: otherUserSkip() ?? false }, async (t) => {
  const base = t.testdir({})
  const stateDir = join(base, 'state')
  const kvsDir = join(base, 'kvs')
  withOpenUmask(() => {
    const state = StateStore.open({ dir: stateDir, durability: 'process' })
    state.close()
    KvsStore.open({ dir: kvsDir }).close()
  })
  let reads = 0
  for (const file of [join(stateDir, 'data.mdb'), join(kvsDir, 'data.mdb'), stateDir, kvsDir]) {
    const r = await runAsOtherUser('sh', ['-c', `cat "${file}" >/dev/null 2>&1 || ls "${file}" >/dev/null 2>&1 && echo READ`])
    if (r.stdout.includes('READ')) reads++
    t.notMatch(r.stdout, /READ/, `the other user cannot read ${file}`)
  }
  t.equal(reads, 0, "0 reads of another user's state or KVS")
})

t.test('a store verified in a probe process (after a restore or an unclean end) stays private', async (t) => {
  // The probe opened the store without our file modes and created lock.mdb 0644; the next open
  // then printed "was readable by other users" (seen after `dora-ts state restore`).
  const stateDir = join(t.testdir({}), 'restored')
  StateStore.open({ dir: stateDir, durability: 'process' }).close()
  // As a restore leaves it: no lock file, and no stamp saying a clean close left data.mdb as is.
  rmSync(join(stateDir, 'lock.mdb'))
  rmSync(join(stateDir, 'verified.stamp'))
  withOpenUmask(() => StateStore.open({ dir: stateDir, durability: 'process' }).close())
  t.equal(modes(stateDir)['lock.mdb'], 0o600)
  assertPrivate(t, stateDir)
})
