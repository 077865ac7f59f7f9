import t from 'tap'
import { splitShellWords } from '../../src/spec/shell-words.js'

const words = (s: string): string[] | string => {
  const r = splitShellWords(s)
  return r.ok ? r.words : r.message
}

t.test('splits on whitespace like a shell', async (t) => {
  t.same(words('--rate 10'), ['--rate', '10'])
  t.same(words('  a \t b\n c  '), ['a', 'b', 'c'])
  t.same(words(''), [])
  t.same(words('   '), [])
})

t.test('quotes group words; single quotes are literal', async (t) => {
  t.same(words(`--name "my robot" -v`), ['--name', 'my robot', '-v'])
  t.same(words(`'a "b" \\c'`), ['a "b" \\c'])
  t.same(words(`a"b c"d`), ['ab cd'])
  t.same(words(`""`), [''], 'an empty quoted word is kept')
  t.same(words(`"say \\"hi\\" \\\\ \\$HOME \\x"`), ['say "hi" \\ $HOME \\x'])
})

t.test('a backslash escapes the next character outside quotes', async (t) => {
  t.same(words('a\\ b c'), ['a b', 'c'])
})

t.test('unterminated quotes and a trailing backslash are errors', async (t) => {
  t.equal(words(`"abc`), 'unterminated double quote')
  t.equal(words(`'abc`), 'unterminated single quote')
  t.equal(words('abc\\'), 'trailing backslash')
})
