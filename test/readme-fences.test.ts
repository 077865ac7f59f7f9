/**
 * The README's code fences pair up: a fence closed on the line of the next sentence, or a stray
 * opening one, turns the rest of the file inside out (prose rendered as code and code as prose),
 * which happened twice unnoticed.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './fixtures/paths.js'

t.test('every code fence of the README is closed by a bare fence', async (t) => {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n')
  let open: number | undefined
  const problems: string[] = []
  lines.forEach((line, i) => {
    const fence = /^\s*```(.*)$/.exec(line)
    if (fence === null) return
    if (open === undefined) open = i + 1
    else {
      // A closing fence carries nothing: text after it means it was an opening one.
      if (fence[1]!.trim() !== '') problems.push(`line ${i + 1} closes the fence of line ${open} but reads ${JSON.stringify(line.slice(0, 60))}`)
      open = undefined
    }
  })
  if (open !== undefined) problems.push(`the fence of line ${open} is never closed`)
  t.same(problems, [])
})
