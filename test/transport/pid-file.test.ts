/**
 * Pid files decide who owns a state store, the supervisor daemon and the KVS open lock: of
 * processes racing for one, exactly one may win, also when the file left by a dead owner is
 * being taken over at the same moment. Real processes, started together.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { livePidFileOwner, readPidFile, readPidFileTag, tryAcquirePidFile } from '../../src/transport/pid-file.js'
import { processStamp } from '../../src/transport/process-stamp.js'
import { ROOT } from '../e2e/fixtures/cli.js'

const MODULE = pathToFileURL(join(ROOT, 'dist', 'src', 'transport', 'pid-file.js')).href

/**
 * Start `n` processes that each try once when told "go" (a line on stdin, written to all of them
 * at once) and print won/lost; winners hold the file until told "done", after every process has
 * answered (so a late starter cannot win a released file).
 */
async function race(file: string, n: number): Promise<string[]> {
  const script = `
    import { createInterface } from 'node:readline'
    const { tryAcquirePidFile } = await import(${JSON.stringify(MODULE)})
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
    console.log('ready')
    await lines.next()
    const result = tryAcquirePidFile(${JSON.stringify(file)})
    console.log(result.acquired ? 'won' : 'lost')
    await lines.next()
    if (result.acquired) result.release()
    process.stdin.destroy()
  `
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }))
  const line = (child: (typeof children)[number], pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      let out = ''
      const onData = (chunk: string): void => {
        out += chunk
        const match = pattern.exec(out)
        if (match !== null) {
          child.stdout!.off('data', onData)
          resolve(match[0])
        }
      }
      child.stdout!.setEncoding('utf8').on('data', onData)
      child.once('close', () => reject(new Error(`a racer exited without printing ${pattern}: ${out}`)))
    })
  const closed = children.map((child) => new Promise((resolve) => child.once('close', resolve)))
  await Promise.all(children.map((child) => line(child, /ready/)))
  const results = Promise.all(children.map((child) => line(child, /won|lost/)))
  for (const child of children) child.stdin!.write('go\n')
  const answers = await results
  for (const child of children) child.stdin!.end('done\n')
  await Promise.all(closed)
  return answers
}

t.test('of processes racing for a free pid file, exactly one wins', async (t) => {
  for (let round = 0; round < 3; round++) {
    const dir = t.testdir({})
    const results = await race(join(dir, 'owner.pid'), 6)
    t.equal(results.filter((r) => r === 'won').length, 1, `round ${round}: ${results.join(' ')}`)
  }
})

t.test("of processes racing to take over a dead owner's pid file, exactly one wins", async (t) => {
  for (let round = 0; round < 3; round++) {
    const dir = t.testdir({})
    const file = join(dir, 'owner.pid')
    writeFileSync(file, `${spawnSync(process.execPath, ['-e', '0']).pid!}\n`)
    const results = await race(file, 6)
    t.equal(results.filter((r) => r === 'won').length, 1, `round ${round}: ${results.join(' ')}`)
    t.same(readdirSync(dir), [], 'released, and no temporary or moved-aside file left')
  }
})

t.test('an empty or garbage pid file counts as stale; a live owner keeps it', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'owner.pid')
  for (const junk of ['', 'not a pid\n']) {
    writeFileSync(file, junk)
    const result = tryAcquirePidFile(file)
    t.ok(result.acquired, `taken over from ${JSON.stringify(junk)}`)
    t.equal(readPidFile(file), process.pid)
    if (result.acquired) result.release()
    t.notOk(existsSync(file), 'released')
  }
  writeFileSync(file, `${process.ppid}\n`)
  t.same(tryAcquirePidFile(file), { acquired: false, ownerPid: process.ppid })
})

t.test(
  'a pid file whose pid now belongs to another process (after a reboot, or reused) is stale',
  { skip: processStamp(process.pid) === undefined ? 'no /proc here' : false },
  async (t) => {
    const dir = t.testdir({})
    const file = join(dir, 'owner.pid')
    // The pid of a live process, stamped as some other process (another boot or start time).
    writeFileSync(file, `${process.ppid} - 00000000-0000-0000-0000-000000000000:1\n`)
    const result = tryAcquirePidFile(file)
    t.ok(result.acquired, 'taken over: the live pid is not the process that wrote the file')
    if (result.acquired) result.release()
    // Stamped correctly, the same live pid keeps it.
    writeFileSync(file, `${process.ppid} - ${processStamp(process.ppid)}\n`)
    t.same(tryAcquirePidFile(file), { acquired: false, ownerPid: process.ppid })
    t.equal(livePidFileOwner(file), process.ppid)
    t.match(readFileSync(file, 'utf8'), /^\d+ - \S+\n$/)
  },
)

t.test('a pid file records pid, tag and the process stamp', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'owner.pid')
  const result = tryAcquirePidFile(file, 'cli')
  t.ok(result.acquired)
  t.equal(readFileSync(file, 'utf8'), `${process.pid} cli ${processStamp(process.pid)}\n`)
  t.equal(readPidFileTag(file), 'cli')
  t.equal(readPidFile(file), process.pid)
  if (result.acquired) result.release()
})

t.test("a holder's release leaves alone the file another holder of the same process (another tag) took over", async (t) => {
  // The KVS turnstile's holders are threads of one process, told apart by their tags: a release
  // that compared the pid alone removed the file of the thread that had taken it over.
  const dir = t.testdir({})
  const file = join(dir, 'write.turnstile')
  const first = tryAcquirePidFile(file, 'thread-1')
  if (!first.acquired) throw new Error('the first holder should get the free file')
  // A takeover (the first holder's thread was taken for dead): its file replaced by the second's.
  rmSync(file)
  const second = tryAcquirePidFile(file, 'thread-2')
  if (!second.acquired) throw new Error('the second holder should get the file once it is gone')
  first.release()
  t.equal(readPidFileTag(file), 'thread-2', "the first holder's release did not remove the second's file")
  second.release()
  t.notOk(existsSync(file), 'the holder releases its own file')
})

t.test('processes taking and releasing a pid file in a loop never hold it two at once', async (t) => {
  // How every KVS open and close takes the open lock. A racer that found the file gone between
  // two holders used to remove the next holder's file by name and win too: 45 overlaps in 3 x
  // 1000 acquisitions, and an opener then met the mutexes a closer had destroyed.
  const dir = t.testdir({})
  const file = join(dir, 'open.lock')
  const inside = join(dir, 'inside')
  const rounds = 1000
  const script = `
    const { tryAcquirePidFile } = await import(${JSON.stringify(MODULE)})
    const { mkdirSync, rmdirSync } = await import('node:fs')
    let overlaps = 0
    for (let i = 0; i < ${rounds}; i++) {
      let result
      while (!(result = tryAcquirePidFile(${JSON.stringify(file)})).acquired) {}
      // Only one holder can make the directory; a second one at the same moment cannot.
      try {
        mkdirSync(${JSON.stringify(inside)})
        rmdirSync(${JSON.stringify(inside)})
      } catch {
        overlaps++
      }
      result.release()
    }
    console.log(overlaps)
  `
  const counts = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<string>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
          let out = ''
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
          child.once('close', (code) => resolve(code === 0 ? out.trim() : `exit ${code}`))
        }),
    ),
  )
  t.same(counts, ['0', '0', '0'], 'no acquisition overlapped another (overlaps per process)')
  t.same(readdirSync(dir), [], 'released, and nothing left behind')
})
