/**
 * The topic commands of a run still starting: its direct wiring is made once its store is
 * open, and until then its link-log outputs would read as passing the supervisor (a tap opened
 * then waited on a path no message takes). They wait for the run's paths instead.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDataflow } from '../../../src/spec/load.js'
import { DataflowRun } from '../../../runtime/supervisor/dataflow-run.js'
import { TopicService, type TapReply } from '../../../runtime/daemon/topic-requests.js'
import type { TopicInfo } from '../../../runtime/supervisor/topics.js'
import { shortRuntimeDir } from '../../e2e/fixtures/cli.js'
import { fixture } from '../../fixtures/nodes.js'

t.test('topics, topic-info and tap asked while the run starts answer with the paths it runs on', async (t) => {
  const dir = t.testdir({})
  const yaml = `name: starting
nodes:
  - id: counter
    operator:
      javascript: ${fixture('counter.mjs')}
      inputs: { tick: dora/timer/millis/50 }
      outputs: [count]
  - id: source
    path: ${fixture('source.mjs')}
    env: { COUNT: 1000000, DELAY_MS: 20 }
    outputs: [numbers]
  - id: sink
    path: ${fixture('sink.mjs')}
    inputs:
      numbers: source/numbers
      count: counter/count
`
  const file = join(dir, 'dataflow.yml')
  writeFileSync(file, yaml)
  const run = new DataflowRun(parseDataflow(yaml, file), {
    graceMs: 5000,
    runtimeDir: shortRuntimeDir(t),
    stateDir: join(dir, 'state'),
    kvsDir: join(dir, 'kvs'),
    log: () => {},
  })
  t.teardown(() => run.close())
  const service = new TopicService(() => ({ run, name: 'starting' }))
  const pathOf = (topics: TopicInfo[]): string | undefined => topics.find((x) => x.topic === 'source/numbers')?.path
  const started = run.start()
  // Asked in the same turn as start(): the run is still opening its store.
  const listed = service.handle('topics', {}) as Promise<TopicInfo[]>
  const described = service.handle('topic-info', { topics: ['source'] }) as Promise<TopicInfo[]>
  const tapped = service.handle('tap', { topics: ['source/numbers'] }) as Promise<TapReply>
  t.equal(pathOf(run.topics()), 'supervisor', 'the run has no direct wiring yet')
  t.equal(pathOf(await listed), 'link-log')
  t.equal(pathOf(await described), 'link-log')
  t.equal(pathOf((await tapped).topics), 'link-log')
  await started
  t.equal(pathOf(run.topics()), 'link-log')
})

t.test('topic-pub names one output, says who it reached, and is refused once the run stops', async (t) => {
  const dir = t.testdir({})
  const yaml = `name: pub
nodes:
  - id: two
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { tick: dora/timer/secs/600 }
      outputs: [seen, other]
  - id: quiet
    operator:
      javascript: ${fixture('relay-op.mjs')}
      inputs: { x: two/other }
      outputs: [seen]
`
  const file = join(dir, 'dataflow.yml')
  writeFileSync(file, yaml)
  const run = new DataflowRun(parseDataflow(yaml, file), { graceMs: 5000, runtimeDir: shortRuntimeDir(t), stateDir: join(dir, 'state'), log: () => {} })
  t.teardown(() => run.close())
  const service = new TopicService(() => ({ run, name: 'pub' }))
  await run.start()
  const pub = (topic: string): Promise<unknown> => service.handle('topic-pub', { topic, data: Buffer.from('1').toString('base64'), encoding: 'json' })
  await t.rejects(pub('two'), {
    code: 'DORA_DAEMON_UNKNOWN_TOPIC',
    message: 'two of dataflow "pub" has 2 outputs, and topic pub puts a message on one',
    hint: 'Name one: two/seen, two/other.',
  })
  t.match(await pub('two/other'), { topic: 'two/other', messageId: /^pub-[0-9a-f]{8}\.1$/, delivered: ['quiet/x'], notDelivered: [] })
  t.match(await pub('quiet'), { topic: 'quiet/seen', messageId: /^pub-[0-9a-f]{8}\.2$/, delivered: [], notDelivered: [] }, 'a node with one output names it')
  run.stop()
  await t.rejects(pub('two/other'), { code: 'DORA_DAEMON_TOPIC_CLOSED', message: 'nothing was published: dataflow "pub" is stopping' })
})
