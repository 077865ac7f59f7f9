// Fuzzing the decoders: random frames, and bit flips, word overwrites and truncations of valid
// ones. Each decode must return a well-formed message or throw ProtocolError: never another
// error, never a hang (every loop is bounded, each decode is timed). The PRNG is seeded, so a
// failure names the seed and case that reproduce it.

import t from 'tap'
import { decodeNodeToSupervisor, decodeSupervisorToNode, encodeNodeToSupervisor, encodeSupervisorToNode } from '../../src/protocol/node/codec.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import { prng, withDoubleFarRoot, withFarRoot } from './fixtures/frames.js'
import { nodeToSupervisorSamples, supervisorToNodeSamples } from './fixtures/messages.js'
import { nodeToSupervisorProblem, supervisorToNodeProblem } from './fixtures/shape.js'

const SEED = 0x5eed_d0a4
/**
 * Slowest single decode we accept, in CPU time; real decodes of these frames take
 * microseconds. CPU, not wall time: a decode the scheduler left waiting for a core is not a
 * slow decode (one took 316 ms of wall time at load 52 on the 2-core machine and failed).
 */
const MAX_DECODE_MS = 250

/** CPU time of this process so far, in ms (the decodes run synchronously on its one thread). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

const seeds: Uint8Array[] = [
  ...nodeToSupervisorSamples.map(([, m]) => encodeNodeToSupervisor(m)),
  ...supervisorToNodeSamples.map(([, m]) => encodeSupervisorToNode(m)),
]
seeds.push(...seeds.slice(0, 6).flatMap((f) => [withFarRoot(f), withDoubleFarRoot(f)]))

interface Tally {
  decoded: number
  rejected: number
  slowest: number
  failures: string[]
}

/** Decode `bytes` both ways; record anything that is neither a valid message nor a ProtocolError. */
function check(bytes: Uint8Array, label: string, tally: Tally): void {
  for (const [dir, decode, problem] of [
    ['n2s', decodeNodeToSupervisor, nodeToSupervisorProblem],
    ['s2n', decodeSupervisorToNode, supervisorToNodeProblem],
  ] as const) {
    const start = cpuMs()
    try {
      const msg = decode(bytes)
      const p = problem(msg)
      if (p === undefined) tally.decoded++
      else tally.failures.push(`${label} ${dir}: decoded an invalid message (${p})`)
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'DORA_PROTOCOL_DECODE') tally.rejected++
      else tally.failures.push(`${label} ${dir}: threw ${String(err)}`)
    }
    const ms = cpuMs() - start
    tally.slowest = Math.max(tally.slowest, ms)
    if (ms > MAX_DECODE_MS) tally.failures.push(`${label} ${dir}: took ${ms.toFixed(1)} ms`)
  }
}

interface Asserts {
  strictSame(found: unknown, wanted: unknown, message: string): boolean
  ok(value: unknown, message: string): boolean
}

function report(t: Asserts, tally: Tally, what: string): void {
  t.strictSame(tally.failures.slice(0, 20), [], `${what}: ${tally.decoded} decoded, ${tally.rejected} rejected, slowest ${tally.slowest.toFixed(2)} ms`)
  t.ok(tally.rejected > 0, 'some inputs were rejected')
}

const newTally = (): Tally => ({ decoded: 0, rejected: 0, slowest: 0, failures: [] })

/** A random pointer-shaped word: plausible kinds and small offsets reach deeper code paths. */
function randomPointer(rand: () => number): [number, number] {
  const kind = Math.floor(rand() * 4)
  const offset = Math.floor(rand() * 16) - 4
  switch (kind) {
    case 0:
      return [(offset << 2) | 0, Math.floor(rand() * 4) | (Math.floor(rand() * 8) << 16)]
    case 1:
      return [(offset << 2) | 1, Math.floor(rand() * 8) | (Math.floor(rand() * 40) << 3)]
    case 2:
      return [(Math.floor(rand() * 8) << 3) | (rand() < 0.5 ? 4 : 0) | 2, Math.floor(rand() * 3)]
    default:
      return [(rand() * 2 ** 32) >>> 0, (rand() * 2 ** 32) >>> 0]
  }
}

t.test('random frames: each decodes to a valid message or throws ProtocolError', async (t) => {
  const rand = prng(SEED)
  const tally = newTally()
  for (let i = 0; i < 4000; i++) {
    const words = Math.floor(rand() * 48)
    const bytes = new Uint8Array(words * 8 + (rand() < 0.1 ? Math.floor(rand() * 8) : 0))
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256)
    const view = new DataView(bytes.buffer)
    if (bytes.length >= 8 && rand() < 0.7) {
      // A consistent one-segment table, so decoding gets past the framing.
      view.setUint32(0, 0, true)
      view.setUint32(4, words - 1, true)
      for (let w = 1; w < words; w++) {
        if (rand() < 0.5) {
          const [lo, hi] = randomPointer(rand)
          view.setUint32(w * 8, lo >>> 0, true)
          view.setUint32(w * 8 + 4, hi >>> 0, true)
          // eslint-disable-next-line no-dupe-else-if -- rand() draws a new number: half of the other half
        } else if (rand() < 0.5) {
          view.setBigUint64(w * 8, 0n, true)
        }
      }
    }
    check(bytes, `seed ${SEED} random #${i}`, tally)
  }
  report(t, tally, 'random frames')
})

t.test('mutated valid frames: bit flips, overwritten words, truncations, segment-table edits', async (t) => {
  const rand = prng(SEED + 1)
  const tally = newTally()
  let n = 0
  for (const [s, valid] of seeds.entries()) {
    check(valid, `seed frame ${s}`, tally)
    for (let i = 0; i < 250; i++, n++) {
      const bytes = valid.slice()
      const view = new DataView(bytes.buffer)
      const words = bytes.length / 8
      const how = i % 5
      let mutated = bytes
      if (how === 0) {
        for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) {
          const bit = Math.floor(rand() * bytes.length * 8)
          bytes[bit >>> 3] = (bytes[bit >>> 3] as number) ^ (1 << (bit & 7))
        }
      } else if (how === 1) {
        const w = 1 + Math.floor(rand() * (words - 1))
        const [lo, hi] = randomPointer(rand)
        view.setUint32(w * 8, lo >>> 0, true)
        view.setUint32(w * 8 + 4, hi >>> 0, true)
      } else if (how === 2) {
        mutated = bytes.subarray(0, Math.floor(rand() * bytes.length))
      } else if (how === 3) {
        // Truncate, then fix the table so the frame looks consistent and the pointers overrun.
        const keep = 2 + Math.floor(rand() * (words - 2))
        mutated = bytes.slice(0, keep * 8)
        if (new DataView(mutated.buffer).getUint32(0, true) === 0) new DataView(mutated.buffer).setUint32(4, keep - 1, true)
      } else {
        view.setUint32(rand() < 0.5 ? 0 : 4, (rand() * 2 ** 32) >>> 0, true)
      }
      check(mutated, `seed ${SEED + 1} frame ${s} mutation ${i}`, tally)
    }
  }
  report(t, tally, `${n} mutations of ${seeds.length} frames`)
  t.ok(tally.decoded > seeds.length, 'some mutations still decode')
})
