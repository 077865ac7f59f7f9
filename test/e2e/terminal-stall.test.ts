/**
 * A foreground run whose terminal stops reading goes on (runtime/cli/output.ts, `live`): an
 * SSH session stalled on a robot's Wi-Fi, Ctrl-S, a paused pager. Node writes to a terminal
 * synchronously, so the supervisor's thread, which routes every message, waited on the
 * terminal: by hand, a dataflow stood still for 10.7 s while its terminal did not read.
 *
 * A real pseudo-terminal (util-linux `script`) whose output this test does not read: its pipe
 * fills, `script` stops reading the terminal, and the CLI's writes find it full. A node prints
 * 6 000 lines of ~1 KB; the run's log file must get every one of them while nobody reads the
 * terminal, and once it is read again the terminal says how many lines it missed.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI } from './fixtures/cli.js'
import { haveTool } from '../fixtures/external-tool.js'
import { waitFor } from '../fixtures/wait-for.js'

const LINES = 6000

const CHATTY_NODE = `
import { Node } from 'dora-ts'
const node = await Node.connect()
const text = 'y'.repeat(1000)
let printed = 0
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  for (let i = 0; i < 20 && printed < ${LINES}; i++) console.log(\`line \${++printed} \${text}\`)
  if (printed === ${LINES}) break
}
await node.close()
`

/** The lines the run's log file of `node` holds so far (0 before the file exists). */
function loggedLines(logDir: string, node: string): number {
  const runs = join(logDir, 'stall')
  if (!existsSync(runs)) return 0
  return readdirSync(runs).reduce((sum, run) => {
    const file = join(runs, run, `${node}.log`)
    return (
      sum +
      (existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter((l) => / line \d+ y+$/.test(l)).length
        : 0)
    )
  }, 0)
}

t.test('a terminal that stops reading does not stop the dataflow; it is told what it missed', async (t) => {
  if (!haveTool(t, { commands: ['script'], install: 'apt-get install bsdutils', purpose: 'a run whose terminal stops reading' })) return
  const dir = t.testdir({
    'stall.yml': 'nodes:\n  - id: chatty\n    path: ./chatty.mjs\n    inputs:\n      tick: dora/timer/millis/10\n',
    'chatty.mjs': CHATTY_NODE,
  })
  const logDir = join(dir, 'logs')
  const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} run stall.yml`, '/dev/null'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', DORA_TS_LOG_DIR: logDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  // Nothing reads the terminal's output meanwhile: Node leaves a child's stdout paused until
  // it is read, so the pipe fills within the first ~64 KiB.
  await waitFor(() => loggedLines(logDir, 'chatty') === LINES, { what: `all ${LINES} lines in chatty.log while the terminal is not read`, intervalMs: 200 })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const [code] = (await once(child, 'close')) as [number | null]
  t.equal(code, 0, output.slice(-2000))
  const missed = [...output.matchAll(/dora-ts: (\d+) line\(s\) were not shown here while this output was not read; the run's log files have them/g)]
  t.ok(missed.length > 0, 'the terminal is told it missed lines')
  const shown = output.split('\n').filter((l) => /^\[chatty\] line \d+ y+\r?$/.test(l)).length
  const counted = missed.reduce((sum, m) => sum + Number(m[1]), 0)
  t.equal(
    shown + counted,
    LINES,
    `every line was either shown or counted (${shown} shown, ${counted} counted)\n${output
      .split('\n')
      .filter((l) => !/^\[chatty\] line \d+ y+\r?$/.test(l))
      .map((l) => l.slice(0, 200))
      .join('\n')}`,
  )
  t.match(output, /dataflow finished \(completed\): 1 node ended cleanly/, 'the summary is written')
})
