/**
 * The node socket against a hostile process of the same user (issue 13 point 4): registration
 * is bound to the process the supervisor spawned, unregistered connections cost one small
 * frame at most, log lines a peer causes are rate limited and truncated, and a 300 MB frame
 * flood does not grow the supervisor's memory.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Dealer } from 'zeromq'
import { decodeSupervisorToNode, encodeNodeToSupervisor } from '../../src/protocol/node/codec.js'
import { PROTOCOL_VERSION } from '../../src/protocol/node/messages.js'
import { fixture } from '../fixtures/nodes.js'
import { waitFor } from '../fixtures/wait-for.js'
import { ROOT } from '../e2e/fixtures/cli.js'
import { dump, startInProcess, type InProcessRun } from '../integration/fixtures/in-process.js'

const FLOOD = join(ROOT, 'test', 'security', 'fixtures', 'frame-flood.mjs')

/** Register as `nodeId` from a fresh connection; resolves to the supervisor's answer. */
async function registerAs(t: Test, endpoint: string, nodeId: string, secret?: string): Promise<string> {
  const socket = new Dealer({ linger: 0 })
  t.teardown(() => socket.close())
  socket.connect(endpoint)
  await socket.send(
    encodeNodeToSupervisor({ type: 'register', nodeId, protocolVersion: PROTOCOL_VERSION, pid: process.pid, ...(secret === undefined ? {} : { secret }) }),
  )
  const [head] = await socket.receive()
  return decodeSupervisorToNode(head!).type
}

function pidIn(flow: InProcessRun, node: string): number {
  const line = flow.lines(node).find((l) => l.startsWith('pid='))
  return Number(line!.slice(4))
}

function flood(endpoint: string, bytes: number, count: number): Promise<string> {
  const child = spawn(process.execPath, [FLOOD, endpoint, String(bytes), String(count)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`frame-flood exited with ${code}: ${out}`))))
  })
}

t.test("an impostor that registers first under a late node's id is refused; the real node gets in", async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: late
    path: ${fixture('late-node.mjs')}
    outputs: [numbers]
`,
  )
  await flow.waitForLine(/^pid=\d+$/)
  const endpoint = flow.run.endpoint!
  t.equal(await registerAs(t, endpoint, 'late'), 'register-rejected', 'no secret: refused')
  t.equal(await registerAs(t, endpoint, 'late', 'f'.repeat(64)), 'register-rejected', 'a wrong secret: refused')
  process.kill(pidIn(flow, 'late'), 'SIGUSR1')
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.ok(flow.lines('late').includes('registered as late'), dump(flow.logs))
  t.equal(flow.run.nodeSocketStats?.refusedRegistrations, 2, '0 impostor registrations accepted')
})

t.test('a registration flood and huge ids are logged a few times, truncated, never echoed whole', async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: late
    path: ${fixture('late-node.mjs')}
    outputs: [numbers]
`,
  )
  await flow.waitForLine(/^pid=\d+$/)
  const endpoint = flow.run.endpoint!
  // 300 refused registrations, with a terminal escape in the id.
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => registerAs(t, endpoint, `evil\x1b]0;PWNED\x07\x1b[2J-${i}`)))
  t.ok(answers.every((a) => a === 'register-rejected'))
  // 40 frames with a 900 KB node id: dropped before decoding.
  await flood(endpoint, 900 * 1024, 40)
  await waitFor(() => (flow.run.nodeSocketStats?.droppedFrames ?? 0) >= 40, {
    what: '40 dropped frames',
    detail: () => JSON.stringify(flow.run.nodeSocketStats),
  })
  const notices = flow.logs.filter((l) => l.stream === 'supervisor' && /refused a registration|dropped/.test(l.text))
  t.ok(notices.length <= 10, `${notices.length} notice lines for 340 hostile frames`)
  const bytes = notices.reduce((n, l) => n + l.text.length, 0)
  t.ok(bytes < 10_000, `${bytes} bytes of log for 36 MB of hostile ids`)
  for (const l of notices) t.notOk(l.text.includes('\x1b') || l.text.includes('\x07'), 'no raw control character reaches the log')
  t.ok(
    notices.some((l) => l.text.includes('evil\\x1b]0;PWNED\\x07')),
    'the id is shown escaped',
  )
  process.kill(pidIn(flow, 'late'), 'SIGUSR1')
  t.ok((await flow.done).ok, dump(flow.logs))
})

t.test('crafted 800 KB headers from unregistered connections do not stop data: another node keeps sending', async (t) => {
  const dir = t.testdir({})
  const countFile = join(dir, 'count')
  const flow = await startInProcess(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 400, GO_AFTER: 200 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    env: { COUNT_FILE: ${countFile} }
    inputs:
      numbers: { source: source/numbers, queue_size: 1000 }
`,
    { dir },
  )
  await flow.waitForLine(/^paused after 200$/)
  // A valid register frame whose node id is 800 KB: under the 1 MB decode limit, so before
  // this fix it was decoded on the supervisor's main thread, 20-200 ms each.
  const flooding = flood(flow.run.endpoint!, 800 * 1024, 60)
  process.kill(pidIn(flow, 'source'), 'SIGUSR1')
  // Progress, not timing: all 400 numbers arrive, and the flood was dealt with as it ran.
  await flooding
  const result = await flow.done
  t.ok(result.ok, dump(flow.logs))
  t.equal(Number(readFileSync(countFile, 'utf8')), 400, 'every number reached the sink')
})

t.test("a 300 MB frame flood does not grow the supervisor's memory", async (t) => {
  const flow = await startInProcess(
    t,
    `nodes:
  - id: late
    path: ${fixture('late-node.mjs')}
    outputs: [numbers]
`,
  )
  await flow.waitForLine(/^pid=\d+$/)
  const rssKb = (field: 'VmRSS' | 'VmHWM'): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1])
  // Reset the peak (VmHWM) to the current RSS, so the peak measured is this flood's.
  writeFileSync('/proc/self/clear_refs', '5')
  const before = rssKb('VmRSS')
  t.equal((await flood(flow.run.endpoint!, 300 * 1024 * 1024, 3)).trim(), 'flooded 3', 'ZeroMQ dropped each 300 MB sender')
  const peakGrowthMb = (rssKb('VmHWM') - before) / 1024
  t.ok(peakGrowthMb < 150, `peak RSS grew by ${peakGrowthMb.toFixed(0)} MB under 900 MB of frames (bounded by the 64 MB frame limit)`)
  process.kill(pidIn(flow, 'late'), 'SIGUSR1')
  t.ok((await flow.done).ok, dump(flow.logs))
})
