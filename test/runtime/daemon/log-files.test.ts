/**
 * Bounded log files: one rotates to `<file>.1` past its limit, so a node's log holds its latest
 * lines in at most two files, and a reader that follows it across rotations gets every line
 * once, in order. Real files; each line is numbered, so a gap or a repeat shows.
 */
import t from 'tap'
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_LOG_MAX_BYTES, logExists, logMaxBytes, readNewLines, ROTATED_SUFFIX, rotateIfFull, RotatingLog } from '../../../runtime/daemon/log-files.js'
import { readRunLogs, RunLogWriter } from '../../../runtime/daemon/run-logs.js'
import { smallTmpfs } from '../../fixtures/small-tmpfs.js'
import { waitFor } from '../../fixtures/wait-for.js'

/** Line n, {@link LINE} bytes. */
const line = (n: number): string => `${String(n).padStart(6, '0')} the lidar saw an obstacle at 2.04 m\n`
const LINE = Buffer.byteLength(line(0))
const numbers = (lines: string[]): number[] => lines.map((l) => Number(l.slice(0, 6)))
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('past its limit a log rotates: two files at most, each within the limit, holding the newest lines in order', async (t) => {
  const path = join(t.testdir({}), 'lidar.log')
  const reports: string[] = []
  const log = new RotatingLog(path, 1000, (text) => reports.push(text))
  for (let n = 1; n <= 100; n++) log.write(line(n))
  await log.end()
  t.same(reports, [])
  for (const file of [path, `${path}${ROTATED_SUFFIX}`]) t.ok(statSync(file).size <= 1000, `${file}: ${statSync(file).size} bytes`)
  const kept = numbers(readNewLines(path, new Map()))
  t.ok(kept.length > 0 && kept.length < 100, `${kept.length} lines kept of 100`)
  t.same(kept, range(101 - kept.length, 100), 'the newest lines, contiguous, the last one included')
  const rotated = numbers(readFileSync(`${path}${ROTATED_SUFFIX}`, 'utf8').split('\n').filter(Boolean))
  t.equal(rotated.at(-1)! + 1, numbers(readFileSync(path, 'utf8').split('\n').filter(Boolean))[0], 'the current file goes on where the rotated one ends')
})

t.test('a log that already exists is appended to, and its size counts toward the limit', async (t) => {
  const path = join(t.testdir({}), 'x.log')
  writeFileSync(path, `${'x'.repeat(979)}\n`)
  const log = new RotatingLog(path, 1000, () => {})
  log.write(line(2))
  await log.end()
  t.equal(numbers(readFileSync(path, 'utf8').split('\n').filter(Boolean)).join(), '2', 'the new line started a new file')
  t.equal(statSync(`${path}${ROTATED_SUFFIX}`).size, 980, 'the old content is the rotated part')
})

t.test('a reader following a log across rotations gets every line once, in order', async (t) => {
  const path = join(t.testdir({}), 'follow.log')
  const log = new RotatingLog(path, 1000, () => {})
  const seen = new Map<string, number>()
  const got: number[] = []
  let written = 0
  // Fewer than a file's worth between two reads (at most one rotation): nothing may be lost.
  // Bursts that end just past a rotation, many times: the new file's first lines racing the old
  // one's last (they once reached the disk first, and were read first).
  for (const burst of Array.from({ length: 4 }, () => [3, 15, 1, 19, 7, 12, 19, 19, 2, 19, 11, 19, 19, 19, 5]).flat()) {
    for (let i = 0; i < burst; i++) log.write(line(++written))
    await waitFor(
      () => {
        got.push(...numbers(readNewLines(path, seen)))
        return got.at(-1) === written
      },
      { what: `line ${written} read`, detail: () => `got ${got.join(',')}` },
    )
  }
  await log.end()
  t.ok(written * LINE > 4 * 1000, 'it rotated several times')
  t.same(got, range(1, written))
  t.same(readNewLines(path, seen), [], 'nothing is read twice')
})

t.test('a file smaller than what was read of it is read from its start; a line being written waits', async (t) => {
  const path = join(t.testdir({}), 'x.log')
  writeFileSync(path, line(1) + line(2))
  const seen = new Map<string, number>()
  t.same(numbers(readNewLines(path, seen)), [1, 2])
  truncateSync(path, 0)
  appendFileSync(path, line(3))
  t.same(numbers(readNewLines(path, seen)), [3], 'the same file, truncated and written again')
  appendFileSync(path, '000004 half a li')
  t.same(readNewLines(path, seen), [], 'an unfinished line is left for later')
  appendFileSync(path, 'ne\n')
  t.same(numbers(readNewLines(path, seen)), [4])
  t.ok(logExists(path))
  t.notOk(logExists(join(t.testdir({}), 'none.log')))
})

t.test('DORA_TS_LOG_MAX_SIZE: a size, 0 for no limit; anything else is said and the default applies', async (t) => {
  const warnings: string[] = []
  const max = (value: string | undefined): number => logMaxBytes(value === undefined ? {} : { DORA_TS_LOG_MAX_SIZE: value }, (w) => warnings.push(w))
  t.equal(max(undefined), DEFAULT_LOG_MAX_BYTES)
  t.equal(max('64KiB'), 65536)
  t.equal(max('1000'), 1000)
  t.equal(max('0'), Infinity)
  t.same(warnings, [])
  t.equal(max('lots'), DEFAULT_LOG_MAX_BYTES)
  t.match(warnings, [/DORA_TS_LOG_MAX_SIZE="lots" is not a size \(e\.g\. 64MiB, or 0 for no limit\); log files rotate at 16 MiB/])
})

t.test("a run's logs rotate per node, and reading them gives each node's newest lines", async (t) => {
  const saved = process.env['DORA_TS_LOG_MAX_SIZE']
  process.env['DORA_TS_LOG_MAX_SIZE'] = '2000'
  t.teardown(() => (saved === undefined ? delete process.env['DORA_TS_LOG_MAX_SIZE'] : (process.env['DORA_TS_LOG_MAX_SIZE'] = saved)))
  const writer = new RunLogWriter(t.testdir({}), 'robot', 'r0000001', ['lidar', 'planner'])
  for (let n = 1; n <= 500; n++) writer.write({ source: 'lidar', stream: 'stdout', level: 'info', text: line(n).trimEnd() })
  writer.write({ source: 'planner', stream: 'stdout', level: 'info', text: 'planned' })
  await writer.finish({ ok: true })
  const lidar = readRunLogs(writer.dir, 'lidar').map((l) => Number(l.text.split(' ')[1]))
  t.ok(lidar.length > 0 && lidar.length < 100, `${lidar.length} lines kept`)
  t.same(lidar, range(501 - lidar.length, 500))
  const all = readRunLogs(writer.dir, undefined)
  t.equal(all.filter((l) => l.source === 'lidar').length, lidar.length, 'the merged view reads the rotated part too')
  t.equal(all.filter((l) => l.source === 'planner').length, 1)
})

t.test('a log on a full disk drops lines, says so once, and is written again once there is room', async (t) => {
  const fs = smallTmpfs(t, '1m')
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const path = join(fs, 'lidar.log')
  const reports: string[] = []
  const log = new RotatingLog(path, DEFAULT_LOG_MAX_BYTES, (text) => reports.push(text))
  log.write(line(1))
  await waitFor(() => statSync(path).size > 0, { what: 'the first line on disk' })
  // Fill what is left (tmpfs counts whole pages: a one-byte file still takes one).
  const ballast = join(fs, 'ballast')
  try {
    writeFileSync(ballast, Buffer.alloc(1024 * 1024, 1))
  } catch {
    // Full, as meant.
  }
  let n = 1
  await waitFor(
    () => {
      log.write(line(++n))
      return reports.length > 0
    },
    { what: 'the failure said', detail: () => reports.join('\n') },
  )
  t.match(reports, [/^log .*lidar\.log: ENOSPC: no space left on device.*; its lines are dropped until it can be written again$/])
  const full = n
  rmSync(ballast)
  await waitFor(
    () => {
      log.write(line(++n))
      return reports.length > 1
    },
    { what: 'the log written again', intervalMs: 50, detail: () => reports.join('\n') },
  )
  await log.end()
  t.equal(reports.length, 2, 'said once at each end of the spell')
  t.match(reports[1], /^log .*lidar\.log is written again; at least \d+ line\(s\) were dropped while it could not be$/)
  const kept = numbers(readNewLines(path, new Map()))
  t.equal(kept[0], 1, 'the line before the disk filled')
  t.equal(kept.at(-1), n, 'the last line, after it had room again')
  t.ok(kept.every((k, i) => i === 0 || k > kept[i - 1]!) && kept.length < n && !kept.includes(full), 'in order, with the lines of the full spell dropped')
})

t.test('a file another process writes (daemon.log) rotates when its next writer opens it, once it is full', async (t) => {
  const dir = t.testdir({ 'small.log': 'x\n', 'full.log': `${'x'.repeat(999)}\n` })
  rotateIfFull(join(dir, 'small.log'), 1000)
  rotateIfFull(join(dir, 'full.log'), 1000)
  rotateIfFull(join(dir, 'none.log'), 1000)
  t.equal(statSync(join(dir, 'small.log')).size, 2, 'below the limit: left as it is')
  t.equal(statSync(`${join(dir, 'full.log')}${ROTATED_SUFFIX}`).size, 1000, 'at the limit: it became the rotated part')
  t.notOk(existsSync(join(dir, 'full.log')))
  t.notOk(existsSync(join(dir, 'none.log')), 'no file: nothing made')
})
