/**
 * What a KVS key, key prefix and namespace name may be, and how keys are written to LMDB.
 *
 * Pure checks with no LMDB in sight: an operator worker's client of the KVS thread
 * (remote.ts) checks names here before it posts a request, and `node-sdk/kvs.ts` checks a
 * namespace before anything is opened.
 *
 * @module
 */
import { MAX_KEY_BYTES } from '../state/disk-layout.js'
import { describeKvsAction, previewKey, KvsBadKeyError, KvsBadNamespaceError, type KvsErrorContext } from './errors.js'

/** Longest key in UTF-8 bytes: LMDB's classic MDB_MAXKEYSIZE, as for operator state. */
export const MAX_KVS_KEY_BYTES = MAX_KEY_BYTES
/** Longest namespace name in UTF-8 bytes. */
export const MAX_NAMESPACE_BYTES = 255

// A lone surrogate has no UTF-8 encoding (Node writes U+FFFD), so two keys would collide, and
// byte order and string order would disagree in list().
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** Why `name` cannot name a namespace, or undefined when it can. */
export function namespaceProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a namespace name must be a string, got ${name === null ? 'null' : typeof name}`
  if (name.length === 0) return 'a namespace name must not be empty'
  // LMDB database names are C strings in the tools (and lmdb-js appends a NUL).
  if (name.includes('\0')) return `namespace ${JSON.stringify(name)} contains a NUL character`
  if (LONE_SURROGATE.test(name)) return `namespace ${JSON.stringify(name)} is not well-formed Unicode`
  const bytes = Buffer.byteLength(name)
  if (bytes > MAX_NAMESPACE_BYTES) return `namespace ${previewKey(name)} is ${bytes} UTF-8 bytes long, the limit is ${MAX_NAMESPACE_BYTES}`
  return undefined
}

/** The error for a namespace with `problem` (from {@link namespaceProblem}); `dir` '' when not known yet. */
export function badNamespaceError(problem: string, dir: string): KvsBadNamespaceError {
  return new KvsBadNamespaceError(`bad KVS namespace${dir === '' ? '' : ` in ${dir}`}: ${problem}`, {
    dir,
    hint: `use a non-empty name of at most ${MAX_NAMESPACE_BYTES} UTF-8 bytes without NUL characters`,
  })
}

/** Throw {@link badNamespaceError} unless `name` can name a namespace of the KVS in `dir`. */
export function checkKvsNamespace(name: unknown, dir: string): void {
  const problem = namespaceProblem(name)
  if (problem !== undefined) throw badNamespaceError(problem, dir)
}

/**
 * Why `key` cannot be a KVS key (`bytes` is its UTF-8 length), or undefined when it can.
 * With `what` 'prefix' the empty string is allowed (it matches every key).
 */
export function kvsKeyProblem(key: unknown, bytes: number, what: 'key' | 'prefix' = 'key'): string | undefined {
  if (typeof key !== 'string') return `a ${what} must be a string, got ${key === null ? 'null' : typeof key}`
  if (what === 'key' && key.length === 0) return 'a key must not be empty'
  if (LONE_SURROGATE.test(key)) return `${what} ${previewKey(key)} is not well-formed Unicode (it has a lone surrogate)`
  if (bytes > MAX_KVS_KEY_BYTES) return `${what} ${previewKey(key)} is ${bytes} UTF-8 bytes long, the limit is ${MAX_KVS_KEY_BYTES} (LMDB's key size limit)`
  return undefined
}

/** Check a key for `context` (the operation, namespace and directory the message names); its UTF-8 length. */
export function checkKvsKey(key: unknown, context: KvsErrorContext): number {
  const bytes = typeof key === 'string' ? Buffer.byteLength(key, 'utf8') : undefined
  const problem = kvsKeyProblem(key, bytes ?? 0)
  if (problem !== undefined || bytes === undefined) {
    throw new KvsBadKeyError(`${describeKvsAction({ ...context, key: undefined })}: ${problem ?? 'bad key'}`, {
      dir: context.dir,
      namespace: context.namespace,
      hint: `use non-empty string keys of at most ${MAX_KVS_KEY_BYTES} UTF-8 bytes, e.g. "robot/pose"`,
    })
  }
  return bytes
}

/** Check a key prefix of list() or watch() for `context`; its UTF-8 length. */
export function checkKvsPrefix(prefix: unknown, context: KvsErrorContext): number {
  const bytes = typeof prefix === 'string' ? Buffer.byteLength(prefix, 'utf8') : undefined
  const problem = kvsKeyProblem(prefix, bytes ?? 0, 'prefix')
  if (problem !== undefined || bytes === undefined) {
    throw new KvsBadKeyError(`${describeKvsAction(context)}: ${problem ?? 'bad prefix'}`, {
      dir: context.dir,
      namespace: context.namespace,
      key: context.key,
      hint: 'pass a string prefix ("" for every key)',
    })
  }
  return bytes
}

// Node's own fast UTF-8 paths of Buffer (lmdb-js uses them too); not in @types/node.
const { utf8Write, utf8Slice } = Buffer.prototype as unknown as {
  utf8Write(this: Buffer, text: string, offset: number, length?: number): number
  utf8Slice(this: Buffer, start: number, end: number): string
}

/**
 * Write `text` as UTF-8 into `target` at `offset` (at most `length` bytes) without an
 * intermediate Buffer; the number of bytes written.
 */
export function writeUtf8(target: Buffer, text: string, offset: number, length?: number): number {
  return utf8Write.call(target, text, offset, length)
}

/**
 * The key encoder of a namespace's database: JS strings written straight into lmdb-js's key
 * buffer as UTF-8 (no intermediate Buffer: a third of a read's cost) and read back as
 * strings. On disk they are the plain UTF-8 bytes, so `mdb_dump -p` shows them as they are.
 */
export const UTF8_KEYS = {
  writeKey: (key: string | Uint8Array, target: Buffer, start: number): number => {
    if (typeof key === 'string') return start + utf8Write.call(target, key, start)
    // lmdb-js's own range bounds (an unbounded range starts at a byte string).
    target.set(key, start)
    return start + key.length
  },
  readKey: (target: Buffer, start: number, end: number): string => utf8Slice.call(target, start, end),
}
