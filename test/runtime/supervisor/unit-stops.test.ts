/**
 * UnitStops (`dora-ts stop NAME NODE`): one unit's own stop ladder. The unit is a recorder of
 * what the ladder asks of it (the real units are in test/integration/stop-node.test.ts).
 */
import t from 'tap'
import { UnitStops } from '../../../runtime/supervisor/unit-stops.js'
import type { Unit } from '../../../runtime/supervisor/unit.js'

// The ladder's timers are unref()'d (a run's units keep the process alive): hold it open.
const keepAlive = setInterval(() => {}, 60_000)
t.teardown(() => clearInterval(keepAlive))

function recorder(): { unit: Unit; steps: string[]; next(): Promise<string> } {
  const steps: string[] = []
  const waiters: Array<(s: string) => void> = []
  const push = (s: string): void => {
    steps.push(s)
    waiters.shift()?.(s)
  }
  const unit = {
    key: 'sink',
    terminate: (reason: string) => push(`terminate: ${reason}`),
    kill: (reason: string) => push(`kill: ${reason}`),
  } as unknown as Unit
  return { unit, steps, next: () => new Promise((resolve) => waiters.push(resolve)) }
}

const REPORT = { unit: 'sink', status: 'finished' as const, stderrTail: [] }

t.test('Stop, then after the grace period terminate; the end resolves every waiter', async (t) => {
  const stops = new UnitStops()
  t.teardown(() => stops.clear())
  const { unit, steps, next } = recorder()
  let sent = 0
  const ended = stops.stop(unit, 10, () => sent++)
  t.equal(sent, 1)
  t.equal(await next(), 'terminate: did not stop within the 0.01 s grace period and was terminated')
  stops.ended('sink', REPORT)
  t.same(await ended, REPORT)
  t.same(steps, ['terminate: did not stop within the 0.01 s grace period and was terminated'])
})

t.test('a second request skips the grace period; both requests get the end', async (t) => {
  const stops = new UnitStops()
  t.teardown(() => stops.clear())
  const { unit, steps } = recorder()
  let sent = 0
  const first = stops.stop(unit, 60_000, () => sent++)
  t.same(steps, [], 'within the grace period')
  const second = stops.stop(unit, 60_000, () => sent++)
  t.equal(sent, 1, 'one Stop')
  t.same(steps, ['terminate: was terminated: its stop was asked for again before the grace period ended'])
  stops.ended('sink', REPORT)
  t.same(await Promise.all([first, second]), [REPORT, REPORT])
  // Ended, a unit of the same key stops afresh (a later run of the key's unit would).
  let again = 0
  void stops.stop(unit, 60_000, () => again++)
  t.equal(again, 1)
})
