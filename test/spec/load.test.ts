import t from 'tap'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { loadDataflow, parseDataflow } from '../../src/spec/load.js'
import { SpecErrors } from '../../src/spec/errors.js'
import type { DataflowSpec } from '../../src/spec/types.js'
import { at, expectProblem, problemsOf } from './fixtures/expect.js'

const robot = `name: my-robot
env: { GLOBAL: "1", NOISE: "0" }
exit_when_nodes_finish: [controller]
health_check_interval: 2
state_dir: ./.dora-ts/state
durability: process
nodes:
  - id: lidar
    name: Lidar
    description: Publishes scans
    path: ./examples/nodes/lidar.ts
    args: --rate 10 --frame "base link"
    env: { NOISE: 0.1, DEBUG: true }
    inputs:
      tick: dora/timer/millis/100
    outputs: [scan]
    restart_policy: on-failure
    max_restarts: 3
    restart_delay: 500ms
    max_restart_delay: 10
    restart_window: 1m
    health_check_timeout: 10
    connect_timeout: 30s
    oom_score_adj: 500
    max_memory_mb: 512
    build: pip install -e .
  - id: obstacle-filter
    operator:
      typescript: ./examples/operators/filter.ts
      inputs:
        scan: { source: lidar/scan, queue_size: 4, queue_policy: backpressure, input_timeout: 2 }
      outputs: [nearest]
      timeout: 5
      max_redeliveries: 1
      durability: power
  - id: pipeline
    restart_policy: always
    max_restarts: 5
    operators:
      - id: op1
        typescript: ./op1.ts
        inputs: { tick: dora/timer/hz/10 }
        outputs: [count]
      - id: op2
        javascript: ./op2.mjs
        inputs: { count: pipeline/op1/count, again: pipeline/op2/count }
        outputs: [count]
        restart_policy: never
  - id: controller
    path: ./controller.js
    inputs:
      nearest: obstacle-filter/nearest
      count: { source: pipeline/op2/count }
`

t.test('a full dataflow resolves to the expected spec', async (t) => {
  const dir = t.testdir({
    'dataflow.yml': robot,
    examples: { nodes: { 'lidar.ts': '' }, operators: { 'filter.ts': '' } },
    'op1.ts': '',
    'op2.mjs': '',
    'controller.js': '',
  })
  const file = join(dir, 'dataflow.yml')
  const spec = await loadDataflow(file)
  const pos = (needle: string, nth = 0) => ({ file, ...at(robot, needle, nth) })
  const expected: DataflowSpec = {
    file,
    baseDir: dir,
    name: 'my-robot',
    env: { GLOBAL: '1', NOISE: '0' },
    exitWhenNodesFinish: ['controller'],
    healthCheckInterval: 2,
    stateDir: join(dir, '.dora-ts', 'state'),
    durability: 'process',
    nodes: [
      {
        kind: 'custom',
        id: 'lidar',
        name: 'Lidar',
        description: 'Publishes scans',
        build: 'pip install -e .',
        env: { GLOBAL: '1', NOISE: '0.1', DEBUG: 'true' },
        restart: { policy: 'on-failure', maxRestarts: 3, restartDelay: 0.5, maxRestartDelay: 10, restartWindow: 60, healthCheckTimeout: 10 },
        position: pos('id: lidar'),
        path: join(dir, 'examples', 'nodes', 'lidar.ts'),
        runtime: 'ts',
        args: ['--rate', '10', '--frame', 'base link'],
        connectTimeout: 30,
        oomScoreAdj: 500,
        maxMemoryMb: 512,
        inputs: [
          {
            id: 'tick',
            source: { kind: 'timer', intervalNs: 100_000_000n, name: 'dora/timer/millis/100' },
            queueSize: 10,
            queuePolicy: 'drop_oldest',
            reliability: 'reliable',
            inputTimeout: undefined,
            position: pos('tick:'),
          },
        ],
        outputs: ['scan'],
      },
      {
        kind: 'operators',
        id: 'obstacle-filter',
        name: undefined,
        description: undefined,
        build: undefined,
        env: { GLOBAL: '1', NOISE: '0' },
        single: true,
        restart: { policy: 'on-failure', maxRestarts: 0, restartDelay: 0.1, maxRestartDelay: 10, restartWindow: undefined, healthCheckTimeout: undefined },
        position: pos('id: obstacle-filter'),
        operators: [
          {
            id: 'obstacle-filter',
            module: join(dir, 'examples', 'operators', 'filter.ts'),
            language: 'typescript',
            inputs: [
              {
                id: 'scan',
                source: { kind: 'output', node: 'lidar', operator: undefined, output: 'scan' },
                queueSize: 4,
                queuePolicy: 'backpressure',
                reliability: 'reliable',
                inputTimeout: 2,
                position: pos('scan: {'),
              },
            ],
            outputs: ['nearest'],
            timeout: 5,
            restart: { policy: 'on-failure', maxRestarts: 0, restartDelay: 0.1, maxRestartDelay: 10, restartWindow: undefined, healthCheckTimeout: undefined },
            durability: 'power',
            maxRedeliveries: 1,
            maxMemoryMb: undefined,
            position: pos('typescript: ./examples'),
          },
        ],
      },
      {
        kind: 'operators',
        id: 'pipeline',
        name: undefined,
        description: undefined,
        build: undefined,
        env: { GLOBAL: '1', NOISE: '0' },
        single: false,
        restart: { policy: 'always', maxRestarts: 5, restartDelay: 0.1, maxRestartDelay: 10, restartWindow: undefined, healthCheckTimeout: undefined },
        position: pos('id: pipeline'),
        operators: [
          {
            id: 'op1',
            module: join(dir, 'op1.ts'),
            language: 'typescript',
            inputs: [
              {
                id: 'tick',
                source: { kind: 'timer', intervalNs: 100_000_000n, name: 'dora/timer/hz/10' },
                queueSize: 10,
                queuePolicy: 'drop_oldest',
                reliability: 'reliable',
                inputTimeout: undefined,
                position: pos('tick: dora/timer/hz'),
              },
            ],
            outputs: ['count'],
            timeout: undefined,
            restart: { policy: 'always', maxRestarts: 5, restartDelay: 0.1, maxRestartDelay: 10, restartWindow: undefined, healthCheckTimeout: undefined },
            durability: 'process',
            maxRedeliveries: 3,
            maxMemoryMb: undefined,
            position: pos('id: op1'),
          },
          {
            id: 'op2',
            module: join(dir, 'op2.mjs'),
            language: 'javascript',
            inputs: [
              {
                id: 'count',
                source: { kind: 'output', node: 'pipeline', operator: 'op1', output: 'count' },
                queueSize: 10,
                queuePolicy: 'drop_oldest',
                reliability: 'reliable',
                inputTimeout: undefined,
                position: pos('count: pipeline'),
              },
              {
                id: 'again',
                source: { kind: 'output', node: 'pipeline', operator: 'op2', output: 'count' },
                queueSize: 10,
                queuePolicy: 'drop_oldest',
                reliability: 'reliable',
                inputTimeout: undefined,
                position: pos('again:'),
              },
            ],
            outputs: ['count'],
            timeout: undefined,
            restart: { policy: 'never', maxRestarts: 5, restartDelay: 0.1, maxRestartDelay: 10, restartWindow: undefined, healthCheckTimeout: undefined },
            durability: 'process',
            maxRedeliveries: 3,
            maxMemoryMb: undefined,
            position: pos('id: op2'),
          },
        ],
      },
      {
        kind: 'custom',
        id: 'controller',
        name: undefined,
        description: undefined,
        build: undefined,
        env: { GLOBAL: '1', NOISE: '0' },
        restart: { policy: 'never', maxRestarts: 0, restartDelay: 0.1, maxRestartDelay: 10, restartWindow: undefined, healthCheckTimeout: undefined },
        position: pos('id: controller'),
        path: join(dir, 'controller.js'),
        runtime: 'js',
        args: [],
        connectTimeout: 10,
        oomScoreAdj: undefined,
        maxMemoryMb: undefined,
        inputs: [
          {
            id: 'nearest',
            source: { kind: 'output', node: 'obstacle-filter', operator: undefined, output: 'nearest' },
            queueSize: 10,
            queuePolicy: 'drop_oldest',
            reliability: 'reliable',
            inputTimeout: undefined,
            position: pos('nearest: obstacle'),
          },
          {
            id: 'count',
            source: { kind: 'output', node: 'pipeline', operator: 'op2', output: 'count' },
            queueSize: 10,
            queuePolicy: 'drop_oldest',
            reliability: 'reliable',
            inputTimeout: undefined,
            position: pos('count: { source'),
          },
        ],
        outputs: [],
      },
    ],
  }
  t.strictSame(spec, expected)
})

t.test('a typical dora YAML with executable nodes passes unchanged', async (t) => {
  const yaml = `# yaml-language-server: $schema=../dataflow.schema.json
nodes:
  - id: camera
    path: ./nodes/camera.py
    args: --device 0
    env:
      IMAGE_WIDTH: 640
      IMAGE_HEIGHT: 480
    inputs:
      tick: dora/timer/millis/50
    outputs:
      - image
  - id: object-detection
    name: YOLO
    description: Detects objects
    path: ./target/release/detector
    inputs:
      image:
        source: camera/image
        queue_size: 1
    outputs:
      - bbox
  - id: plot
    path: ./nodes/plot.py
    inputs:
      image: camera/image
      bbox: object-detection/bbox
      tick: dora/timer/secs/1
`
  const dir = t.testdir({
    'dataflow.yml': yaml,
    nodes: { 'camera.py': '#!/usr/bin/env python3\n', 'plot.py': '' },
    target: { release: { detector: '' } },
  })
  chmodSync(join(dir, 'target', 'release', 'detector'), 0o755)
  const spec = await loadDataflow(join(dir, 'dataflow.yml'))
  t.equal(spec.name, 'dataflow', 'name defaults to the file base name')
  t.same(
    spec.nodes.map((n) => [n.id, n.kind, n.kind === 'custom' ? n.runtime : '', n.kind === 'custom' ? n.path : '']),
    [
      ['camera', 'custom', 'py', join(dir, 'nodes', 'camera.py')],
      ['object-detection', 'custom', 'exe', join(dir, 'target', 'release', 'detector')],
      ['plot', 'custom', 'py', join(dir, 'nodes', 'plot.py')],
    ],
  )
  const camera = spec.nodes[0]
  t.same(camera?.kind === 'custom' && camera.args, ['--device', '0'])
  t.same(camera?.env, { IMAGE_WIDTH: '640', IMAGE_HEIGHT: '480' })
  t.equal(spec.healthCheckInterval, 5)
  t.equal(spec.durability, 'process')
  t.equal(spec.stateDir, undefined)
  t.same(spec.exitWhenNodesFinish, [])
})

t.test('a missing or unreadable YAML file is DORA_SPEC_FILE_NOT_FOUND', async (t) => {
  const dir = t.testdir({ folder: {} })
  for (const [name, says] of [
    ['nope.yml', 'no such file'],
    ['folder', 'directory'],
  ] as const) {
    const err = await loadDataflow(join(dir, name)).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(err instanceof SpecErrors, name)
    const problem = (err as SpecErrors).errors[0]
    t.equal(problem?.code, 'DORA_SPEC_FILE_NOT_FOUND')
    t.equal(problem?.file, join(dir, name))
    t.equal(problem?.line, 0)
    t.match(problem?.message, says)
    t.match(problem?.hint, /dataflow YAML/)
  }
})

t.test('YAML syntax errors are DORA_SPEC_YAML_SYNTAX at the parser position', async (t) => {
  const text = 'nodes:\n  - id: a\n    path: ./a.ts\n    inputs: { tick: dora/timer/millis/1\n'
  const errors = problemsOf(() => parseDataflow(text, '/tmp/x/dataflow.yml', { checkFiles: false }))
  t.ok(errors.length >= 1)
  t.ok(errors.every((e) => e.code === 'DORA_SPEC_YAML_SYNTAX'))
  const first = errors[0]
  t.equal(first?.line, 5, 'the unclosed flow mapping is reported where the text ends')
  t.match(first?.message, /^\/tmp\/x\/dataflow\.yml:5:1: YAML syntax error: /)

  const docs = problemsOf(() => parseDataflow('nodes: []\n---\nnodes: []\n', '/tmp/x/dataflow.yml'))
  t.same(
    docs.map((e) => [e.code, e.line]),
    [['DORA_SPEC_YAML_SYNTAX', 2]],
  )
  t.match(docs[0]?.message, /more than one YAML document/)
  t.match(docs[0]?.hint, /`---`/)

  const tabs = 'nodes:\n\t- id: a\n'
  const tab = problemsOf(() => parseDataflow(tabs, '/tmp/x/dataflow.yml'))
  t.equal(tab[0]?.code, 'DORA_SPEC_YAML_SYNTAX')
  t.equal(tab[0]?.line, 2)
})

t.test('every problem of a dataflow is reported at once, from both passes', async (t) => {
  const text = `nodes:
  - id: lidar
    path: ./lidar.ts
    outputs: [scan]
    restart_policy: sometimes
  - id: obstacle-filter
    operator:
      typescript: ./filter.ts
      inputs:
        scan: lidar/scann
  - id: lidar
    path: ./missing.ts
`
  const dir = t.testdir({ 'dataflow.yml': text, 'lidar.ts': '', 'filter.ts': '' })
  const err = await loadDataflow(join(dir, 'dataflow.yml')).catch((e: unknown) => e)
  t.ok(err instanceof SpecErrors)
  const errors = (err as SpecErrors).errors
  t.same(
    errors.map((e) => e.code),
    ['DORA_SPEC_INVALID_VALUE', 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT', 'DORA_SPEC_DUPLICATE_ID', 'DORA_SPEC_MISSING_FILE'],
  )
  expectProblem(t, errors, {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text,
    needle: 'lidar/scann',
    nodeId: 'obstacle-filter',
    says: ['dataflow.yml:10:15: node "obstacle-filter": input "scan" reads from "lidar/scann", but node "lidar" has no output "scann" (did you mean "scan"?)'],
    hints: ['add "scann" to the `outputs` of node "lidar"', 'its outputs are: scan'],
  })
  const message = (err as SpecErrors).message.split('\n')
  t.equal(message.length, 5, 'a summary line and one line per problem')
  t.match((err as SpecErrors).describe(), /hint: /)
})

t.test('parseDataflow resolves relative files against the given file path', async (t) => {
  const dir = t.testdir({ 'a.ts': '' })
  const spec = parseDataflow('nodes:\n  - id: a\n    path: a.ts\n', join(dir, 'flow.yaml'))
  t.equal(spec.name, 'flow')
  t.equal(spec.baseDir, dir)
  const a = spec.nodes[0]
  t.equal(a?.kind === 'custom' && a.path, join(dir, 'a.ts'))
})
