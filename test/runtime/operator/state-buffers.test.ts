/**
 * Buffers of large saved values go round between an operator's worker and its host
 * (state-buffers.ts): the pool's rules on their own, then a real operator saving 64 KiB and
 * 20,000 B values through crashes, whose restored state must be whole after every one.
 */
import t from 'tap'
import { MIN_TRANSFER_BYTES } from '../../../runtime/operator/messages.js'
import { MAX_RECYCLED_BUFFERS, MAX_RECYCLED_BYTES, recyclableBuffers, RecycledBuffers } from '../../../runtime/operator/state-buffers.js'
import { SEAL_BYTES, SEALED_VALUES } from '../../../src/store/lmdb/checksum.js'
import { fixture } from '../../fixtures/nodes.js'
import { dump, startInProcess } from '../../integration/fixtures/in-process.js'

const LENGTH = 64 * 1024

t.test('a value is sealed into a buffer handed back of its length, and only of its length', (t) => {
  const pool = new RecycledBuffers()
  const handedBack = new ArrayBuffer(LENGTH + SEAL_BYTES)
  pool.give([handedBack])
  let freshCalls = 0
  const fresh = (key: string, value: Uint8Array): Buffer => {
    freshCalls++
    return SEALED_VALUES.seal(key, value)
  }
  const other = pool.seal('k', new Uint8Array(LENGTH - 1).fill(1), fresh)
  t.not(other.buffer, handedBack, 'a value of another length gets a buffer of its own')
  const sealed = pool.seal('k', new Uint8Array(LENGTH).fill(7), fresh)
  t.equal(sealed.buffer, handedBack, 'the value of its length is sealed into it')
  t.same(SEALED_VALUES.open('k', sealed, 'k'), Buffer.alloc(LENGTH, 7), 'with its seal: it opens as the value')
  const again = pool.seal('k', new Uint8Array(LENGTH).fill(8), fresh)
  t.not(again.buffer, handedBack, 'a buffer serves one value: the next gets a new one')
  t.equal(freshCalls, 2)
  t.end()
})

t.test('small values never use the pool, and the pool keeps at most its bounds', (t) => {
  const pool = new RecycledBuffers()
  const small = new ArrayBuffer(100 + SEAL_BYTES)
  pool.give([small])
  t.not(pool.seal('k', new Uint8Array(100), SEALED_VALUES.seal).buffer, small, 'a value under MIN_TRANSFER_BYTES is copied by the post, never recycled')

  const many = Array.from({ length: MAX_RECYCLED_BUFFERS + 3 }, () => new ArrayBuffer(LENGTH + SEAL_BYTES))
  const bounded = new RecycledBuffers()
  bounded.give(many)
  const used = new Set<ArrayBufferLike>()
  for (let i = 0; i < many.length; i++) used.add(bounded.seal('k', new Uint8Array(LENGTH), SEALED_VALUES.seal).buffer)
  t.equal(many.filter((b) => used.has(b)).length, MAX_RECYCLED_BUFFERS, `at most ${MAX_RECYCLED_BUFFERS} buffers are kept`)

  const huge = new RecycledBuffers()
  const hugeBuffer = new ArrayBuffer(MAX_RECYCLED_BYTES + 1)
  huge.give([hugeBuffer])
  t.not(huge.seal('k', new Uint8Array(MAX_RECYCLED_BYTES + 1 - SEAL_BYTES), SEALED_VALUES.seal).buffer, hugeBuffer, `nor more than ${MAX_RECYCLED_BYTES} bytes`)
  t.end()
})

t.test('only sealed values that span a transferred buffer of their own go back', (t) => {
  const own = SEALED_VALUES.seal('a', new Uint8Array(LENGTH))
  const shared = new Uint8Array(new ArrayBuffer(2 * LENGTH), LENGTH)
  const buffers = recyclableBuffers([
    { key: 'a', value: own, sealed: true },
    { key: 'b', value: new Uint8Array(LENGTH) },
    { key: 'c', value: shared, sealed: true },
    { key: 'd', value: SEALED_VALUES.seal('d', new Uint8Array(MIN_TRANSFER_BYTES - SEAL_BYTES - 1)), sealed: true },
    { key: 'e', delete: true },
  ])
  t.same(buffers.length, 1)
  t.equal(buffers[0], own.buffer, 'the sealed value with a buffer of its own, and no other')
  t.end()
})

const COUNT = 60
const CRASH_AT = [20, 45]

function flow(numbers: string): string {
  return `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: ${COUNT} }
    outputs: [numbers]
  - id: keeper
    env: { CRASH_AT: "${CRASH_AT.join(',')}" }
    operator:
      javascript: ${fixture('big-state.mjs')}
      inputs:
        ${numbers}
`
}

t.test('an operator saving large values through crashes restores each whole, and the last one after the run', async (t) => {
  const dir = t.testdir({})
  const first = await startInProcess(t, flow('numbers: { source: source/numbers, queue_size: 100 }'), { dir })
  const result = await first.done
  t.ok(result.ok, dump(first.logs))
  const lines = first.lines('keeper')
  t.same(
    lines.filter((l) => l.startsWith('saved')),
    Array.from({ length: COUNT }, (_, i) => `saved ${i + 1}`),
    'every value saved once, in order',
  )
  // The crashed event's writes never committed: each restore holds the value before it.
  t.same(
    lines.filter((l) => l.startsWith('restored') || l.startsWith('BAD')),
    CRASH_AT.map((v) => `restored big=${(v - 1) & 255} mid=${(v - 1) & 255}`),
    'each crash restored the state of the event before it, whole',
  )

  const second = await startInProcess(t, flow('tick: dora/timer/millis/50'), { dir })
  const restored = await second.waitForLine(/^(restored|BAD) /)
  t.equal(restored, `restored big=${COUNT & 255} mid=${COUNT & 255}`, 'a new run restores the last value saved, whole')
})
