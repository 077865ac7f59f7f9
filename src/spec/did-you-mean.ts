/**
 * "Did you mean" suggestions by edit distance, for unknown keys, nodes and outputs.
 *
 * @module
 */

/**
 * Edit distance between `a` and `b`: insert, delete, substitute, and swapping two adjacent
 * characters each cost 1 (optimal string alignment). The swap matters: `lsit`, `robto` are the
 * commonest typos, and plain Levenshtein counts them as 2, too far for a short word.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1)
      current[j] = d
    }
    before = previous
    previous = current
  }
  return previous[b.length] ?? 0
}

/**
 * The candidate closest to `word`, if it is close enough to be a likely typo: at most a third
 * of the word's length away (at least 1, at most 3), or equal ignoring case, `-` and `_`.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const normal = normalize(word)
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    if (candidate === word) continue
    const distance = normalize(candidate) === normal ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance <= limit && distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/**
 * ` (did you mean "scan"?)` when a candidate is close to `word`, else an empty string.
 *
 * @example
 * `node "lidar" has no output "scann"${didYouMean('scann', ['scan'])}`
 * // node "lidar" has no output "scann" (did you mean "scan"?)
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates)
  return match === undefined ? '' : ` (did you mean "${match}"?)`
}

function normalize(s: string): string {
  return s.toLowerCase().replace(/[-_]/g, '')
}
