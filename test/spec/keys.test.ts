import t from 'tap'
import { stringify } from 'yaml'
import { INPUT_KEYS, KEY_TABLES, NODE_KEYS, OPERATOR_KEYS, ROOT_KEYS, supportedKeys, type KeyInfo } from '../../src/spec/keys.js'
import { parseOk, problemsIn } from './fixtures/expect.js'

/**
 * A valid value for every supported key. Adding a key to the table without a sample here
 * fails the first test, so every key the schema offers is proven to pass the validator.
 */
const SAMPLES: Record<keyof typeof KEY_TABLES, Record<string, unknown>> = {
  root: {
    name: 'flow',
    nodes: 'filled in below',
    env: { A: 1 },
    exit_when_nodes_finish: ['custom'],
    health_check_interval: '2s',
    state_dir: './state',
    durability: 'power',
    kvs_namespace: 'shared-pool',
    state_map_size: '2GiB',
    kvs_map_size: 4194304,
    max_message_size: '16MiB',
    _unstable_direct_links: true,
  },
  node: {
    id: 'custom',
    name: 'Custom',
    description: 'A custom node',
    path: './custom.ts',
    args: '--x 1',
    env: { B: true },
    inputs: { tick: 'dora/timer/millis/5' },
    outputs: ['out'],
    operator: 'tested at the operator level',
    operators: 'tested at the operator level',
    restart_policy: 'always',
    max_restarts: 2,
    restart_delay: 0.2,
    max_restart_delay: '3s',
    restart_window: 60,
    health_check_timeout: '1m',
    connect_timeout: '30s',
    oom_score_adj: 500,
    max_memory_mb: 512,
    build: 'npm ci',
  },
  operator: {
    id: 'op',
    name: 'Op',
    description: 'An operator',
    typescript: './op.ts',
    javascript: 'tested as the alternative to typescript',
    inputs: { x: 'custom/out' },
    outputs: ['y'],
    timeout: '250ms',
    max_redeliveries: 1,
    max_memory_mb: 256,
    durability: 'process',
    restart_policy: 'never',
    max_restarts: 1,
    restart_delay: 1,
    max_restart_delay: 2,
    restart_window: '10s',
    health_check_timeout: 3,
  },
  input: {
    source: 'custom/out',
    queue_size: 3,
    queue_policy: 'backpressure',
    input_timeout: '1.5s',
    reliability: 'reliable',
  },
}

const tables = KEY_TABLES as Record<keyof typeof KEY_TABLES, Readonly<Record<string, KeyInfo>>>

t.test('every supported key has a sample and every key a description', async (t) => {
  for (const [level, table] of Object.entries(tables) as Array<[keyof typeof KEY_TABLES, Readonly<Record<string, KeyInfo>>]>) {
    t.same(Object.keys(SAMPLES[level]).sort(), supportedKeys(table).sort(), `${level} samples cover the supported keys`)
    for (const [key, info] of Object.entries(table)) t.ok(info.description.length > 10, `${level}.${key} has a description`)
  }
})

t.test('the validator accepts every supported key of the table with a valid value', async (t) => {
  const pick = (level: keyof typeof KEY_TABLES, skip: string[]) => Object.fromEntries(Object.entries(SAMPLES[level]).filter(([k]) => !skip.includes(k)))
  const input = pick('input', [])
  const operator = pick('operator', ['javascript'])
  const doc = {
    ...pick('root', []),
    nodes: [
      { ...pick('node', ['operator', 'operators']), inputs: { tick: 'dora/timer/millis/5', long: input } },
      {
        ...pick('node', ['path', 'args', 'inputs', 'outputs', 'operators', 'connect_timeout', 'oom_score_adj', 'max_memory_mb']),
        id: 'single',
        operator: { ...operator, inputs: { x: input } },
      },
      {
        ...pick('node', ['path', 'args', 'inputs', 'outputs', 'operator', 'connect_timeout', 'oom_score_adj', 'max_memory_mb']),
        id: 'list',
        operators: [operator, { ...operator, id: 'js', typescript: undefined, javascript: './op.js' }],
      },
    ],
  }
  const text = stringify(doc)
  const spec = parseOk(text)
  t.equal(spec.nodes.length, 3, text)
})

t.test('the validator rejects keys outside the table and flags unsupported ones', async (t) => {
  const base = 'nodes:\n  - id: n\n    path: ./n.ts\n'
  const levels: Array<[string, Readonly<Record<string, KeyInfo>>, (key: string) => string]> = [
    ['dataflow', ROOT_KEYS, (key) => `${base}${key}: 1\n`],
    ['node', NODE_KEYS, (key) => `${base}    ${key}: 1\n`],
    ['operator', OPERATOR_KEYS, (key) => `nodes:\n  - id: n\n    operator:\n      typescript: ./o.ts\n      ${key}: 1\n`],
    ['input', INPUT_KEYS, (key) => `${base}    inputs:\n      x: { source: dora/timer/secs/1, ${key}: 1 }\n`],
  ]
  for (const [level, table, yaml] of levels) {
    const unknown = problemsIn(yaml('surely_not_a_key'))
    t.equal(unknown[0]?.code, 'DORA_SPEC_UNKNOWN_KEY', `${level}: unknown key`)
    t.match(unknown[0]?.message, `unknown ${level} key`)
    for (const [key, info] of Object.entries(table)) {
      if (info.unsupported === undefined) continue
      const errors = problemsIn(yaml(key))
      t.equal(errors[0]?.code, 'DORA_SPEC_NOT_SUPPORTED', `${level}.${key}`)
      t.equal(errors[0]?.hint, info.unsupported, `${level}.${key} hint`)
    }
  }
})
