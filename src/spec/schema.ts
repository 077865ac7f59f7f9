/**
 * The JSON Schema of the dataflow YAML, built from the key table in `keys.ts` (the same table
 * the validator uses). `dataflow.schema.json` at the repository root is this object written
 * out; a test keeps the file in sync.
 *
 * Editors use it for completion and hover docs: add
 * `# yaml-language-server: $schema=<path>/dataflow.schema.json` at the top of a dataflow.
 *
 * @module
 */

import { DURATION_PATTERN } from './duration.js'
import { DATA_ID_PATTERN, ID_PATTERN, INPUT_KEYS, NODE_KEYS, OPERATOR_KEYS, ROOT_KEYS, type JsonSchema, type KeyInfo } from './keys.js'

/** Stable `$id` of the schema. */
export const SCHEMA_ID = 'https://github.com/dora-ts/dora-ts/dataflow.schema.json'

/** A source pattern editors can check: timers, `node/output`, `node/operator/output`. */
export const SOURCE_PATTERN =
  '^(dora/timer/(secs|millis|micros|nanos)/[0-9]+|dora/timer/hz/([0-9]+(\\.[0-9]*)?|\\.[0-9]+)|(?!dora/)[^/\\s]+/[^/\\s]+(/[^/\\s]+)?)$'

function properties(table: Readonly<Record<string, KeyInfo>>): Record<string, JsonSchema> {
  const props: Record<string, JsonSchema> = {}
  for (const [key, info] of Object.entries(table)) {
    if (info.unsupported !== undefined) {
      // Listed so editors explain it, and marked so they flag it: dora-ts rejects it.
      props[key] = { description: `${info.description} Not supported by dora-ts yet: ${info.unsupported}`, deprecated: true, not: {} }
    } else {
      props[key] = { description: info.description, ...info.schema }
    }
  }
  return props
}

function object(table: Readonly<Record<string, KeyInfo>>, extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', additionalProperties: false, properties: properties(table), ...extra }
}

/**
 * The JSON Schema (draft 2020-12) of a dataflow YAML.
 *
 * @example
 * writeFileSync('dataflow.schema.json', JSON.stringify(buildDataflowSchema(), null, 2) + '\n')
 */
export function buildDataflowSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'dora-ts dataflow',
    description: 'A dora-ts dataflow: nodes (custom processes or TypeScript/JavaScript operators) and the inputs connecting them. Uses dora 1.0 key names.',
    ...object(ROOT_KEYS, { required: ['nodes'] }),
    $defs: {
      nodeId: { type: 'string', pattern: ID_PATTERN },
      dataId: { type: 'string', pattern: DATA_ID_PATTERN },
      duration: {
        description: 'Seconds as a number, or a string with a unit: ns, us, ms, s, m, h (e.g. "500ms").',
        oneOf: [
          { type: 'number', minimum: 0 },
          { type: 'string', pattern: DURATION_PATTERN },
        ],
      },
      byteSize: {
        description: 'Bytes as an integer, or a string with a unit: B, KiB, MiB, GiB, TiB, kB, MB, GB, TB (e.g. "2GiB").',
        oneOf: [
          { type: 'integer', minimum: 1 },
          { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgGtT]i?[bB])?\\s*$' },
        ],
      },
      durability: {
        enum: ['process', 'power'],
        description: '`process`: state survives a crash of the operator. `power`: it also survives power loss (synced to disk on every commit).',
      },
      env: {
        type: 'object',
        description: 'Variable name -> value (strings, numbers and booleans are passed as strings).',
        additionalProperties: { type: ['string', 'number', 'boolean'] },
      },
      source: { type: 'string', pattern: SOURCE_PATTERN },
      inputs: {
        type: ['object', 'null'],
        propertyNames: { pattern: DATA_ID_PATTERN },
        additionalProperties: {
          oneOf: [{ $ref: '#/$defs/source' }, object(INPUT_KEYS, { required: ['source'] })],
        },
      },
      outputs: { type: 'array', items: { $ref: '#/$defs/dataId' }, uniqueItems: true },
      node: object(NODE_KEYS, {
        required: ['id'],
        oneOf: [{ required: ['path'] }, { required: ['operator'] }, { required: ['operators'] }],
      }),
      operator: object(OPERATOR_KEYS, {
        oneOf: [{ required: ['typescript'] }, { required: ['javascript'] }],
      }),
      listedOperator: object(OPERATOR_KEYS, {
        required: ['id'],
        oneOf: [{ required: ['typescript'] }, { required: ['javascript'] }],
      }),
    },
  }
}
