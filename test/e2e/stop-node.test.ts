/**
 * `dora-ts stop NAME NODE` from the CLI, on the supervisor and on a foreground run: the node
 * ends, the rest runs on, `list` shows it; an ended or unknown node is refused with why.
 */
import t from 'tap'
import { join } from 'node:path'
import { daemonEnv, foregroundRun, TICKING } from './fixtures/daemon-env.js'

interface Listed {
  name: string
  status: string
  units: Array<{ name: string; status: string }>
}

t.test('stop one node of a dataflow on the supervisor; the rest runs on', async (t) => {
  const { cli } = daemonEnv(t)
  const file = join(t.testdir({ 'robot.yml': TICKING }), 'robot.yml')
  t.equal((await cli('up')).code, 0)
  const start = await cli('start', file)
  t.equal(start.code, 0, start.stderr)
  const stop = await cli('stop', 'robot', 'sink')
  t.equal(stop.code, 0, stop.stderr)
  t.match(stop.stderr, /node "sink" of dataflow "robot" stopped; the rest runs on/)
  const list = JSON.parse((await cli('list', '--json')).stdout) as Listed[]
  const robot = list.find((d) => d.name === 'robot')!
  t.equal(robot.status, 'running')
  t.same(
    robot.units.map((u) => [u.name, u.status]),
    [
      ['counter', 'running'],
      ['sink', 'finished'],
    ],
    'the sink ended for good (its restart_policy on-failure does not start it after a Stop)',
  )
  const again = await cli('stop', 'robot', 'sink')
  t.equal(again.code, 1)
  t.match(again.stderr, /^error: sink of dataflow "robot" cannot be stopped: it has ended\n/)
  const unknown = await cli('stop', 'robot', 'sinc')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^error: dataflow "robot" has no node or operator "sinc"\nIts nodes and operators are: counter, sink\./)
  // The last one: the dataflow ends with it.
  const last = await cli('stop', 'robot', 'counter', '--grace', '5s')
  t.equal(last.code, 0, last.stderr)
  const after = JSON.parse((await cli('list', '--json')).stdout) as Listed[]
  t.equal(after.find((d) => d.name === 'robot')?.status, 'finished')
})

t.test('stop one node of a foreground run from another terminal', async (t) => {
  const { run, cli } = await foregroundRun(t, TICKING)
  const stop = await cli('stop', 'robot', 'sink')
  t.equal(stop.code, 0, stop.stderr)
  t.match(stop.stderr, /node "sink" of dataflow "robot" stopped; the rest runs on/)
  // The whole run stays with its terminal.
  const whole = await cli('stop', 'robot')
  t.equal(whole.code, 1)
  t.match(whole.stderr, /only its terminal can stop it/)
  run.child.kill('SIGINT')
  const ended = await run.exited
  t.equal(ended.code, 0, ended.stderr)
})
