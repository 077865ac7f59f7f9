import t from 'tap'
import { DoraError, deserializeError, serializeError } from '../../../src/errors.js'
import { MDB } from '../../../src/store/lmdb/errors.js'
import {
  STATE_ERROR_CODES,
  StateBadKeyError,
  StateCorruptError,
  StateDiskFullError,
  StateError,
  StateIoError,
  StateLayoutError,
  StateMapFullError,
  StateOpenError,
  StateValueTooLargeError,
  stateErrorFrom,
} from '../../../src/store/state/errors.js'

const dir = '/srv/robot/.dora-ts/state/flow'

/** An error shaped like the ones lmdb-js throws: a plain Error with a numeric LMDB/errno code. */
function lmdbError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code })
}

t.test('each LMDB and errno failure maps to its own code, naming dir and operator', async (t) => {
  const cases: Array<[unknown, string, new (...args: never[]) => StateError]> = [
    [lmdbError(MDB.MAP_FULL, 'MDB_MAP_FULL: Environment mapsize limit reached'), 'DORA_STATE_MAP_FULL', StateMapFullError],
    [lmdbError(28, 'No space left on device'), 'DORA_STATE_DISK_FULL', StateDiskFullError],
    [Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), 'DORA_STATE_DISK_FULL', StateDiskFullError],
    [lmdbError(122, 'Disk quota exceeded'), 'DORA_STATE_DISK_FULL', StateDiskFullError],
    [lmdbError(MDB.INVALID, 'MDB_INVALID: File is not an LMDB file'), 'DORA_STATE_CORRUPT', StateCorruptError],
    [lmdbError(MDB.CORRUPTED, 'MDB_CORRUPTED: Located page was wrong type'), 'DORA_STATE_CORRUPT', StateCorruptError],
    [lmdbError(MDB.PAGE_NOTFOUND, 'MDB_PAGE_NOTFOUND'), 'DORA_STATE_CORRUPT', StateCorruptError],
    [lmdbError(MDB.VERSION_MISMATCH, 'MDB_VERSION_MISMATCH'), 'DORA_STATE_LAYOUT', StateLayoutError],
    [lmdbError(MDB.TXN_FULL, 'MDB_TXN_FULL'), 'DORA_STATE_VALUE_TOO_LARGE', StateValueTooLargeError],
    [new Error('Key size is larger than the maximum key size (1978)'), 'DORA_STATE_BAD_KEY', StateBadKeyError],
    [lmdbError(MDB.PANIC, 'MDB_PANIC'), 'DORA_STATE_IO', StateIoError],
    [lmdbError(5, 'Input/output error'), 'DORA_STATE_IO', StateIoError],
  ]
  for (const [input, code, cls] of cases) {
    const err = stateErrorFrom(input, { dir, action: 'commit', operator: 'planner/path', mapSizeBytes: 1024 })
    t.equal(err.code, code, String((input as Error).message))
    t.ok(err instanceof cls)
    t.ok(err instanceof StateError)
    t.ok(err instanceof DoraError)
    t.match(err.message, dir, 'the message names the directory')
    t.match(err.message, '"planner/path"', 'the message names the operator')
    t.equal(err.dir, dir)
    t.equal(err.operator, 'planner/path')
    t.equal(err.cause, input, 'the original error is kept as cause')
    t.type(err.hint, 'string')
  }
})

t.test('MAP_FULL says how large the map is and to raise it', async (t) => {
  const err = stateErrorFrom(lmdbError(MDB.MAP_FULL, 'full'), { dir, action: 'commit', mapSizeBytes: 4096 })
  t.match(err.hint, /raise the state map size \(now 4096 bytes\)/)
})

t.test('an unknown failure is DORA_STATE_OPEN while opening, DORA_STATE_IO afterwards', async (t) => {
  const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })
  const open = stateErrorFrom(denied, { dir, action: 'open' })
  t.ok(open instanceof StateOpenError)
  t.equal(open.message, `cannot open the state store in ${dir}: EACCES: permission denied`)
  t.match(open.hint, dir)
  t.equal(stateErrorFrom(denied, { dir, action: 'load', operator: 'a/b' }).code, 'DORA_STATE_IO')
  t.equal(stateErrorFrom('a string', { dir, action: 'stats' }).code, 'DORA_STATE_IO')
})

t.test('a StateError passes through unchanged', async (t) => {
  const err = new StateMapFullError('already mapped', { dir })
  t.equal(stateErrorFrom(err, { dir, action: 'commit' }), err)
})

t.test('state errors survive serialization as their own class', async (t) => {
  const err = stateErrorFrom(lmdbError(MDB.MAP_FULL, 'full'), { dir, action: 'commit', operator: 'a/b' })
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))))
  t.ok(back instanceof StateMapFullError)
  t.ok(back instanceof StateError)
  t.equal((back as StateMapFullError).code, 'DORA_STATE_MAP_FULL')
  t.equal(back.message, err.message)
  t.equal((back as StateMapFullError).hint, err.hint)
  t.same([(back as StateMapFullError).dir, (back as StateMapFullError).operator], [dir, 'a/b'], 'dir and operator cross as context')
})

t.test('StateError matches every DORA_STATE_ code and nothing else', async (t) => {
  t.equal(new Set(STATE_ERROR_CODES).size, STATE_ERROR_CODES.length)
  for (const code of STATE_ERROR_CODES) t.ok(new DoraError(code, 'x') instanceof StateError, code)
  t.notOk(new DoraError('DORA_SPEC_INVALID_ID', 'x') instanceof StateError)
  for (const code of ['DORA_STATE_NOT_FOUND', 'DORA_STATE_BAD_NAME', 'DORA_STATE_UNKNOWN_OPERATOR', 'DORA_STATE_SNAPSHOT_NOT_FOUND'] as const) {
    t.notOk(new DoraError(code, 'x') instanceof StateError, `${code} is the state command's, not a store failure`)
  }
  t.notOk(new Error('plain') instanceof StateError)
})
