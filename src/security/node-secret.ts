/**
 * The per-spawn secret of a custom node (`DORA_TS_NODE_SECRET`): made when the supervisor
 * spawns the process, handed over in its environment only, and compared in constant time at
 * registration. A process that did not get it from the supervisor cannot register as the node.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'

/** A fresh secret: 32 random bytes as hex. */
export function newNodeSecret(): string {
  return randomBytes(32).toString('hex')
}

/** True when `presented` is `expected`, in time independent of where they differ. An empty expectation matches nothing. */
export function nodeSecretMatches(expected: string, presented: string | undefined): boolean {
  if (expected === '' || presented === undefined) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(presented)
  return a.length === b.length && timingSafeEqual(a, b)
}
