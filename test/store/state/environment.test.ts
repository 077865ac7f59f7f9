/**
 * Opening a state environment: option checks, one store per directory and realm, and what the
 * open reports. Layout and corruption refusals are tested through StateStore in store.test.ts.
 */
import t from 'tap'
import { join } from 'node:path'
import { existsSync, symlinkSync } from 'node:fs'
import { checkDurability, MIN_MAP_SIZE_BYTES, openStateEnvironment, releaseStateDir } from '../../../src/store/state/environment.js'
import { listDbNames } from '../../../src/store/lmdb/db-names.js'
import { StateError } from '../../../src/store/state/errors.js'

t.test('checkDurability takes process and power, and names the operator when there is one', async (t) => {
  t.doesNotThrow(() => checkDurability('process', '/state'))
  t.doesNotThrow(() => checkDurability('power', '/state', 'n/o'))
  const store = t.throws(() => checkDurability('disk', '/state')) as StateError
  t.equal(store.code, 'DORA_STATE_OPEN')
  t.match(store.message, /durability must be 'process' or 'power', got disk/)
  const operator = t.throws(() => checkDurability(undefined, '/state', 'n/o')) as StateError
  t.equal(operator.code, 'DORA_STATE_OPEN')
  t.equal(operator.message, 'bad durability for operator "n/o" in /state: undefined')
  t.equal(operator.operator, 'n/o')
})

t.test('a directory is open once per realm, also through a symlink, until released', async (t) => {
  const root = t.testdir({})
  const dir = join(root, 'state')
  const opened = openStateEnvironment(dir, MIN_MAP_SIZE_BYTES)
  t.same(listDbNames(opened.env), ['__meta__'], 'a new store holds only its layout record')
  symlinkSync(dir, join(root, 'alias'))
  for (const path of [dir, join(root, 'alias')]) {
    const err = t.throws(() => openStateEnvironment(path, MIN_MAP_SIZE_BYTES)) as StateError
    t.equal(err.code, 'DORA_STATE_OPEN')
    t.match(err.message, /already open in this process/)
  }
  void opened.env.close()
  releaseStateDir(opened.realDir)
  const again = openStateEnvironment(join(root, 'alias'), MIN_MAP_SIZE_BYTES)
  t.equal(again.realDir, opened.realDir, 'released: it opens again')
  void again.env.close()
  releaseStateDir(again.realDir)
})

t.test('a map size below the minimum is refused before anything is created', async (t) => {
  const dir = join(t.testdir({}), 'state')
  const err = t.throws(() => openStateEnvironment(dir, MIN_MAP_SIZE_BYTES - 1)) as StateError
  t.equal(err.code, 'DORA_STATE_OPEN')
  t.match(err.message, /at least 262144 bytes/)
  t.throws(() => openStateEnvironment(dir, MIN_MAP_SIZE_BYTES + 0.5), { code: 'DORA_STATE_OPEN' }, 'not an integer')
  t.notOk(existsSync(dir), 'nothing was created')
})
