import t from 'tap'
import { chmodSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parseDataflow } from '../../src/spec/load.js'
import { RESTART_DEFAULTS } from '../../src/spec/resolve.js'
import type { CustomNodeSpec, OperatorNodeSpec } from '../../src/spec/types.js'
import { expectProblem, parseOk, problemsIn } from './fixtures/expect.js'

const graph = `nodes:
  - id: lidar
    path: ./lidar.ts
    outputs: [scan, status]
  - id: obstacle-filter
    operator:
      typescript: ./filter.ts
      outputs: [nearest]
  - id: pipeline
    operators:
      - id: op1
        typescript: ./op1.ts
        outputs: [count]
      - id: op2
        javascript: ./op2.js
        outputs: [total]
  - id: reader
    path: ./reader.ts
    inputs:
`

/**
 * The graph plus one input of `reader` reading `source`; the graph's lines are blanked when
 * used as `text` for positions, so a needle is looked up in the last line only.
 */
const reading = (source: string): string => `${graph}      x: ${source}\n`
const blank = (text: string): string => text.replace(graph, graph.replace(/[^\n]/g, ' '))

t.test('an unknown source node is DORA_SPEC_UNKNOWN_SOURCE_NODE with a did-you-mean', async (t) => {
  const text = reading('lidr/scan')
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_NODE',
    text,
    needle: 'lidr/scan',
    nodeId: 'reader',
    says: ['input "x" reads from "lidr/scan", but there is no node "lidr" (did you mean "lidar"?)'],
    hints: ['node ids are: lidar, obstacle-filter, pipeline, reader'],
  })
})

t.test('an unknown output is DORA_SPEC_UNKNOWN_SOURCE_OUTPUT with a did-you-mean over that node', async (t) => {
  const custom = reading('lidar/scann')
  expectProblem(t, problemsIn(custom), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text: blank(custom),
    needle: 'lidar/scann',
    nodeId: 'reader',
    says: ['input "x" reads from "lidar/scann", but node "lidar" has no output "scann" (did you mean "scan"?)'],
    hints: ['add "scann" to the `outputs` of node "lidar"', 'its outputs are: scan, status'],
  })
  const single = reading('obstacle-filter/nearst')
  expectProblem(t, problemsIn(single), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text: blank(single),
    needle: 'obstacle-filter/nearst',
    nodeId: 'reader',
    says: ['node "obstacle-filter" has no output "nearst" (did you mean "nearest"?)'],
  })
  const listed = reading('pipeline/op1/cout')
  expectProblem(t, problemsIn(listed), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text: blank(listed),
    needle: 'pipeline/op1/cout',
    nodeId: 'reader',
    says: ['operator "op1" of node "pipeline" has no output "cout" (did you mean "count"?)'],
    hints: ['its outputs are: count'],
  })
  const none = `nodes:\n  - id: quiet\n    path: ./q.ts\n  - id: r\n    path: ./r.ts\n    inputs: { x: quiet/out }\n`
  expectProblem(t, problemsIn(none), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text: none,
    needle: 'quiet/out',
    nodeId: 'r',
    hints: ['it has no outputs yet'],
  })
})

t.test('node/output on an operators list says to address node/operator/output', async (t) => {
  const owned = reading('pipeline/count')
  expectProblem(t, problemsIn(owned), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text: blank(owned),
    needle: 'pipeline/count',
    nodeId: 'reader',
    says: ['node "pipeline" is an `operators:` list, whose outputs are addressed pipeline/<operator>/<output>'],
    hints: ['write pipeline/op1/count'],
  })
  const unowned = reading('pipeline/nothing')
  expectProblem(t, problemsIn(unowned), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    text: blank(unowned),
    needle: 'pipeline/nothing',
    hints: ['its operators are: op1, op2'],
  })
})

t.test('an unknown operator, or one on a node without operators, is DORA_SPEC_UNKNOWN_SOURCE_OPERATOR', async (t) => {
  const typo = reading('pipeline/op3/count')
  expectProblem(t, problemsIn(typo), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OPERATOR',
    text: blank(typo),
    needle: 'pipeline/op3',
    nodeId: 'reader',
    says: ['node "pipeline" has no operator "op3" (did you mean "op1"?)'],
    hints: ['its operators are: op1, op2'],
  })
  const custom = reading('lidar/driver/scan')
  expectProblem(t, problemsIn(custom), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OPERATOR',
    text: blank(custom),
    needle: 'lidar/driver',
    says: ['node "lidar" is a custom node and has no operators'],
    hints: ['lidar/<output>, e.g. lidar/scan'],
  })
  const single = reading('obstacle-filter/op/other')
  expectProblem(t, problemsIn(single), {
    code: 'DORA_SPEC_UNKNOWN_SOURCE_OPERATOR',
    text: blank(single),
    needle: 'obstacle-filter/op',
    says: ['is a single-operator node and has no operators'],
  })
})

t.test('bad timers are DORA_SPEC_BAD_TIMER; other dora/ and malformed sources DORA_SPEC_BAD_INPUT', async (t) => {
  for (const source of ['dora/timer/millis/0', 'dora/timer/millis/-5', 'dora/timer/millis/ten', 'dora/timer/weeks/1', 'dora/timer/hz/0', 'dora/timer']) {
    const text = reading(source)
    expectProblem(t, problemsIn(text), {
      code: 'DORA_SPEC_BAD_TIMER',
      text: blank(text),
      needle: source,
      nodeId: 'reader',
      says: [`input "x": timer "${source}"`],
    })
  }
  for (const [source, says] of [
    ['dora/clock/1', 'which is not a dora source'],
    ['dora', 'which is not a dora source'],
    ['lidar', 'which is not a source'],
    ['a/b/c/d', 'which is not a source'],
    ['lidar//scan', 'which is not a source'],
    ['/scan', 'which is not a source'],
  ] as const) {
    const text = reading(source)
    expectProblem(t, problemsIn(text), { code: 'DORA_SPEC_BAD_INPUT', text: blank(text), needle: source, nodeId: 'reader', says: [says] })
  }
})

t.test('cycles and inputs from the own node are allowed', async (t) => {
  const spec = parseOk(`nodes:
  - id: a
    path: ./a.ts
    inputs: { from-b: b/out, self: a/out }
    outputs: [out]
  - id: b
    path: ./b.ts
    inputs: { from-a: a/out }
    outputs: [out]
`)
  const a = spec.nodes[0] as CustomNodeSpec
  t.same(
    a.inputs.map((i) => i.source),
    [
      { kind: 'output', node: 'b', operator: undefined, output: 'out' },
      { kind: 'output', node: 'a', operator: undefined, output: 'out' },
    ],
  )
})

t.test('exit_when_nodes_finish must name existing nodes', async (t) => {
  const text = `exit_when_nodes_finish: [lidar, planer]\nnodes:\n  - id: lidar\n    path: ./l.ts\n  - id: planner\n    path: ./p.ts\n`
  expectProblem(t, problemsIn(text), {
    code: 'DORA_SPEC_UNKNOWN_NODE',
    text,
    needle: 'planer',
    says: ['`exit_when_nodes_finish` names node "planer", which does not exist (did you mean "planner"?)'],
    hints: ['lidar, planner'],
  })
})

t.test('missing files are DORA_SPEC_MISSING_FILE when files are checked', async (t) => {
  const text = `nodes:
  - id: exe
    path: ./bin/missing
  - id: dir
    path: ./bin
  - id: cmd
    path: no-such-command-dora-ts
  - id: op
    operator:
      typescript: ./ops/missing.ts
  - id: ops
    operators:
      - id: one
        javascript: ./ops.js
`
  const dir = t.testdir({ bin: {}, ops: {}, 'ops.js': {} })
  const errors = problemsIn(text, dir, { checkFiles: true })
  t.equal(errors.length, 5, errors.map((e) => e.message).join('\n'))
  const byNode = (id: string) => errors.filter((e) => e.nodeId === id)
  expectProblem(t, byNode('exe'), {
    code: 'DORA_SPEC_MISSING_FILE',
    text,
    needle: './bin/missing',
    nodeId: 'exe',
    says: [`\`path\` "./bin/missing" does not exist (looked for ${join(dir, 'bin', 'missing')})`],
    hints: [`relative to the dataflow's folder ${dir}`],
  })
  expectProblem(t, byNode('dir'), { code: 'DORA_SPEC_MISSING_FILE', text, needle: './bin\n', nodeId: 'dir', says: ['is a directory'] })
  expectProblem(t, byNode('cmd'), {
    code: 'DORA_SPEC_MISSING_FILE',
    text,
    needle: 'no-such-command',
    nodeId: 'cmd',
    says: ['is neither a file in', 'nor a command on PATH'],
  })
  expectProblem(t, byNode('op'), {
    code: 'DORA_SPEC_MISSING_FILE',
    text,
    needle: './ops/missing.ts',
    nodeId: 'op',
    says: ['operator module "./ops/missing.ts" does not exist'],
  })
  expectProblem(t, byNode('ops'), { code: 'DORA_SPEC_MISSING_FILE', text, needle: './ops.js', nodeId: 'ops', operatorId: 'one', says: ['is a directory'] })

  const unchecked = parseDataflow(text, join(dir, 'dataflow.yml'), { checkFiles: false })
  t.same(
    unchecked.nodes.map((n) => (n.kind === 'custom' ? n.path : n.operators[0]?.module)),
    [join(dir, 'bin', 'missing'), join(dir, 'bin'), join(dir, 'no-such-command-dora-ts'), join(dir, 'ops', 'missing.ts'), join(dir, 'ops.js')],
    'without file checks paths still resolve against the YAML folder',
  )
})

t.test('a bare command is found next to the YAML first, then on PATH', async (t) => {
  const dir = t.testdir({ 'local-tool': '', bin: { 'dora-ts-test-tool': '#!/bin/sh\n' } })
  chmodSync(join(dir, 'bin', 'dora-ts-test-tool'), 0o755)
  chmodSync(join(dir, 'local-tool'), 0o755)
  const savedPath = process.env.PATH
  t.teardown(() => {
    process.env.PATH = savedPath
  })
  process.env.PATH = `${join(dir, 'bin')}:${savedPath ?? ''}`
  for (const checkFiles of [true, false]) {
    const spec = parseOk(`nodes:\n  - id: a\n    path: dora-ts-test-tool\n  - id: b\n    path: local-tool\n`, dir, { checkFiles })
    t.same(
      spec.nodes.map((n) => (n as CustomNodeSpec).path),
      [join(dir, 'bin', 'dora-ts-test-tool'), join(dir, 'local-tool')],
    )
    t.same(
      spec.nodes.map((n) => (n as CustomNodeSpec).runtime),
      ['exe', 'exe'],
    )
  }
  const sh = parseOk('nodes:\n  - id: shell\n    path: sh\n', dir, { checkFiles: true })
  t.equal(basename((sh.nodes[0] as CustomNodeSpec).path), 'sh', 'like dora, `path: python3`-style commands work')
})

t.test('URL and dynamic nodes are DORA_SPEC_NOT_SUPPORTED', async (t) => {
  const text = `nodes:\n  - id: url\n    path: https://example.com/node\n  - id: dyn\n    path: dynamic\n`
  const errors = problemsIn(text)
  expectProblem(
    t,
    errors.filter((e) => e.nodeId === 'url'),
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'https', nodeId: 'url', hints: ['download the file'] },
  )
  expectProblem(
    t,
    errors.filter((e) => e.nodeId === 'dyn'),
    { code: 'DORA_SPEC_NOT_SUPPORTED', text, needle: 'dynamic', nodeId: 'dyn', says: ['`path: dynamic`'] },
  )
})

t.test('runtime follows the extension', async (t) => {
  const spec = parseOk(`nodes:
  - { id: a, path: ./a.ts }
  - { id: b, path: ./b.mts }
  - { id: c, path: ./c.cts }
  - { id: d, path: ./d.js }
  - { id: e, path: ./e.mjs }
  - { id: f, path: ./f.CJS }
  - { id: g, path: ./g.py }
  - { id: h, path: ./h }
`)
  t.same(
    spec.nodes.map((n) => (n as CustomNodeSpec).runtime),
    ['ts', 'ts', 'ts', 'js', 'js', 'js', 'py', 'exe'],
  )
})

t.test('restart defaults: never for custom nodes, on-failure for operators; operator keys override the node', async (t) => {
  const spec = parseOk(`nodes:
  - id: custom
    path: ./c.ts
  - id: single
    restart_delay: 1
    operator:
      typescript: ./s.ts
      max_restarts: 4
  - id: list
    restart_policy: always
    restart_window: 30s
    health_check_timeout: 5
    operators:
      - id: a
        typescript: ./a.ts
      - id: b
        typescript: ./b.ts
        restart_policy: never
        restart_delay: 20
`)
  const [custom, single, list] = spec.nodes as [CustomNodeSpec, OperatorNodeSpec, OperatorNodeSpec]
  const defaults = { restartWindow: undefined, healthCheckTimeout: undefined, maxRestarts: 0, restartDelay: 0.1, maxRestartDelay: 10 }
  t.same(custom.restart, { ...defaults, policy: 'never' })
  t.same(single.operators[0]?.restart, { ...defaults, policy: 'on-failure', maxRestarts: 4, restartDelay: 1 })
  t.same(single.restart, single.operators[0]?.restart, 'a single operator and its node share the restart spec')
  t.same(list.restart, { ...defaults, policy: 'always', restartWindow: 30, healthCheckTimeout: 5 })
  t.same(list.operators[0]?.restart, { ...defaults, policy: 'always', restartWindow: 30, healthCheckTimeout: 5 })
  t.same(
    list.operators[1]?.restart,
    { ...defaults, policy: 'never', restartWindow: 30, healthCheckTimeout: 5, restartDelay: 20, maxRestartDelay: 20 },
    'the max delay grows to a larger first delay',
  )
  t.equal(RESTART_DEFAULTS.restartDelay, 0.1)
})

t.test('a max_restart_delay shorter than restart_delay is DORA_SPEC_INVALID_VALUE, reported once', async (t) => {
  const text = `nodes:
  - id: list
    max_restart_delay: 1
    operators:
      - id: a
        typescript: ./a.ts
        restart_delay: 2
      - id: b
        typescript: ./b.ts
        restart_delay: 3
`
  const errors = problemsIn(text)
  expectProblem(t, errors, {
    code: 'DORA_SPEC_INVALID_VALUE',
    text,
    needle: '1\n',
    nodeId: 'list',
    operatorId: 'a',
    says: ['`max_restart_delay` (1 s) is shorter than `restart_delay` (2 s)'],
  })
})

t.test('env merges with the node winning; durability, redeliveries and timeouts default', async (t) => {
  const spec = parseOk(
    `env: { A: global, B: global }
durability: power
health_check_interval: 500ms
state_dir: state
nodes:
  - id: n
    path: ./n.ts
    env: { B: node, C: 3 }
  - id: o
    env: { A: op-node }
    operator:
      typescript: ./o.ts
  - id: p
    operator:
      typescript: ./p.ts
      durability: process
      timeout: 250ms
`,
    '/tmp/flows/robot',
  )
  t.same(spec.env, { A: 'global', B: 'global' })
  t.same(
    spec.nodes.map((n) => n.env),
    [
      { A: 'global', B: 'node', C: '3' },
      { A: 'op-node', B: 'global' },
      { A: 'global', B: 'global' },
    ],
  )
  const [, o, p] = spec.nodes as [CustomNodeSpec, OperatorNodeSpec, OperatorNodeSpec]
  t.equal(o.operators[0]?.durability, 'power', 'the dataflow durability is the default')
  t.equal(o.operators[0]?.maxRedeliveries, 3)
  t.equal(o.operators[0]?.timeout, undefined)
  t.equal(p.operators[0]?.durability, 'process')
  t.equal(p.operators[0]?.timeout, 0.25)
  t.equal(spec.healthCheckInterval, 0.5)
  t.equal(spec.stateDir, '/tmp/flows/robot/state')
  t.equal(spec.durability, 'power')
})

t.test('kvs_namespace names the KVS pool; without it the spec leaves it to the dataflow name', async (t) => {
  const node = `nodes:\n  - id: n\n    path: ./n.ts\n`
  t.equal(parseOk(`kvs_namespace: shared-pool\n${node}`).kvsNamespace, 'shared-pool')
  t.equal(parseOk(node).kvsNamespace, undefined)
  const bad = `kvs_namespace: "${'x'.repeat(256)}"\n${node}`
  expectProblem(t, problemsIn(bad), { code: 'DORA_SPEC_INVALID_VALUE', text: bad, needle: '"xxx', says: ['`kvs_namespace` must be at most 255 UTF-8 bytes'] })
  const empty = `kvs_namespace: ""\n${node}`
  t.equal(problemsIn(empty)[0]?.code, 'DORA_SPEC_INVALID_VALUE')
})

t.test(
  '_unstable_direct_links is kept as written (unset: the default; false: everything through the supervisor); anything but a boolean is a problem naming the key',
  async (t) => {
    const node = `nodes:\n  - id: n\n    path: ./n.ts\n`
    t.equal(parseOk(`_unstable_direct_links: true\n${node}`).directLinks, true)
    t.equal(parseOk(`_unstable_direct_links: false\n${node}`).directLinks, false, 'false opts out of the default: kept')
    t.equal(parseOk(node).directLinks, undefined)
    const bad = `_unstable_direct_links: yes please\n${node}`
    const problem = problemsIn(bad)[0]
    t.equal(problem?.code, 'DORA_SPEC_INVALID_VALUE')
    t.match(problem?.message ?? '', /_unstable_direct_links[\s\S]*`true` or `false`/, problem?.message ?? 'no problem')
  },
)

t.test('state_map_size and kvs_map_size take bytes or a size with a unit; a bad one is a problem naming the key', async (t) => {
  const node = `nodes:\n  - id: n\n    path: ./n.ts\n`
  const spec = parseOk(`state_map_size: 4GiB\nkvs_map_size: 2097152\n${node}`)
  t.equal(spec.stateMapSize, 4 * 1024 ** 3)
  t.equal(spec.kvsMapSize, 2 * 1024 * 1024)
  t.equal(parseOk(`kvs_map_size: 1.5 MB\n${node}`).kvsMapSize, 1_500_000)
  t.equal(parseOk(node).stateMapSize, undefined)
  const bad = problemsIn(`kvs_map_size: lots\n${node}`)
  t.equal(bad[0]?.code, 'DORA_SPEC_INVALID_VALUE')
  t.match(bad[0]?.message, /kvs_map_size/)
  t.match(bad[0]?.hint, /2GiB/)
})
