/**
 * Names that become part of a path (a dataflow's name names its state and log folders; node
 * ids, KVS namespaces and snapshot ids name files and databases) must be identifiers: letters,
 * digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128 characters. That rules
 * out `/`, `..`, control characters and anything a shell or terminal would interpret.
 *
 * @module
 */
import { escapeForTerminal } from './escape.js'
import { InvalidNameError } from './errors.js'

export const MAX_NAME_LENGTH = 128
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/

/** Why `name` is not an identifier, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`
  if (name.startsWith('.') || name.startsWith('-')) return 'must not start with "." or "-"'
  if (!NAME_RE.test(name)) return 'may only contain letters, digits, "_", "." and "-" (it names folders on disk)'
  return undefined
}

/** `name` shown in a message: escaped and cut, so a hostile name cannot flood or drive the terminal. */
export function showName(name: string): string {
  const shown = escapeForTerminal(name, { keepNewlines: false })
  return `"${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}"`
}

/**
 * Throw {@link InvalidNameError} unless `name` is an identifier; `what` names it in the message
 * ("the dataflow name", "--name").
 *
 * @example
 * checkName(args.name, { what: '--name' })
 */
export function checkName(name: string, options: { what: string; hint?: string }): string {
  const why = nameProblem(name)
  if (why === undefined) return name
  throw new InvalidNameError(`${options.what} ${showName(name)} ${why}`, {
    hint: options.hint ?? 'Use a name such as robot-arm_2 (letters, digits, "_", "." and "-").',
  })
}

/**
 * An identifier made from `text` (a file name the dataflow is named after when its YAML has no
 * `name:`): characters outside the identifier set become `-`, leading `.`/`-` are dropped.
 *
 * @example
 * nameFrom('my flow') // 'my-flow'
 */
export function nameFrom(text: string): string {
  const name = text
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, MAX_NAME_LENGTH)
  return name === '' ? 'dataflow' : name
}
