/** The unit helpers: the stderr tail kept for failure reports, and line splitting of child output. */
import t from 'tap'
import { PassThrough } from 'node:stream'
import { forEachLine, LineTail, MAX_LOG_LINE_CHARS } from '../../../runtime/supervisor/unit.js'

t.test('LineTail keeps the last lines, in order, as a copy', async (t) => {
  const tail = new LineTail(3)
  t.same(tail.lines, [])
  for (const line of ['a', 'b', 'c', 'd', 'e']) tail.push(line)
  t.same(tail.lines, ['c', 'd', 'e'])
  tail.lines.push('not mine')
  t.same(tail.lines, ['c', 'd', 'e'], 'callers cannot change it')
  const defaults = new LineTail()
  for (let i = 0; i < 25; i++) defaults.push(String(i))
  t.equal(defaults.lines.length, 20, 'twenty lines by default')
  t.equal(defaults.lines[0], '5')
})

/** Feed chunks to forEachLine; the lines it reported once the stream ended. */
async function split(chunks: Array<string | Buffer>): Promise<string[]> {
  const stream = new PassThrough()
  const lines: string[] = []
  forEachLine(stream, (line) => lines.push(line))
  const ended = new Promise((resolve) => stream.once('end', resolve))
  for (const chunk of chunks) stream.write(chunk)
  stream.end()
  await ended
  return lines
}

t.test('forEachLine joins lines split across chunks and splits chunks holding several', async (t) => {
  t.same(await split(['one\ntw', 'o\nthr', 'ee\n']), ['one', 'two', 'three'])
  t.same(await split(['a\nb\nc\n']), ['a', 'b', 'c'])
  t.same(await split(['\n\n']), ['', ''], 'empty lines are lines')
})

t.test('forEachLine strips CRLF endings and reports a last line without a newline at the end', async (t) => {
  t.same(await split(['dos\r\nline\r\n']), ['dos', 'line'])
  t.same(await split(['done\nno newline']), ['done', 'no newline'])
  t.same(await split([]), [], 'nothing for an empty stream')
})

t.test('forEachLine does not break a multi-byte character split across chunks', async (t) => {
  const bytes = Buffer.from('température ✓\n')
  const cut = bytes.indexOf(0xe2) + 1 // inside the three bytes of ✓
  t.same(await split([bytes.subarray(0, cut), bytes.subarray(cut)]), ['température ✓'])
})

t.test('forEachLine hands over a line longer than the limit cut, once, and drops the rest of it', async (t) => {
  const chunk = 'x'.repeat(16 * 1024)
  // 40 MiB without a newline, then two ordinary lines: the line is cut as soon as it is too
  // long (bounded memory), and what follows it is split as ever.
  const lines = await split([...Array.from({ length: 2560 }, () => chunk), '\nnext\r\nlast'])
  t.equal(lines.length, 3, 'the cut line, then the next ones')
  const marker = ` [line cut at ${MAX_LOG_LINE_CHARS / 1024} KiB: the rest of it is not logged]`
  t.equal(lines[0], 'x'.repeat(MAX_LOG_LINE_CHARS) + marker)
  t.same(lines.slice(1), ['next', 'last'])
  t.same(await split(['y'.repeat(MAX_LOG_LINE_CHARS) + '\n']), ['y'.repeat(MAX_LOG_LINE_CHARS)], 'a line of exactly the limit is whole')
  t.same(await split(['z'.repeat(MAX_LOG_LINE_CHARS + 1)]), ['z'.repeat(MAX_LOG_LINE_CHARS) + marker], 'cut at the end of the stream too')
})
