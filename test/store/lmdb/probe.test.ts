import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { inspectDataFile } from '../../../src/store/lmdb/preflight.js'
import { PROBE_FLOOR_MS, PROBE_HANG_ENV, PROBE_MS_PER_MIB, probeBoundMs, probeStore } from '../../../src/store/lmdb/probe.js'
import { StateStore } from '../../../src/store/state/store.js'
import { ROOT } from '../../fixtures/paths.js'
import { waitFor } from '../../fixtures/wait-for.js'

/** A closed store of a few pages. */
function makeStore(dir: string): void {
  const store = StateStore.open({ dir, durability: 'process' })
  const writes = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(500).fill(i) }))
  store.operator('n/o').commit(writes, { lastEvent: 1n, seen: new Map() })
  store.close()
}

/** The pid a hanging probe wrote to `file`, once it is there (written aside, then renamed). */
function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8'))
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** /proc/<pid>/stat's state and parent pid, or undefined once the process is gone (Linux). */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state, ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/** True once `pid` has exited. A zombie counts: its reaper (tap, a container's init) may be slow. */
function gone(pid: number): boolean {
  if (process.platform === 'linux') {
    const stat = procStat(pid)
    return stat === undefined || stat.state === 'Z' || stat.state === 'X'
  }
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** `text` as a literal inside a RegExp (tap's test directories hold dots and dashes). */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

t.test('the bound on the probe scales with the store: a floor, plus a rate per MiB', async (t) => {
  t.equal(probeBoundMs(0), PROBE_FLOOR_MS)
  t.equal(probeBoundMs(4 * 0x100000), PROBE_FLOOR_MS + 4 * PROBE_MS_PER_MIB)
  t.equal(probeBoundMs(20 * 1024 * 0x100000), PROBE_FLOOR_MS + 20 * 1024 * PROBE_MS_PER_MIB)
  t.ok(probeBoundMs(4 * 0x100000) < 120_000, 'a small store is no longer given the old fixed 120 s')
})

t.test('a healthy store passes the probe, which exits without waiting for its parent', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  // The lifeline worker keeps nothing alive: were it ref'd, this would run into the bound.
  t.doesNotThrow(() => probeStore(dir, inspectDataFile(dir)))
})

t.test('regression (issue 12): a probe that hangs is reported as a damaged store naming the file, not as a timeout', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  const saved = process.env[PROBE_HANG_ENV]
  process.env[PROBE_HANG_ENV] = join(dir, 'probe.pid')
  t.teardown(() => {
    if (saved === undefined) delete process.env[PROBE_HANG_ENV]
    else process.env[PROBE_HANG_ENV] = saved
  })
  // Whether the probe reached its hang or was still starting on a loaded machine, it is past
  // its bound either way: the outcome does not depend on timing.
  t.throws(() => probeStore(dir, inspectDataFile(dir), { boundMs: 1500 }), {
    code: 'DORA_STATE_CORRUPT',
    message: new RegExp(
      `^cannot open the state store in ${escape(dir)}: reading ${escape(join(dir, 'data.mdb'))} \\(\\d+ bytes\\) in a probe process did not finish within 1\\.5 s, so LMDB hung on it`,
    ),
    hint: /^restore a snapshot/,
  })
  const pid = readPid(join(dir, 'probe.pid'))
  if (pid !== undefined) t.ok(gone(pid), 'the hung probe was killed')
})

t.test('regression (issue 12): a probe whose parent is SIGKILLed dies too, even with its main thread blocked', async (t) => {
  const dir = t.testdir()
  makeStore(dir)
  const pidFile = join(dir, 'probe.pid')
  const probeUrl = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'lmdb', 'probe.js')).href
  const preflightUrl = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'lmdb', 'preflight.js')).href
  // A bound far past this test's wait: only the lifeline can end the probe.
  const source = `
    import { probeStore } from ${JSON.stringify(probeUrl)}
    import { inspectDataFile } from ${JSON.stringify(preflightUrl)}
    const dir = ${JSON.stringify(dir)}
    probeStore(dir, inspectDataFile(dir), { boundMs: 3_600_000 })
  `
  const parent = spawn(process.execPath, ['--input-type=module', '-e', source], {
    env: { ...process.env, [PROBE_HANG_ENV]: pidFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  parent.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = once(parent, 'exit')
  t.teardown(() => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL')
  })

  const probe = await waitFor(() => readPid(pidFile), { what: 'the hanging probe to write its pid', detail: () => stderr })
  t.teardown(() => {
    if (!gone(probe)) process.kill(probe, 'SIGKILL')
  })
  if (process.platform === 'linux') t.equal(procStat(probe)?.ppid, parent.pid, 'the pid is the parent’s probe child')
  t.notOk(gone(probe), 'the probe hangs')
  const killedAt = performance.now()
  parent.kill('SIGKILL')
  t.same((await exited).slice(1), ['SIGKILL'])
  await waitFor(() => gone(probe), { what: 'the orphaned probe to die', detail: () => JSON.stringify(procStat(probe)) })
  t.comment(`probe gone ${Math.round(performance.now() - killedAt)} ms after its parent's SIGKILL`)
})
