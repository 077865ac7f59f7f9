/**
 * An operator whose module never finishes loading (a top level waiting on a device that never
 * answers) held `dora-ts run` silent until Ctrl-C, then for the whole grace period, and the run
 * never settled (the CLI exited with Node's code 13 for an unsettled await, without a report).
 * Now the run says so after the load warning (10 s by default), a Stop ends it at once with
 * that reason, and one that only loads slowly runs on. Real worker threads, blocked for real.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { parseDataflow } from '../../src/spec/load.js'
import { DataflowRun } from '../../runtime/supervisor/dataflow-run.js'
import type { LogEntry } from '../../runtime/supervisor/unit.js'
import { shortRuntimeDir } from '../e2e/fixtures/cli.js'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'

const LOADER = fixture('slow-operator.mjs')

/**
 * A run of the fixture as operator `id` with `env`, on a 50 ms timer, warned about after 300 ms;
 * its start is not awaited here: start() waits for the load.
 */
function runOf(t: Test, id: string, env: Record<string, string>): { run: DataflowRun; logs: LogEntry[]; started: Promise<void> } {
  const yaml = `nodes:
  - id: ${id}
    env: ${JSON.stringify(env)}
    operator:
      javascript: ${LOADER}
      inputs:
        tick: dora/timer/millis/50
`
  const dir = t.testdir({})
  const file = join(dir, 'dataflow.yml')
  writeFileSync(file, yaml)
  const logs: LogEntry[] = []
  const run = new DataflowRun(parseDataflow(yaml, file), {
    graceMs: 60_000,
    runtimeDir: shortRuntimeDir(t),
    operatorWarningMs: 300,
    log: (entry) => logs.push(entry),
  })
  t.teardown(async () => {
    run.stop()
    run.stop()
    await run.done
  })
  return { run, logs, started: run.start() }
}

const dump = (logs: LogEntry[]): string => logs.map((l) => `[${l.source}] ${l.text}`).join('\n')

t.test('an operator stuck loading is named after the load warning, and a Stop ends it at once', async (t) => {
  const { run, logs, started } = runOf(t, 'stuck', { MODE: 'forever' })
  await waitFor(() => logs.some((l) => l.text.includes('stuck has not finished loading 0.3 s after its worker started')), {
    what: 'the load warning',
    detail: () => dump(logs),
  })
  const warning = logs.find((l) => l.text.includes('has not finished loading'))!
  t.equal(warning.level, 'warn')
  t.match(warning.text, /`health_check_timeout:` on operator "stuck"/, 'names what to set')
  // Its grace period is a minute: the run ends long before, without its second step.
  run.stop()
  await started
  const result = await run.done
  t.equal(result.reason, 'stopped', 'the run stopped; it did not fail to start')
  t.match(
    result.units.find((u) => u.unit === 'stuck')?.error,
    /^had not finished loading when the dataflow stopped, 0\.3 s or more after its worker started \(its module's top level, restoreState\(\) or init\(\) had not returned\), so it was terminated at once/,
    dump(logs),
  )
})

t.test('an operator that only loads slowly gets the warning, then runs', async (t) => {
  const { run, logs, started } = runOf(t, 'slow', { LOAD_MS: '1500' })
  await started
  t.ok(
    logs.some((l) => l.text.includes('slow has not finished loading 0.3 s')),
    dump(logs),
  )
  await waitFor(() => logs.some((l) => l.source === 'slow' && l.text === 'event 3'), { what: 'its third input handled', detail: () => dump(logs) })
  run.stop()
  const result = await run.done
  t.ok(result.ok, dump(logs))
})

t.test('a handler that runs past the warning time is named while it runs, and again when it returns', async (t) => {
  const { run, logs, started } = runOf(t, 'busy', { HANG_AT: '2', HANDLER_MS: '1500' })
  await started
  // The line that it returned comes at the watch's next look, after the event itself.
  await waitFor(() => logs.some((l) => l.text.startsWith('busy is through that event')), { what: 'the line that it returned', detail: () => dump(logs) })
  // Its load may be named too on a loaded machine (over 300 ms), and another event may run
  // 300 ms: what must hold is a warning while the 1.5 s handler ran, and the line after it.
  const handling = logs.filter((l) => l.source === 'dora-ts' && /^busy (has been handling|is through)/.test(l.text))
  const warnings = handling.filter((l) => l.level === 'warn')
  t.ok(warnings.length >= 1, handling.map((l) => l.text).join('\n'))
  t.match(
    warnings[0]?.text,
    /^busy has been handling one event for \d+\.\d s: a handler has not returned .* `timeout:` on operator "busy" makes a handler that long count as a crash/,
  )
  t.ok(
    handling.some((l) => l.level === 'info' && /^busy is through that event, about \d+\.\d s after it began$/.test(l.text)),
    handling.map((l) => l.text).join('\n'),
  )
  // Said while it ran: before the event it was on was logged as handled.
  const handledAt = logs.findIndex((l) => l.source === 'busy' && l.text === 'event 2')
  t.ok(
    logs.some((l, i) => i < handledAt && l.text.startsWith('busy has been handling')),
    'the warning came while the handler ran',
  )
  run.stop()
  t.ok((await run.done).ok, dump(logs))
})
