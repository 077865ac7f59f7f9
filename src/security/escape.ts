/**
 * Text from outside (ids in a dataflow file, node names from the network, YAML content) is
 * escaped before it reaches a terminal: control characters would otherwise set the window
 * title, clear the screen, or fake output. Each one is shown as a visible escape (`\x1b`,
 * `\u009b`, `\u202e`), so the user still sees exactly what was there.
 *
 * @module
 */

/** C0 controls, DEL, C1 controls, bidi overrides and isolates, line/paragraph separators. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
// eslint-disable-next-line no-control-regex -- as above, without \n and \t
const UNSAFE_KEEP_NEWLINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** A colour sequence (SGR); captured, so `split` keeps it. */
// eslint-disable-next-line no-control-regex -- matching the escape character is the point
const SGR = /(\x1b\[[0-9;]{0,32}m)/

function escapeChar(c: string): string {
  const code = c.charCodeAt(0)
  if (c === '\n') return '\\n'
  if (c === '\r') return '\\r'
  if (c === '\t') return '\\t'
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `text` with every control character shown as an escape. With `keepNewlines` (the default),
 * `\n` and `\t` pass, for multi-line messages we wrote; ids and one-line fields use `false`.
 *
 * @example
 * escapeForTerminal('evil\x1b]0;PWNED\x07') // 'evil\\x1b]0;PWNED\\x07'
 */
export function escapeForTerminal(text: string, options: { keepNewlines?: boolean; keepColors?: boolean } = {}): string {
  const unsafe = options.keepNewlines === false ? UNSAFE : UNSAFE_KEEP_NEWLINES
  if (options.keepColors !== true) return text.replace(unsafe, escapeChar)
  // Colour sequences (SGR: ESC [ digits ; ... m) only change colours: keep them, escape the rest.
  return text
    .split(SGR)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(unsafe, escapeChar)))
    .join('')
}

/** True when `text` has a character {@link escapeForTerminal} would escape (besides `\n`, `\t`). */
export function hasControlChars(text: string): boolean {
  UNSAFE_KEEP_NEWLINES.lastIndex = 0
  return UNSAFE_KEEP_NEWLINES.test(text)
}
