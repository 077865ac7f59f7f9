/**
 * What KVS keys, prefixes and namespace names may be: the edges of each rule (byte limits
 * counted in UTF-8, not characters), and the errors and their codes.
 */
import t from 'tap'
import {
  badNamespaceError,
  checkKvsKey,
  checkKvsNamespace,
  checkKvsPrefix,
  kvsKeyProblem,
  MAX_KVS_KEY_BYTES,
  MAX_NAMESPACE_BYTES,
  namespaceProblem,
  UTF8_KEYS,
  writeUtf8,
} from '../../../src/store/kvs/keys.js'
import { KvsBadKeyError, KvsBadNamespaceError, KvsError } from '../../../src/store/kvs/errors.js'

const bytes = (s: string): number => Buffer.byteLength(s)

t.test('a namespace name is a non-empty well-formed string of at most 255 UTF-8 bytes without NUL', async (t) => {
  t.equal(namespaceProblem('robot'), undefined)
  t.equal(namespaceProblem('a/b c.d'), undefined, 'slashes, spaces and dots are fine')
  t.equal(namespaceProblem('x'.repeat(MAX_NAMESPACE_BYTES)), undefined, 'exactly the limit')
  t.match(namespaceProblem('x'.repeat(MAX_NAMESPACE_BYTES + 1)), /256 UTF-8 bytes long, the limit is 255/)
  // 'é' is 2 bytes: 128 of them are 256 bytes although only 128 characters.
  t.match(namespaceProblem('é'.repeat(128)), /256 UTF-8 bytes/, 'counted in bytes, not characters')
  t.equal(namespaceProblem(''), 'a namespace name must not be empty')
  t.match(namespaceProblem('a\0b'), /NUL character/)
  t.match(namespaceProblem('a\uD800'), /not well-formed Unicode/, 'a lone surrogate has no UTF-8 form')
  t.equal(namespaceProblem('😀'), undefined, 'a surrogate pair is fine')
  t.equal(namespaceProblem(undefined), 'a namespace name must be a string, got undefined')
  t.equal(namespaceProblem(null), 'a namespace name must be a string, got null')
  t.equal(namespaceProblem(7), 'a namespace name must be a string, got number')
})

t.test('checkKvsNamespace throws DORA_KVS_BAD_NAMESPACE naming the directory, when known', async (t) => {
  t.doesNotThrow(() => checkKvsNamespace('ok', '/kvs'))
  const err = t.throws(() => checkKvsNamespace('', '/kvs')) as KvsBadNamespaceError
  t.ok(err instanceof KvsBadNamespaceError)
  t.ok(err instanceof KvsError)
  t.equal(err.code, 'DORA_KVS_BAD_NAMESPACE')
  t.equal(err.message, 'bad KVS namespace in /kvs: a namespace name must not be empty')
  t.match(err.hint, /at most 255 UTF-8 bytes/)
  t.equal(badNamespaceError('why', '').message, 'bad KVS namespace: why', 'no directory yet: none named')
})

t.test('a key is a non-empty well-formed string of at most 511 UTF-8 bytes; a prefix may be empty', async (t) => {
  t.equal(MAX_KVS_KEY_BYTES, 511)
  const longest = 'k'.repeat(MAX_KVS_KEY_BYTES)
  t.equal(kvsKeyProblem(longest, bytes(longest)), undefined, 'exactly the limit')
  const tooLong = `${longest}k`
  t.match(kvsKeyProblem(tooLong, bytes(tooLong)), /is 512 UTF-8 bytes long, the limit is 511 \(LMDB's key size limit\)/)
  t.match(kvsKeyProblem(tooLong, bytes(tooLong)), /\.\.\."/, 'the message shows the key cut short')
  const emoji = '😀'.repeat(128) // 4 bytes each: 512 bytes in 256 UTF-16 units
  t.match(kvsKeyProblem(emoji, bytes(emoji)), /512 UTF-8 bytes/, 'counted in bytes, not characters')
  t.equal(kvsKeyProblem('', 0), 'a key must not be empty')
  t.equal(kvsKeyProblem('', 0, 'prefix'), undefined, 'the empty prefix matches every key')
  t.match(kvsKeyProblem('\uDC00x', 4), /not well-formed Unicode \(it has a lone surrogate\)/)
  t.match(kvsKeyProblem('\uDC00x', 4, 'prefix'), /^prefix /)
  t.equal(kvsKeyProblem(Buffer.from('k'), 1), 'a key must be a string, got object', 'bytes are not keys')
  t.equal(kvsKeyProblem(null, 0, 'prefix'), 'a prefix must be a string, got null')
})

t.test('checkKvsKey returns the UTF-8 length, or throws DORA_KVS_BAD_KEY naming the operation', async (t) => {
  const context = { dir: '/kvs', action: 'write', namespace: 'robot' } as const
  t.equal(checkKvsKey('pose', context), 4)
  t.equal(checkKvsKey('é', context), 2)
  const err = t.throws(() => checkKvsKey('', { ...context, key: '' })) as KvsBadKeyError
  t.ok(err instanceof KvsBadKeyError)
  t.equal(err.code, 'DORA_KVS_BAD_KEY')
  t.match(err.message, /^cannot write .*robot.*: a key must not be empty$/)
  t.equal(err.dir, '/kvs')
  t.match(err.hint, /at most 511 UTF-8 bytes/)
  t.throws(() => checkKvsKey(42, context), { code: 'DORA_KVS_BAD_KEY', message: /a key must be a string, got number/ })
})

t.test('checkKvsPrefix takes "" and refuses what no key could start with', async (t) => {
  const context = { dir: '/kvs', action: 'list', namespace: 'robot' } as const
  t.equal(checkKvsPrefix('', context), 0)
  t.equal(checkKvsPrefix('a/', context), 2)
  t.throws(() => checkKvsPrefix(undefined, context), { code: 'DORA_KVS_BAD_KEY', message: /a prefix must be a string, got undefined/ })
  t.throws(() => checkKvsPrefix('p'.repeat(512), context), { code: 'DORA_KVS_BAD_KEY', message: /prefix .* is 512 UTF-8 bytes long/ })
})

t.test('keys are stored as their plain UTF-8 bytes and read back as the same string', async (t) => {
  const target = Buffer.alloc(64)
  const key = 'robot/é😀'
  const end = UTF8_KEYS.writeKey(key, target, 3)
  t.equal(end, 3 + bytes(key))
  t.same(target.subarray(3, end), Buffer.from(key, 'utf8'))
  t.equal(UTF8_KEYS.readKey(target, 3, end), key)
  const raw = UTF8_KEYS.writeKey(Uint8Array.of(0, 1), target, 10)
  t.equal(raw, 12, "lmdb-js's byte-string range bounds are copied as they are")
  t.same([...target.subarray(10, 12)], [0, 1])
  const buf = Buffer.alloc(8)
  t.equal(writeUtf8(buf, 'héllo', 1, 3), 3, 'writeUtf8 writes at most `length` bytes')
  t.equal(buf.subarray(1, 4).toString(), 'hé')
})
