/**
 * runtime/supervisor/group-memory.ts on real processes: what a process group uses is its
 * processes' together (a shell and the child holding the memory and burning the CPU), and a
 * watch calls back once when the group is over its limit, not while it is under.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import t, { type Test } from 'tap'
import { GroupMemoryWatch, usageByGroup } from '../../../runtime/supervisor/group-memory.js'

const HOLD_MB = 96
/** A child of a shell that holds HOLD_MB MiB, burns 0.3 s of CPU, says `ready`, and waits. */
const HOLDER = `const b = Buffer.alloc(${HOLD_MB} << 20, 1); while (process.cpuUsage().user + process.cpuUsage().system < 300000) {} console.log('ready', b.length); setInterval(() => {}, 1000)`

/** A shell in a process group of its own, running the holder as its child; resolves once the child is ready. */
async function holderGroup(t: Test): Promise<ChildProcess> {
  const child = spawn('/bin/sh', ['-c', `"${process.execPath}" -e "${HOLDER}"; echo not reached`], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  let out = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => (out += chunk))
  while (!out.includes('ready')) await once(child.stdout!, 'data')
  return child
}

const skip = !existsSync('/proc/self/stat') && 'no /proc'

t.test('a group’s usage is its processes’ together', { skip }, async (t) => {
  const group = await holderGroup(t)
  const usage = (await usageByGroup(new Set([group.pid!]))).get(group.pid!)
  t.ok(usage !== undefined, 'the group is read')
  t.ok(usage!.residentBytes >= HOLD_MB * 1024 * 1024, `resident ${usage!.residentBytes} bytes: the child's buffer counts`)
  t.ok(usage!.cpuSeconds >= 0.25, `CPU ${usage!.cpuSeconds} s: the child's counts`)
  t.same(await usageByGroup(new Set([0x7ffffff0])), new Map(), 'a group with no process is missing')
})

t.test('a watch calls back once over the limit, never under it', { skip }, async (t) => {
  const group = await holderGroup(t)
  const watch = new GroupMemoryWatch()
  const under: number[] = []
  const stopUnder = watch.watch(group.pid!, HOLD_MB * 4, (bytes) => under.push(bytes))
  const over: number[] = []
  const called = new Promise<void>((resolve) => {
    watch.watch(group.pid!, HOLD_MB / 2, (bytes) => {
      over.push(bytes)
      resolve()
    })
  })
  // The watch's timer does not keep a process alive (a supervisor's must not): this does.
  const alive = setInterval(() => {}, 1000)
  await called
  // One more scan's worth: the over-limit watch has ended, the other still says nothing.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  clearInterval(alive)
  stopUnder()
  t.equal(over.length, 1, 'called back once')
  t.ok(over[0]! > (HOLD_MB / 2) * 1024 * 1024, `with what the group held: ${over[0]}`)
  t.same(under, [], 'the group under its limit is never called back')
})
