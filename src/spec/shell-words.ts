/**
 * Splitting dora's one-string `args:` into words the way a POSIX shell does, without any
 * expansion: whitespace separates words, single quotes are literal, double quotes allow
 * `\"`, `\\`, `\$` and `` \` `` escapes, and a backslash outside quotes escapes the next char.
 *
 * @module
 */

export type ShellWordsResult = { ok: true; words: string[] } | { ok: false; message: string }

/**
 * @example
 * splitShellWords(`--name "my robot" -v`) // { ok: true, words: ['--name', 'my robot', '-v'] }
 */
export function splitShellWords(text: string): ShellWordsResult {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  while (i < text.length) {
    const ch = text[i] as string
    if (/\s/.test(ch)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
    } else if (ch === "'") {
      const end = text.indexOf("'", i + 1)
      if (end === -1) return { ok: false, message: 'unterminated single quote' }
      word += text.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (ch === '"') {
      i++
      let closed = false
      while (i < text.length) {
        const c = text[i] as string
        if (c === '"') {
          closed = true
          i++
          break
        }
        if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) {
          word += text[i + 1]
          i += 2
        } else {
          word += c
          i++
        }
      }
      if (!closed) return { ok: false, message: 'unterminated double quote' }
      inWord = true
    } else if (ch === '\\') {
      if (i + 1 >= text.length) return { ok: false, message: 'trailing backslash' }
      word += text[i + 1]
      inWord = true
      i += 2
    } else {
      word += ch
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return { ok: true, words }
}
