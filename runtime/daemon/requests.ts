/**
 * The schema of every request the daemon answers: each field's type, which are required, and
 * nothing else allowed. A body that does not fit is refused with a {@link BadControlRequestError}
 * naming the field (never echoing a long or binary value back), before any of it is used; a
 * dataflow name must be an identifier, since it names folders of state and logs.
 *
 * @module
 */
import { constants } from 'node:os'
import { BadControlRequestError } from './errors.js'
import { checkName } from '../../src/security/names.js'
import { MAX_PUBLISH_BYTES } from '../supervisor/topic-publish.js'

type FieldType = 'string' | 'strings' | 'boolean' | 'duration' | 'count' | 'signal' | 'name' | 'payload'

interface Schema {
  required?: Record<string, FieldType>
  optional?: Record<string, FieldType>
}

const SCHEMAS: Record<string, Schema> = {
  ping: {},
  list: {},
  destroy: {},
  start: {
    required: { file: 'string' },
    optional: { name: 'name', stateDir: 'string', kvsDir: 'string', cleanState: 'boolean', graceMs: 'duration', stopAfterMs: 'duration' },
  },
  stop: { optional: { target: 'string', graceMs: 'duration', unit: 'string' } },
  kill: { required: { unit: 'string' }, optional: { target: 'string', signal: 'signal' } },
  restart: { optional: { target: 'string', unit: 'string', graceMs: 'duration' } },
  topics: { optional: { target: 'string' } },
  'topic-info': { required: { topics: 'strings' }, optional: { target: 'string' } },
  tap: { required: { topics: 'strings' }, optional: { target: 'string', previewBytes: 'count' } },
  'topic-pub': { required: { topic: 'string', data: 'payload', encoding: 'string' }, optional: { target: 'string' } },
  'tap-read': { required: { tap: 'string' } },
  'tap-close': { required: { tap: 'string' } },
}

/** Longest `payload` field: {@link MAX_PUBLISH_BYTES} in base64. */
const MAX_PAYLOAD_CHARS = Math.ceil(MAX_PUBLISH_BYTES / 3) * 4

/** Most strings a `strings` field holds. */
const MAX_STRINGS = 256

/** Longest string field we take (paths included). */
const MAX_STRING = 4096

const HINT = 'The CLI and the supervisor may be different dora-ts versions: run dora-ts destroy, then dora-ts up.'

function problem(command: string, field: string, type: FieldType, value: unknown): string | undefined {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') return 'must be a string'
      if (value.length > MAX_STRING) return `is longer than ${MAX_STRING} characters`
      if (value.includes('\0')) return 'contains a NUL character'
      return undefined
    case 'strings':
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_STRINGS) return `must be a list of 1 to ${MAX_STRINGS} strings`
      for (const item of value as unknown[]) {
        const why = problem(command, field, 'string', item)
        if (why !== undefined) return `has an item that ${why}`
      }
      return undefined
    case 'payload':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return 'must be bytes in base64'
      return value.length > MAX_PAYLOAD_CHARS ? `holds more than ${MAX_PUBLISH_BYTES} bytes` : undefined
    case 'count':
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 2 ** 31 ? undefined : 'must be a whole number'
    case 'name':
      if (typeof value !== 'string') return 'must be a string'
      checkName(value, { what: `the ${command} request's ${field}` })
      return undefined
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false'
    case 'duration':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 2 ** 31 ? undefined : 'must be a number of milliseconds'
    case 'signal':
      return typeof value === 'string' && Object.hasOwn(constants.signals, value) ? undefined : 'must be a signal name such as SIGKILL'
  }
}

/**
 * `args` checked against the schema of `command` (unknown commands pass, to be refused by the
 * dispatcher with its own message). Throws {@link BadControlRequestError}.
 */
export function checkDaemonRequest(command: string, args: Record<string, unknown>): Record<string, unknown> {
  const schema = SCHEMAS[command]
  if (schema === undefined) return args
  const fields = { ...schema.required, ...schema.optional }
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(fields, key)) {
      throw new BadControlRequestError(`the "${command}" request has an unknown field (${JSON.stringify(key.slice(0, 40))})`, { hint: HINT })
    }
  }
  for (const [field, type] of Object.entries(fields)) {
    const value = args[field]
    if (value === undefined || value === null) {
      if (schema.required !== undefined && Object.hasOwn(schema.required, field)) {
        throw new BadControlRequestError(`the "${command}" request lacks its "${field}" field`, { hint: HINT })
      }
      continue
    }
    const why = problem(command, field, type, value)
    if (why !== undefined) throw new BadControlRequestError(`the "${field}" field of the "${command}" request ${why}`, { hint: HINT })
  }
  return args
}
