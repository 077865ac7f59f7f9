/**
 * Removing a file that may already be gone, where that is fine: a segment another sweep took,
 * a staged payload never made, an owner file another run's sweep removed. One helper for the
 * stores, the transport and the node SDK, instead of a try/unlinkSync/catch at each place.
 *
 * @module
 */
import { unlinkSync } from 'node:fs'

/** Remove `path`; true when this call removed it, false when it was gone (or could not be removed). */
export function unlinkQuietly(path: string): boolean {
  try {
    unlinkSync(path)
    return true
  } catch {
    return false
  }
}
