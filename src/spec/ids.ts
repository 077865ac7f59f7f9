/**
 * The rules for ids in a dataflow: node and operator ids follow dora (`[A-Za-z0-9_.-]+`, no
 * leading `.`, not `dora`); input and output ids only must not contain `/` (it separates the
 * parts of a source) or whitespace.
 *
 * @module
 */

import { DATA_ID_PATTERN, ID_PATTERN } from './keys.js'

const ID_RE = new RegExp(ID_PATTERN)
const DATA_ID_RE = new RegExp(DATA_ID_PATTERN)

/** Why `id` is not a valid node or operator id, or undefined when it is. */
export function nodeIdProblem(id: string): string | undefined {
  if (id === '') return 'is empty'
  if (id === 'dora') return 'is reserved ("dora" names the built-in sources such as dora/timer)'
  if (id.startsWith('.')) return 'must not start with "."'
  if (id.includes('/')) return 'must not contain "/" (it separates node, operator and output in a source)'
  if (!ID_RE.test(id)) return 'may only contain letters, digits, "_", "." and "-"'
  return undefined
}

/** Why `id` is not a valid input or output id, or undefined when it is. */
export function dataIdProblem(id: string): string | undefined {
  if (id === '') return 'is empty'
  if (id.includes('/')) return 'must not contain "/" (it separates node, operator and output in a source)'
  if (!DATA_ID_RE.test(id)) return 'must not contain whitespace'
  return undefined
}
