/** Process stamps: telling the process that wrote a pid file from another that got its pid later. */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { isSameProcess, processStamp } from '../../src/transport/process-stamp.js'

const linux = process.platform === 'linux'

t.test('a live process has a stable stamp: boot id and start time', { skip: !linux && 'needs /proc' }, async (t) => {
  const stamp = processStamp(process.pid)
  t.match(stamp, /^[0-9a-f-]{36}:\d+$/)
  t.equal(processStamp(process.pid), stamp, 'the same on every read')
})

t.test('another process has another stamp; a finished one has none', { skip: !linux && 'needs /proc' }, async (t) => {
  // A command name with spaces and a parenthesis must not shift the fields read after it.
  const child = spawn(process.execPath, ['-e', 'process.title = "odd (name) x"; setInterval(() => {}, 1000); console.log("ready")'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  await new Promise((resolve) => child.stdout.once('data', resolve))
  const stamp = processStamp(child.pid!)
  t.match(stamp, /^[0-9a-f-]{36}:\d+$/)
  t.not(stamp, processStamp(process.pid))
  t.equal(stamp!.split(':')[0], processStamp(process.pid)!.split(':')[0], 'same boot')
  t.ok(Number(stamp!.split(':')[1]) >= Number(processStamp(process.pid)!.split(':')[1]), 'started after this process')
  t.equal(processStamp(spawnSync(process.execPath, ['-e', '0']).pid!), undefined)
})

t.test('isSameProcess: alive and the same stamp, or no stamp to compare', async (t) => {
  const stamp = processStamp(process.pid)
  t.ok(isSameProcess(process.pid, stamp))
  t.ok(isSameProcess(process.pid, undefined), 'a file without a stamp trusts the pid')
  t.ok(isSameProcess(process.pid, ''), 'an empty stamp too')
  if (linux) t.notOk(isSameProcess(process.pid, `${stamp!.split(':')[0]}:1`), 'the pid reused by another process is not the owner')
  t.notOk(isSameProcess(spawnSync(process.execPath, ['-e', '0']).pid!, stamp), 'a finished process is not')
})
