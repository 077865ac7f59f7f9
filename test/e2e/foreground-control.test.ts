/**
 * A dataflow run in the foreground (`dora-ts run`) answers `list`, `top`, `kill` and `restart
 * NAME NODE` from another terminal (runtime/cli/foreground-control.ts), so crash-restart
 * testing works without a supervisor; `stop` and a whole restart say to use its terminal.
 */
import t from 'tap'
import { foregroundRun, TICKING } from './fixtures/daemon-env.js'
import { waitFor } from '../fixtures/wait-for.js'

interface Listed {
  name: string
  foreground?: { pid: number }
  units: Array<{ name: string; status: string; restarts: number; pid?: number; messagesIn: number }>
}

t.test('list, top, kill and restart reach a foreground run; stop says where to stop it', async (t) => {
  const { run, cli } = await foregroundRun(t, TICKING)
  const listed = async (): Promise<Listed> => {
    const list = await cli('list', '--json')
    t.equal(list.code, 0, list.stderr)
    return (JSON.parse(list.stdout) as Listed[])[0]!
  }
  const unit = async (name: string): Promise<Listed['units'][0]> => (await listed()).units.find((u) => u.name === name)!
  const first = await listed()
  t.equal(first.name, 'robot')
  t.equal(first.foreground?.pid, run.child.pid, 'the run named by its pid')
  await waitFor(async () => (await unit('sink')).messagesIn > 2, { what: 'the sink to be fed' })
  const table = await cli('list')
  t.match(table.stdout, /^robot {2}\S+ {2}running {2}up \S+ {2}\S+robot\.yml {2}\(in the foreground, pid \d+\)\n/)

  const sinkPid = (await unit('sink')).pid
  const kill = await cli('kill', 'robot', 'sink')
  t.equal(kill.code, 0, kill.stderr)
  t.match(kill.stderr, new RegExp(`sink \\(pid ${sinkPid}\\) killed`))
  await waitFor(
    async () => {
      const u = await unit('sink')
      return u.restarts === 1 && u.status === 'running' && u.pid !== sinkPid
    },
    { what: 'the sink restarted by its policy' },
  )
  t.equal((await cli('kill', 'robot', 'counter')).code, 0, 'an operator too')
  await waitFor(async () => (await unit('counter')).restarts === 1, { what: 'the counter restarted' })
  const restart = await cli('restart', 'robot', 'sink')
  t.equal(restart.code, 0, restart.stderr)
  await waitFor(async () => (await unit('sink')).restarts === 2, { what: 'the sink restarted on purpose' })
  const top = await cli('top', '-n', '1')
  t.equal(top.code, 0, top.stderr)
  t.match(top.stdout, /robot {2}running/)
  const unknown = await cli('kill', 'robot', 'nope')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /dataflow "robot" has no node or operator "nope"\nIts nodes and operators are: counter, sink\./)

  const stop = await cli('stop', 'robot')
  t.equal(stop.code, 1)
  t.match(
    stop.stderr,
    /^error: dataflow "robot" runs in the foreground \(pid \d+\), and only its terminal can stop it\nPress Ctrl-C where it runs, or kill -INT \d+/,
  )
  const whole = await cli('restart', 'robot')
  t.equal(whole.code, 1)
  t.match(whole.stderr, /only its terminal can restart it/)

  run.child.kill('SIGINT')
  const ended = await run.exited
  t.equal(ended.code, 0, ended.stderr)
  t.match(ended.stdout + ended.stderr, /sink killed on purpose by dora-ts kill \(SIGKILL\)/)
})
