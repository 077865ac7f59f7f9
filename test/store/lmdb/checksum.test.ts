/**
 * The seal on stored values (src/store/lmdb/checksum.ts): the CRC-32 itself, the JS table that
 * stands in for zlib.crc32 before Node 20.15, and what seal/open do with damaged bytes.
 */
import t from 'tap'
import { crc32, RAW_VALUES, SealMismatchError, SEALED_VALUES, tableCrc32 } from '../../../src/store/lmdb/checksum.js'

t.test('CRC-32 (IEEE): the check value, chaining, empty data, and the JS table agree with zlib', async (t) => {
  t.equal(crc32('123456789'), 0xcbf43926, 'the standard check value')
  t.equal(tableCrc32('123456789'), 0xcbf43926)
  const key = Buffer.from('robot/pose')
  const value = Buffer.from([...Array(1000).keys()].map((i) => (i * 7) & 0xff))
  t.equal(crc32(value, crc32(key)), crc32(Buffer.concat([key, value])), 'continuing from a sum is the sum of both')
  t.equal(tableCrc32(value, tableCrc32(key)), crc32(value, crc32(key)))
  // A view of a zero-length ArrayBuffer: Node 20's zlib.crc32 answers 0 for it.
  t.equal(crc32(Buffer.from(new Uint8Array(0).buffer, 0, 0), 1234), 1234, 'empty data adds nothing')
  t.equal(tableCrc32(new Uint8Array(0), 1234), 1234)
})

t.test('a sealed value opens to its bytes; one byte changed, or another key, fails', async (t) => {
  const stored = SEALED_VALUES.seal('pose', Buffer.from('x=1'))
  t.equal(stored.length, 3 + 4)
  t.equal(stored.buffer.byteLength, 3 + 4, 'in an ArrayBuffer of its own (a worker posts it)')
  t.same(SEALED_VALUES.open('pose', stored, 'pose'), Buffer.from('x=1'))
  t.same(SEALED_VALUES.sealTransient('pose', Buffer.from('x=1')), stored, 'the scratch form stores the same bytes')
  for (let i = 0; i < stored.length; i++) {
    const damaged = Buffer.from(stored)
    damaged[i] = (damaged[i] as number) ^ 0x10
    t.throws(() => SEALED_VALUES.open('pose', damaged, 'key "pose"'), SealMismatchError, `byte ${i} changed`)
  }
  t.throws(() => SEALED_VALUES.open('speed', stored, 'key "speed"'), SealMismatchError, 'the same bytes under another key')
  t.throws(() => SEALED_VALUES.open('pose', Buffer.from([1, 2]), 'key "pose"'), SealMismatchError, 'shorter than a seal')
  t.same(RAW_VALUES.open('pose', Buffer.from('x=1'), 'pose'), Buffer.from('x=1'), 'a raw store reads bytes as they are')
  const big = Buffer.alloc(2 * 1024 * 1024, 3)
  t.same(SEALED_VALUES.open('big', SEALED_VALUES.sealTransient('big', big), 'big'), big, 'a value over the scratch size')
})
