/** The unit helpers: the stderr tail kept for failure reports, and line splitting of child output. */
import t from 'tap'
import { PassThrough } from 'node:stream'
import { forEachLine, LineTail } from '../../../runtime/supervisor/unit.js'

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
