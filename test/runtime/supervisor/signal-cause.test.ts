/** runtime/supervisor/signal-cause.ts: what a node's end by a signal most likely means. */
import t from 'tap'
import { oomKillCount, signalCause } from '../../../runtime/supervisor/signal-cause.js'

t.test('faults of native code are named whoever saw them', async (t) => {
  t.match(signalCause('SIGSEGV', false, 0), /^ \(a segmentation fault: a crash in native code/)
  t.match(signalCause('SIGBUS', false, undefined), /^ \(a bus error/)
  t.match(signalCause('SIGABRT', false, 0), /^ \(aborted: a failed assertion/)
  t.match(signalCause('SIGILL', false, 0), /another CPU/)
})

t.test('a signal dora-ts sent adds nothing: its own reason is the failure', async (t) => {
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGSEGV'] as const) t.equal(signalCause(signal, true, 3), '', signal)
})

t.test('a SIGKILL from outside names the OOM killer when the kernel counted kills meanwhile', async (t) => {
  t.match(signalCause('SIGKILL', false, 1), /most likely the kernel's OOM killer, .*it killed a process while this node ran/)
  t.match(signalCause('SIGKILL', false, 4), /it killed 4 processes while this node ran/)
  t.match(signalCause('SIGKILL', false, 1), /max_memory_mb/)
  t.equal(signalCause('SIGKILL', false, 0), ' (not sent by dora-ts: a `kill -9`, or a watchdog outside it)')
  t.equal(signalCause('SIGKILL', false, undefined), ' (not sent by dora-ts: a `kill -9`, or a watchdog outside it)')
  t.match(signalCause('SIGTERM', false, 0), /KillMode=mixed/)
  t.equal(signalCause('SIGUSR1', false, 0), '')
})

t.test('the kernel’s OOM kill count is read where Linux has it', { skip: process.platform !== 'linux' && 'not Linux' }, async (t) => {
  const count = oomKillCount()
  // Kernels before 4.13 have no oom_kill line: then undefined, never a wrong number.
  t.ok(count === undefined || (Number.isInteger(count) && count >= 0), String(count))
})
