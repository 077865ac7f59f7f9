/**
 * `dora-ts topic pub` against a real supervisor and a foreground run: a message put on an
 * output reaches every receiver of it, whatever path the sender's own messages take (a link
 * log, a best-effort link, the supervisor, a direct link between operators), with an id of its
 * own and sequence 0; a tap sees it; bad input gets a clear error and sends nothing.
 */
import t from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { startCli } from './fixtures/cli.js'
import { waitFor } from '../fixtures/wait-for.js'
import { readJsonl } from '../fixtures/jsonl.js'
import { daemonEnv, foregroundRun } from './fixtures/daemon-env.js'
import { fixture } from '../fixtures/nodes.js'

/** A record-sink.mjs line. */
interface Received {
  id: string
  value: unknown
  encoding: string
  messageId: string
  sequence: string
  senderNode: string
  senderOperator: string
  redelivered: boolean
}

/** What relay-op.mjs sends on `seen`. */
interface Seen {
  input: string
  value: unknown
  messageId: string
  sequence: string
  senderNode: string
}

/**
 * `source` sends once a minute (so what a test publishes is what its receivers see next): to
 * `sink` on a reliable direct link (its link log) and on a best-effort one, and to the operator
 * `relay` through the supervisor. `ticker`, an operator on a slow timer, feeds `near` on a
 * direct link between operators and `far` through the supervisor. `brief` sends one number and
 * ends, closing its output.
 */
function robot(record: string): string {
  return `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000, DELAY_MS: 60000 }
    outputs: [numbers]
  - id: ticker
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { tick: dora/timer/secs/600 }
      outputs: [seen]
  - id: relay
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { numbers: source/numbers }
      outputs: [seen]
  - id: near
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { ticks: { source: ticker/seen, reliability: best_effort } }
      outputs: [seen]
  - id: far
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { ticks: ticker/seen }
      outputs: [seen]
  - id: brief
    path: ${fixture('source.mjs')}
    env: { COUNT: 1 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('record-sink.mjs')}
    env: { RECORD_FILE: ${record} }
    inputs:
      numbers: source/numbers
      fast: { source: source/numbers, reliability: best_effort }
      relayed: relay/seen
      near: near/seen
      far: far/seen
      brief: brief/numbers
`
}

const PUB_ID = /^pub-[0-9a-f]{8}\.\d+$/

t.test('a published message reaches every receiver on every path, with its own id', async (t) => {
  const { cli, env } = daemonEnv(t)
  const dir = t.testdir({})
  const record = join(dir, 'received.jsonl')
  writeFileSync(join(dir, 'robot.yml'), robot(record))
  t.equal((await cli('up')).code, 0)
  const start = await cli('start', join(dir, 'robot.yml'))
  t.equal(start.code, 0, start.stderr)
  const received = (): Received[] => readJsonl<Received>(record)
  // Running: the source's first number reached the sink both ways, and brief's output closed.
  const got = (): Set<string> => new Set(received().map((r) => r.id))
  await waitFor(() => ['numbers', 'fast', 'relayed', 'brief'].every((id) => got().has(id)), {
    what: "the source's first number at the sink both ways and through relay, and brief's",
    detail: () => JSON.stringify(received()),
  })
  const before = received().length

  // A tap on the link-log topic sees the published message too.
  const echo = startCli(['topic', 'echo', 'source/numbers', '-n', '1', '--json'], { env })
  await echo.waitFor(/tapping source\/numbers/)

  const pub = await cli('topic', 'pub', 'source/numbers', '{"goal":[1.5,-2]}')
  t.equal(pub.code, 0, pub.stderr)
  const first = /^published source\/numbers \((pub-[0-9a-f]{8}\.1)\) to (.*)\n$/.exec(pub.stdout)
  t.ok(first, pub.stdout)
  const id = first?.[1]
  t.same(first?.[2]?.split(', ').sort(), ['relay/numbers', 'sink/fast', 'sink/numbers'], 'its receivers, named')
  const fromPub = (): Received[] =>
    received()
      .slice(before)
      .filter((r) => r.messageId === id || (r.id === 'relayed' && (r.value as Seen).messageId === id))
  await waitFor(() => fromPub().length === 3, { what: 'the published message at its three receivers', detail: () => JSON.stringify(received().slice(before)) })
  const direct = fromPub().filter((r) => r.id !== 'relayed')
  t.same(
    direct.map((r) => [r.id, r.value, r.encoding, r.sequence, r.senderNode, r.redelivered]).sort(),
    [
      ['fast', { goal: [1.5, -2] }, 'json', '0', 'source', false],
      ['numbers', { goal: [1.5, -2] }, 'json', '0', 'source', false],
    ],
    'on the reliable and the best-effort direct link, as the source would send it, with sequence 0',
  )
  const relayed = fromPub().find((r) => r.id === 'relayed')!.value as Seen
  t.same(relayed, { input: 'numbers', value: { goal: [1.5, -2] }, messageId: id, sequence: '0', senderNode: 'source' }, 'through the supervisor to an operator')
  const tapped = await echo.exited
  t.equal(tapped.code, 0, tapped.stderr)
  t.match(JSON.parse(tapped.stdout) as object, { topic: 'source/numbers', sequence: '0', messageId: id, json: { goal: [1.5, -2] } })

  // An operator's output: to an operator on a direct link between operators and to one through
  // the supervisor; three of them, paced, each with an id of its own; text with --encoding utf8.
  const three = await cli('topic', 'pub', 'ticker', 'hello', '-e', 'utf8', '-n', '3', '-r', '50', '--json')
  t.equal(three.code, 0, three.stderr)
  const replies = three.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; messageId: string; delivered: string[]; notDelivered: unknown[] })
  t.same(
    replies.map((r) => [r.topic, r.delivered.sort(), r.notDelivered]),
    Array.from({ length: 3 }, () => ['ticker/seen', ['far/ticks', 'near/ticks'], []]),
  )
  const ids = replies.map((r) => r.messageId)
  t.ok(
    ids.every((x) => PUB_ID.test(x)),
    ids.join(' '),
  )
  t.equal(new Set(ids).size, 3, 'three ids')
  const viaOperators = (): Seen[] =>
    received()
      .filter((r) => r.id === 'near' || r.id === 'far')
      .map((r) => ({ ...(r.value as Seen), input: r.id }))
  await waitFor(() => viaOperators().length === 6, { what: 'three messages at near and at far', detail: () => JSON.stringify(viaOperators()) })
  for (const input of ['near', 'far']) {
    t.same(
      viaOperators()
        .filter((s) => s.input === input)
        .map((s) => [s.value, s.messageId, s.sequence, s.senderNode]),
      ids.map((x) => ['hello', x, '0', 'ticker']),
      `${input}: each message once, in order`,
    )
  }

  // Refused, nothing sent: a closed output, text that is not JSON, too many bytes, an unknown
  // topic, DATA and --file together.
  const closed = await cli('topic', 'pub', 'brief/numbers', '1')
  t.equal(closed.code, 1)
  t.match(
    closed.stderr,
    /^error: nothing was published: brief\/numbers has closed \(brief ended or closed it\), and its receivers were told their inputs ended\n/,
  )
  const notJson = await cli('topic', 'pub', 'source/numbers', 'forward')
  t.equal(notJson.code, 1)
  t.match(
    notJson.stderr,
    /^error: the message is not JSON \(.*\), and --encoding is json\nQuote a string as JSON \('"hello"'\), or send it as text with --encoding utf8\./,
  )
  const big = join(dir, 'big.bin')
  writeFileSync(big, Buffer.alloc(32 * 1024 + 1, 7))
  const tooBig = await cli('topic', 'pub', 'source/numbers', '--file', big, '-e', 'raw')
  t.equal(tooBig.code, 1)
  t.match(tooBig.stderr, /^error: the message is 32769 bytes, and topic pub sends at most 32768\n/)
  const unknown = await cli('topic', 'pub', 'source/numbrs', '1')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^error: dataflow "robot" has no output "source\/numbrs"\nIts outputs are: source\/numbers, ticker\/seen/)
  const missing = await cli('topic', 'pub', 'source/numbers', '--file', join(dir, 'no-such.json'))
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^error: cannot read --file .*no-such\.json: .*ENOENT.*\nPass a readable file, or - for stdin\./)
  const both = await cli('topic', 'pub', 'source/numbers', '1', '--file', big)
  t.equal(both.code, 1)
  t.match(both.stderr, /^error: topic pub takes DATA or --file, exactly one of them\n/)
  const sink = await cli('topic', 'pub', 'sink', '1')
  t.equal(sink.code, 1)
  t.match(sink.stderr, /^error: sink of dataflow "robot" has no outputs\nAsk about what feeds it instead: its inputs come from source\/numbers, relay\/seen/)
  const published = received().filter((r) => PUB_ID.test(r.messageId) || PUB_ID.test((r.value as Partial<Seen> | null)?.messageId ?? ''))
  t.equal(published.length, 3 + 6, 'the refused ones sent nothing')
})

t.test('a foreground run takes topic pub from another terminal', async (t) => {
  const dir = t.testdir({})
  const record = join(dir, 'received.jsonl')
  const { cli } = await foregroundRun(
    t,
    `nodes:
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000, DELAY_MS: 60000 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('record-sink.mjs')}
    env: { RECORD_FILE: ${record} }
    inputs:
      numbers: source/numbers
`,
  )
  await waitFor(() => readJsonl<Received>(record).length > 0, { what: "the source's first number" })
  const pub = await cli('topic', 'pub', 'source', '"stop here"')
  t.equal(pub.code, 0, pub.stderr)
  t.match(pub.stdout, /^published source\/numbers \(pub-[0-9a-f]{8}\.1\) to sink\/numbers\n$/)
  const got = await waitFor(() => readJsonl<Received>(record).find((r) => PUB_ID.test(r.messageId)), { what: 'the published message at the sink' })
  t.same([got.id, got.value, got.sequence, got.senderNode], ['numbers', 'stop here', '0', 'source'])
})
