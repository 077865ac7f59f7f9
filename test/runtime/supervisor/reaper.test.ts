/**
 * The reaper with real processes: a stand-in supervisor (fixtures/reaper-host.mjs) spawns nodes
 * through it and is SIGKILLed; every node group must go. Waits are on output lines and exits,
 * and on bounded polls of the process table for processes that are not ours to wait on.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { Reaper, ReaperError } from '../../../runtime/supervisor/reaper.js'
import { ROOT } from '../../e2e/fixtures/cli.js'
import { processesNaming, running, waitUntilGone, waitUntilNone } from '../../e2e/fixtures/processes.js'

const HOST = join(ROOT, 'test', 'e2e', 'fixtures', 'reaper-host.mjs')
const SLEEPER = join(ROOT, 'test', 'fixtures', 'nodes', 'sleeper.sh')

interface Host {
  child: ChildProcess
  /** Resolves with the first match in stdout+stderr so far or to come. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>
  output(): string
}

/** Start the stand-in supervisor; it is SIGKILLed at the end of the test if still alive. */
function startHost(t: Test, env: Record<string, string>): Host {
  const child = spawn(process.execPath, [HOST], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  const listeners = new Set<() => void>()
  const feed = (chunk: string): void => {
    text += chunk
    for (const l of listeners) l()
  }
  child.stdout!.setEncoding('utf8').on('data', feed)
  child.stderr!.setEncoding('utf8').on('data', feed)
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    output: () => text,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = text.match(pattern)
          if (match === null) return
          listeners.delete(check)
          resolve(match)
        }
        listeners.add(check)
        check()
        // Bounded by the test's timeout; fail fast once every writer (the host, its nodes and
        // its reaper share the pipes) is gone without printing it.
        child.once('close', () => {
          if (listeners.delete(check)) reject(new Error(`host output ended without ${pattern}:\n${text}`))
        })
      }),
  }
}

/** SIGKILL the host and wait for its exit (not its pipes: nodes may hold them a while). */
async function killHost(host: Host): Promise<void> {
  const exited = once(host.child, 'exit')
  host.child.kill('SIGKILL')
  await exited
}

/** A directory named like a real run directory (the reaper removes no other). */
function runDir(t: Test): string {
  const dir = join(t.testdir({}), `run-${process.pid}-0123abcd`)
  mkdirSync(dir)
  writeFileSync(join(dir, 'nodes.sock'), '')
  return dir
}

/** Kill the group in teardown in case the test failed before the reaper did. */
function cleanup(t: Test, pgids: number[]): void {
  t.teardown(() => {
    for (const pgid of pgids) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {
        // Gone, as it should be.
      }
    }
  })
}

t.test('SIGKILL of the supervisor: every node group is stopped, helpers included, and the run and shared-memory directories removed', async (t) => {
  const dir = runDir(t)
  // The run's shared-memory directory (shm-dir.ts): a segment in it is RAM until removed.
  const shm = join(dirname(dir), 'shm', basename(dir))
  mkdirSync(shm, { recursive: true })
  writeFileSync(join(shm, 'camera@0@1'), 'a 4 MB frame')
  const host = startHost(t, { NODES: JSON.stringify([[SLEEPER], [SLEEPER]]), RUN_DIR: dir, SHM_DIR: shm })
  const reaper = Number((await host.waitFor(/reaper=(\d+)/))[1])
  await host.waitFor(/pid=\d+ helper=\d+[\s\S]*pid=\d+ helper=\d+/)
  const pids = [...host.output().matchAll(/pid=(\d+) helper=(\d+)/g)].flatMap((m) => [Number(m[1]), Number(m[2])])
  cleanup(t, pids)
  t.ok(pids.every(running), 'the nodes and their helpers run')
  await killHost(host)
  const { left, ms } = await waitUntilGone(pids)
  t.same(left, [], 'no node or helper outlives the supervisor')
  t.comment(`every node group was gone ${ms} ms after the supervisor's SIGKILL`)
  t.same((await waitUntilGone([reaper])).left, [], 'and the reaper exits once done')
  t.notOk(existsSync(dir), 'the run directory was removed')
  t.notOk(existsSync(shm), 'the shared-memory directory and its segments were removed')
  // The reaper's line may still be in the pipe when it has exited: wait for it, don't peek.
  await host.waitFor(/dora-ts reaper: the supervisor \(pid \d+\) is gone; sent SIGTERM to 2 node process groups/)
  t.pass('the reaper says what it did')
})

t.test('a node group that ignores SIGTERM is SIGKILLed after the grace period', async (t) => {
  const stubborn = ['/bin/sh', '-c', 'trap "" TERM; echo pid=$$; while :; do sleep 1; done']
  const host = startHost(t, { NODES: JSON.stringify([stubborn]), GRACE_MS: '100' })
  const pid = Number((await host.waitFor(/pid=(\d+)/))[1])
  cleanup(t, [pid])
  await killHost(host)
  await host.waitFor(/sent SIGKILL to 1 group still running after 100 ms/)
  t.same((await waitUntilGone([pid])).left, [], 'the stubborn node is gone')
})

t.test('a node whose supervisor dies in the very tick it was spawned never runs its program', async (t) => {
  // Regression test for the spawn-to-registration window: without the gate, `touch` would run.
  const marker = join(t.testdir({}), 'ran')
  const node = ['/bin/sh', '-c', 'touch "$0"; exec sleep 600', marker]
  const host = startHost(t, { NODES: JSON.stringify([node]), MODE: 'die-at-spawn' })
  const reaper = Number((await host.waitFor(/reaper=(\d+)/))[1])
  await once(host.child, 'exit')
  const { left } = await waitUntilNone(() => [...processesNaming(marker), reaper].filter(running))
  t.same(left, [], 'neither the gated node nor the reaper is left')
  t.notOk(existsSync(marker), "the node's program never ran")
})

t.test('a killed reaper is replaced, and the new one stops every live group when the supervisor dies', async (t) => {
  const host = startHost(t, { NODES: JSON.stringify([[SLEEPER]]), MODE: 'kill-reaper' })
  const first = Number((await host.waitFor(/reaper=(\d+)/))[1])
  const [, node, helper] = (await host.waitFor(/pid=(\d+) helper=(\d+)/)).map(Number)
  cleanup(t, [node!])
  await host.waitFor(/warn: the reaper process \(pid \d+\) ended unexpectedly \(SIGKILL\); starting a new one for the 1 live node group/)
  const second = Number((await host.waitFor(/reaper=\d+[\s\S]*reaper=(\d+)/))[1])
  t.not(second, first)
  t.ok(running(node!), 'the node kept running meanwhile')
  await killHost(host)
  t.same((await waitUntilGone([node!, helper!, first, second])).left, [])
})

t.test('a clean close says bye: the reaper exits at once and stops nothing', async (t) => {
  const host = startHost(t, { NODES: JSON.stringify([[SLEEPER]]), MODE: 'close' })
  const reaper = Number((await host.waitFor(/reaper=(\d+)/))[1])
  const node = Number((await host.waitFor(/pid=(\d+)/))[1])
  cleanup(t, [node])
  await host.waitFor(/^closed$/m)
  t.same((await waitUntilGone([reaper])).left, [], 'the reaper exits on its own after bye')
  t.ok(running(node), "bye stopped nothing: the nodes are the supervisor's to stop")
})

t.test('in process: nodes are tracked while they run, and spawn failures stay spawn failures', async (t) => {
  const reaper = new Reaper()
  t.teardown(() => reaper.close())
  await reaper.ready
  t.ok(reaper.pid !== undefined && running(reaper.pid))

  const child = reaper.spawn('/bin/sh', ['-c', 'echo "args: $*"; exit 3', 'sh', 'a b', 'c'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.ok(reaper.groups.has(child.pid!), 'tracked from the spawn on')
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c))
  const [code] = (await once(child, 'close')) as [number]
  t.equal(code, 3, "the exit code is the program's, not the gate's")
  t.equal(out, 'args: a b c\n', 'arguments arrive unchanged')
  t.notOk(reaper.groups.has(child.pid!), 'dropped once it exited')

  t.throws(() => reaper.spawn('/no/such/node', [], { stdio: ['ignore', 'ignore', 'ignore'] }), { code: 'ENOENT' })
  const plain = join(t.testdir({ 'node.sh': '#!/bin/sh\n' }), 'node.sh')
  t.throws(() => reaper.spawn(plain, [], { stdio: ['ignore', 'ignore', 'ignore'] }), { code: 'EACCES' })

  const pid = reaper.pid!
  const closing = reaper.close()
  t.equal(reaper.close(), closing, 'close() is idempotent: one promise')
  await closing
  t.same((await waitUntilGone([pid])).left, [], 'the reaper exits on its own after bye')
  let closed: unknown
  try {
    reaper.spawn('/bin/true', [], { stdio: ['ignore', 'ignore', 'ignore'] })
  } catch (err) {
    closed = err
  }
  t.ok(closed instanceof ReaperError, 'a spawn after close is refused')
  t.equal((closed as ReaperError).code, 'DORA_REAPER')
})
